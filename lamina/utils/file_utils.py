"""get_file: download a file once into Keras's cache folder, then reuse it.

The cache is Keras's own: `$KERAS_HOME/<cache_subdir>` or `~/.keras/datasets`,
so files a user already downloaded with Keras are found and reused. Downloads
stream into a temporary file beside the target, are checked against the
expected hash, and only then renamed into place (atomic: an interrupted
download never leaves a half file under the final name).
"""

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from lamina.utils.progbar import Progbar

# Seconds a connection attempt or a single read may block; an unreachable host
# fails after this instead of hanging.
_DOWNLOAD_TIMEOUT = 30.0
_CHUNK_SIZE = 1 << 16


def keras_home() -> str:
    """The cache root: `$KERAS_HOME` if set, else `~/.keras` (read at each call)."""
    return os.path.expanduser(
        os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    )


def _cache_root(cache_dir) -> str:
    root = os.path.expanduser(os.fspath(cache_dir)) if cache_dir else keras_home()
    # Keras: an unwritable home falls back to a cache under the temp folder.
    if os.path.isdir(root) and not os.access(root, os.W_OK):
        root = os.path.join(tempfile.gettempdir(), ".keras")
    return root


def resolve_hasher(algorithm: str = "auto", file_hash=None):
    """A hashlib object: sha256 for `"sha256"` (or `"auto"` with a 64-digit
    hash), md5 otherwise, as Keras decides."""
    if algorithm == "sha256" or (
        algorithm == "auto" and file_hash is not None and len(file_hash) == 64
    ):
        return hashlib.sha256()
    if algorithm in ("auto", "md5"):
        return hashlib.md5()
    raise ValueError(
        "get_file expects `hash_algorithm` to be 'auto', 'sha256' or 'md5'; got "
        f"hash_algorithm={algorithm!r}."
    )


def hash_file(fpath, algorithm: str = "sha256", chunk_size: int = 65535) -> str:
    """The hex digest of the file at `fpath` (`"sha256"` or `"md5"`)."""
    hasher = resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash: str, algorithm: str = "auto") -> bool:
    """Whether the file at `fpath` has the hex digest `file_hash`."""
    hasher = resolve_hasher(algorithm, file_hash)
    return hash_file(fpath, hasher) == str(file_hash)


def _extract_archive(file_path: str, path: str, archive_format="auto") -> bool:
    """Unpack a tar or zip archive into `path`; False if it is neither."""
    if archive_format is None:
        return False
    if archive_format == "auto":
        archive_format = ["tar", "zip"]
    if isinstance(archive_format, str):
        archive_format = [archive_format]
    for kind in archive_format:
        if kind == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                # The "data" filter refuses absolute paths, `..` and links that
                # leave `path` (Python >= 3.11.4); older Pythons check by hand.
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(path, filter="data")
                else:
                    _check_members(path, [m.name for m in archive.getmembers()])
                    archive.extractall(path)
            return True
        if kind == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                _check_members(path, archive.namelist())
                archive.extractall(path)
            return True
        if kind not in ("tar", "zip"):
            raise ValueError(
                "get_file expects `archive_format` to be 'auto', 'tar', 'zip', a "
                f"list of those, or None; got {kind!r}."
            )
    return False


def _check_members(path: str, names) -> None:
    base = os.path.realpath(path)
    for name in names:
        target = os.path.realpath(os.path.join(base, name))
        if os.path.commonpath([base, target]) != base:
            raise ValueError(
                f"Refusing to extract archive member {name!r}: it would be written "
                f"outside the extraction folder {path!r}."
            )


def _offline_message(fname, origin, target, relative, reason) -> str:
    return (
        f"get_file could not download {fname!r} from {origin} ({reason}). lamina "
        f"looks for this file at:\n\n    {target}\n\nIf this machine is offline, "
        "download the file on another machine (or copy it from a Keras cache, "
        "~/.keras/datasets/), put it at that path, and call again; or set the "
        "KERAS_HOME environment variable to a folder that holds "
        f"{relative}."
    )


def _download(origin: str, target: str, fname: str, relative: str) -> None:
    """Stream `origin` into a temp file beside `target`, with a progress bar."""
    folder = os.path.dirname(target)
    sys.stdout.write(f"Downloading data from {origin}\n")
    fd, partial = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", dir=folder)
    try:
        try:
            response = urllib.request.urlopen(origin, timeout=_DOWNLOAD_TIMEOUT)
        except urllib.error.HTTPError as e:
            raise ConnectionError(
                _offline_message(
                    fname, origin, target, relative, f"HTTP {e.code} {e.reason}"
                )
            ) from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ConnectionError(
                _offline_message(fname, origin, target, relative, f"{reason}")
            ) from e
        with response, os.fdopen(fd, "wb") as out:
            fd = None
            size = response.headers.get("Content-Length")
            bar = Progbar(int(size) if size else None, unit_name="byte")
            done = 0
            for chunk in iter(lambda: response.read(_CHUNK_SIZE), b""):
                out.write(chunk)
                done += len(chunk)
                bar.update(done)
            if size is None:
                bar.update(done, finalize=True)
    except BaseException:
        if fd is not None:
            os.close(fd)
        if os.path.exists(partial):
            os.remove(partial)
        raise
    os.replace(partial, target)


def get_file(
    fname=None,
    origin=None,
    untar: bool = False,
    md5_hash=None,
    file_hash=None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format="auto",
    cache_dir=None,
    force_download: bool = False,
) -> str:
    """Download `origin` into the Keras cache unless it is already there.

    Args:
        fname: File name in the cache. Defaults to the last part of `origin`'s
            path. With `extract=True`, a name without a dot names the
            extraction folder (the archive is kept as `<fname>_archive`); a
            name with a dot names the archive, extracted to
            `<stem>_extracted`.
        origin: URL of the file (`https://...`, or `file://...`).
        untar: Deprecated alias of `extract=True` with `archive_format="tar"`.
        md5_hash: Deprecated; same as `file_hash` with `hash_algorithm="md5"`.
        file_hash: Expected sha256 or md5 hex digest. A cached file that does
            not match is downloaded again; a download that does not match
            raises `ValueError`.
        cache_subdir: Sub-folder of the cache root. Defaults to `"datasets"`.
        hash_algorithm: `"auto"` (sha256 for 64 hex digits, else md5),
            `"sha256"` or `"md5"`.
        extract: Whether to unpack a tar or zip archive.
        archive_format: `"auto"`, `"tar"`, `"zip"`, a list of those, or None.
        cache_dir: Cache root. Defaults to `$KERAS_HOME` or `~/.keras`.
        force_download: Download even when a cached copy exists.

    Returns:
        The path of the cached file (or of the extraction folder).

    Raises:
        ConnectionError: The file is not cached and cannot be downloaded; the
            message says where to put it by hand.
        ValueError: A downloaded file does not match `file_hash`.

    Example:
    >>> import os, tempfile
    >>> cache = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(cache, "datasets"))
    >>> with open(os.path.join(cache, "datasets", "data.txt"), "w") as f:
    ...     _ = f.write("hello")
    >>> path = lamina.utils.get_file(
    ...     "data.txt", origin="https://example.com/data.txt", cache_dir=cache)
    >>> with open(path) as f:
    ...     f.read()
    'hello'
    """
    if origin is None:
        raise ValueError(
            "get_file needs `origin`, the URL of the file to download; got origin=None."
        )
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(_cache_root(cache_dir), cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    given_name = fname is not None and os.fspath(fname) != ""
    fname = os.fspath(fname) if given_name else ""
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(
                f"get_file cannot take a file name from origin={origin!r}; pass "
                "`fname`."
            )
    elif os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(
            "get_file expects `fname` to be a bare file name; put the folder in "
            f"`cache_dir` (or `cache_subdir`). Got fname={fname!r}."
        )

    # Keras's layout for archives (files a user downloaded with Keras are reused).
    extraction_dir = None
    if extract or untar:
        if given_name and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(
                datadir, f"{fname[: fname.find('.')]}_extracted"
            )
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None:
        # Keras: a cached file with the wrong hash is fetched again.
        download = not validate_file(target, file_hash, hash_algorithm)
    if download and not force_download and extraction_dir is not None:
        # Offline-friendly: an archive already unpacked (and since removed) is
        # still used.
        if os.path.isdir(extraction_dir) and os.listdir(extraction_dir):
            return extraction_dir

    if download:
        relative = os.path.join(cache_subdir, os.path.basename(target))
        _download(origin, target, fname, relative)
        if file_hash is not None and not validate_file(
            target, file_hash, hash_algorithm
        ):
            os.remove(target)
            raise ValueError(
                f"Incomplete or corrupted file: get_file downloaded {fname!r} "
                f"from {origin}, but its "
                f"{resolve_hasher(hash_algorithm, file_hash).name} hash does not "
                f"match {file_hash}; the file was removed. Try again, or check "
                "the URL and the hash."
            )

    if extraction_dir is not None:
        if download or not os.path.isdir(extraction_dir):
            if os.path.isdir(extraction_dir):
                shutil.rmtree(extraction_dir)
            if not _extract_archive(
                target, extraction_dir, "tar" if untar else archive_format
            ):
                raise ValueError(
                    f"get_file could not extract {target!r}: it is not a "
                    f"{archive_format!r} archive."
                )
        return extraction_dir
    return target
