"""Global settings a Keras user reaches through `keras.config` / `keras.backend`."""

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"

_FLOAT_TYPES = ("float16", "bfloat16", "float32", "float64")


def backend() -> str:
    """Name of the engine underneath: always `"torch"`, so code that asks works."""
    return "torch"


def floatx() -> str:
    """Default float dtype of new weights and converted inputs. Defaults to `"float32"`."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype (`"float32"`, `"float64"`, ...)."""
    global _FLOATX
    if value not in _FLOAT_TYPES:
        raise ValueError(f"set_floatx expects one of {_FLOAT_TYPES}; got {value!r}.")
    _FLOATX = value


def epsilon() -> float:
    """Fuzz factor used by losses and optimizers. Defaults to `1e-7`, as in Keras."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor used by losses and optimizers."""
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """Default image layout: `"channels_last"` (`(batch, H, W, C)`), as in Keras."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default image layout: `"channels_last"` or `"channels_first"`."""
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "set_image_data_format expects 'channels_last' or 'channels_first'; "
            f"got {data_format!r}."
        )
    _IMAGE_DATA_FORMAT = data_format
