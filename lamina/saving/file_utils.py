"""Writing files so that a crash never leaves a torn one: temp file, fsync, rename."""

import contextlib
import functools
import os
import shutil
import tempfile
import threading

_UMASK_LOCK = threading.Lock()
_UMASK = []


def _default_file_mode() -> int:
    """The mode `open(path, "w")` would give a new file (0o666 minus the umask)."""
    with _UMASK_LOCK:
        if not _UMASK:
            umask = os.umask(0o022)
            os.umask(umask)
            _UMASK.append(umask)
    return 0o666 & ~_UMASK[0]


def default_dir_mode() -> int:
    """The mode `os.mkdir(path)` would give a new folder (0o777 minus the umask)."""
    _default_file_mode()
    return 0o777 & ~_UMASK[0]


# Sharded (FSDP) tensors this process has gathered whole to save them.
_GATHERS = [0]


def whole(tensor):
    """`tensor` itself, or gathered whole if it is sharded (FSDP). Every rank
    takes part in the gather, so every rank is inside the same save, and the
    save (`waits_for_rank_zero`) then waits for rank 0's file before any rank
    goes on."""
    if hasattr(tensor, "full_tensor"):
        _GATHERS[0] += 1
        return tensor.full_tensor()
    return tensor


def waits_for_rank_zero(save):
    """`save`, which after gathering sharded tensors (on every rank) waits until
    rank 0's file is in place: a rank that reads the file right after its own
    save returns sees all of it (before, it needed a barrier of its own). A
    save that gathered nothing (a plain model, maybe saved by rank 0 alone)
    returns at once."""

    @functools.wraps(save)
    def saving(*args, **kwargs):
        before = _GATHERS[0]
        result = save(*args, **kwargs)
        if _GATHERS[0] != before:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                dist.barrier()
        return result

    return saving


class MissingFileError(FileNotFoundError, ValueError):
    """A file to load does not exist. Keras raises `ValueError` here, Python
    code expects `FileNotFoundError`; this is both, so either `except` works."""


def check_overwrite(filepath, overwrite: bool, what: str) -> None:
    """Refuse to replace an existing file when `overwrite=False`."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"{what}: {os.fspath(filepath)!r} already exists and overwrite=False. "
            "Pass overwrite=True to replace it, or choose another path."
        )


def _fsync_path(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and directories on some OSes) refuse fsync
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(filepath):
    """Yield a temporary path next to `filepath`; on success move it into place.

    The temporary file lives in the same folder (so the final `os.replace` is an
    atomic rename on the same file system), is flushed to disk with `fsync`
    before the rename, and is removed if anything fails. Whatever happens, a
    reader of `filepath` sees either the old file or the complete new one.
    """
    filepath = os.path.abspath(os.fspath(filepath))
    from lamina.distribution import is_primary

    if not is_primary():
        # Distributed runs: every rank takes part in gathering sharded weights,
        # only rank 0 writes the file; the others write to a scratch file.
        scratch = tempfile.mkdtemp(prefix="lamina-rank-scratch-")
        try:
            yield os.path.join(scratch, os.path.basename(filepath))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    folder = os.path.dirname(filepath)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"Cannot write {filepath!r}: the folder {folder!r} does not exist. "
            "Create it first (os.makedirs)."
        )
    if os.path.isdir(filepath):
        raise IsADirectoryError(
            f"Cannot write {filepath!r}: a directory of that name exists."
        )
    fd, tmp_path = tempfile.mkstemp(
        prefix="." + os.path.basename(filepath) + ".", suffix=".tmp", dir=folder
    )
    os.close(fd)
    try:
        yield tmp_path
        os.chmod(tmp_path, _default_file_mode())
        _fsync_path(tmp_path)
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise
    if os.name == "posix":
        _fsync_path(folder)
