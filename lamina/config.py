"""lamina.config: Keras 3's `keras.config`, the global settings in one place.

Most names are the same functions found elsewhere in lamina (`backend.floatx`,
`mixed_precision.set_global_policy`, `utils.disable_interactive_logging`);
this module gathers them under Keras's names. Settings that only make sense for
another Keras backend are accepted and recorded, and say so.
"""

import os

from lamina.backend.config import (
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from lamina.mixed_precision import global_policy as dtype_policy
from lamina.mixed_precision import set_global_policy as set_dtype_policy
from lamina.saving.serialization_lib import enable_unsafe_deserialization
from lamina.utils.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)


def _limit_from_env(name):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(
            f"The environment variable {name} must be a positive int; got {value!r}."
        ) from None
    return _check_limit(name, limit)


def _check_limit(name, limit):
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"{name} must be a positive int or None; got {limit!r}.")
    return limit


_MAX_EPOCHS = _limit_from_env("KERAS_MAX_EPOCHS")
_MAX_STEPS_PER_EPOCH = _limit_from_env("KERAS_MAX_STEPS_PER_EPOCH")
_FLASH_ATTENTION = None
_TRACEBACK_FILTERING = True


def backend() -> str:
    """The engine underneath: always `"torch"`."""
    return "torch"


def set_backend(backend: str) -> None:
    """Keras switches engines here; lamina is built on PyTorch only, so
    `"torch"` is accepted and anything else is an error."""
    if backend != "torch":
        raise ValueError(
            f"lamina runs on PyTorch only; set_backend({backend!r}) cannot switch "
            "to another engine. Use the `keras` package for JAX or TensorFlow."
        )


def max_epochs():
    """The cap on `epochs` of every `fit()`, or None (no cap)."""
    return _MAX_EPOCHS


def set_max_epochs(max_epochs) -> None:
    """Cap `epochs` in every `fit()` (`None` removes the cap), for a quick run
    of a script without editing it; also read from `KERAS_MAX_EPOCHS`.

    Example:
    >>> lamina.config.set_max_epochs(2)
    >>> lamina.config.max_epochs()
    2
    >>> lamina.config.set_max_epochs(None)
    """
    global _MAX_EPOCHS
    _MAX_EPOCHS = _check_limit("max_epochs", max_epochs)


def max_steps_per_epoch():
    """The cap on the steps of every epoch of `fit()`, or None (no cap)."""
    return _MAX_STEPS_PER_EPOCH


def set_max_steps_per_epoch(max_steps_per_epoch) -> None:
    """Cap the steps of every epoch in `fit()` (`None` removes the cap); also
    read from `KERAS_MAX_STEPS_PER_EPOCH`. As with `steps_per_epoch`, the next
    epoch goes on where the last one stopped."""
    global _MAX_STEPS_PER_EPOCH
    _MAX_STEPS_PER_EPOCH = _check_limit("max_steps_per_epoch", max_steps_per_epoch)


def enable_flash_attention() -> None:
    """Recorded for Keras compatibility. lamina's attention runs on torch's
    `scaled_dot_product_attention`, which picks flash attention by itself
    where the device, dtype and shapes allow it."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = True


def disable_flash_attention() -> None:
    """Recorded for Keras compatibility; see `enable_flash_attention`."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = False


def is_flash_attention_enabled():
    """What `enable_flash_attention` / `disable_flash_attention` last set, or
    None (torch decides, the default)."""
    return _FLASH_ATTENTION


def enable_traceback_filtering() -> None:
    """Recorded for Keras compatibility: lamina never hides frames from a
    traceback, so errors always show the whole stack."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = True


def disable_traceback_filtering() -> None:
    """Recorded for Keras compatibility; see `enable_traceback_filtering`."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = False


def is_traceback_filtering_enabled() -> bool:
    """What the traceback-filtering switches last set (True by default)."""
    return _TRACEBACK_FILTERING


def is_nnx_enabled() -> bool:
    """Flax NNX is a JAX feature: always False here."""
    return False


__all__ = [
    "backend",
    "disable_flash_attention",
    "disable_interactive_logging",
    "disable_traceback_filtering",
    "dtype_policy",
    "enable_flash_attention",
    "enable_interactive_logging",
    "enable_traceback_filtering",
    "enable_unsafe_deserialization",
    "epsilon",
    "floatx",
    "image_data_format",
    "is_flash_attention_enabled",
    "is_interactive_logging_enabled",
    "is_nnx_enabled",
    "is_traceback_filtering_enabled",
    "max_epochs",
    "max_steps_per_epoch",
    "set_backend",
    "set_dtype_policy",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "set_max_epochs",
    "set_max_steps_per_epoch",
]
