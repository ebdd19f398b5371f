"""Helpers shared by the callbacks that print, write files or read batch logs."""

import collections.abc
import os

import numpy as np
import torch


def print_msg(message: str) -> None:
    """Write one line to stdout, or to the `"lamina"` logger after
    `lamina.utils.disable_interactive_logging()`, as Keras's
    `io_utils.print_msg` does."""
    from lamina.utils import io_utils

    io_utils.print_msg(message)


def is_chief() -> bool:
    """Whether this process writes files and event logs: rank 0 of a distributed
    run (so each checkpoint, CSV row and event is written once), else True."""
    from lamina.distribution import is_primary

    return is_primary()


def logs_to_floats(logs) -> dict:
    """A `{name: float}` copy of `logs`, reading device tensors in one transfer.

    Batch logs are 0-d tensors still on the device; stacking them first makes
    one host sync instead of one per value. Values that are not scalars (for
    example, a prediction batch) are left out.
    """
    if not isinstance(logs, collections.abc.Mapping) or not logs:
        return {}
    names, tensors, result = [], [], {}
    for name, value in logs.items():
        if isinstance(value, torch.Tensor):
            if value.numel() == 1:
                names.append(name)
                tensors.append(value.detach().reshape(()).float())
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            result[name] = float(value)
        elif isinstance(value, np.ndarray) and value.size == 1:
            result[name] = float(value.reshape(()))
    if tensors:
        result.update(zip(names, torch.stack(tensors).tolist()))
    return {name: result[name] for name in logs if name in result}


def atomic_write(path: str, write, keep_previous: str | None = None) -> None:
    """Call `write(temp_path)`, then move the file onto `path` in one rename
    (`lamina.saving.file_utils.atomic_write`): a crash, even `kill -9`, leaves the
    old file or the new one, never a torn one. With `keep_previous`, the old file
    is first moved there (a crash between the two renames leaves only that one).
    """
    from lamina.saving import file_utils

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with file_utils.atomic_write(path) as temp_path:
        write(temp_path)
        if keep_previous is not None and os.path.exists(path):
            os.replace(path, keep_previous)


def check_writable_directory(directory: str, who: str) -> None:
    """Create `directory` if needed and raise a clear error if it is not writable.

    Called when training begins, so a bad path fails before the first epoch
    instead of after it.
    """
    directory = directory or "."
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise PermissionError(
            f"{who} cannot create the directory {directory!r} ({error}). Pass a "
            "path in a directory you can write to."
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(
            f"{who} cannot write to the directory {directory!r}. Pass a path in "
            "a directory you can write to, or fix its permissions."
        )
