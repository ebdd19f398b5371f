"""Dtype names as Keras spells them, mapped to and from torch dtypes."""

import functools

import numpy as np
import torch

from lamina.backend import config

_BY_NAME = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "uint8": torch.uint8,
    "uint16": torch.uint16,
    "uint32": torch.uint32,
    "uint64": torch.uint64,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
    # Storage types (`ops.cast`, float8 training); no arithmetic promotes to
    # or from them (see `result_type`).
    "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
}
_FLOAT8 = ("float8_e4m3fn", "float8_e5m2")
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32"}
_BY_TORCH = {v: k for k, v in _BY_NAME.items()}


def standardize_dtype(dtype) -> str:
    """Keras name of `dtype` (a string, torch dtype, NumPy dtype or Python type)."""
    if dtype is None:
        return config.floatx()
    if isinstance(dtype, torch.dtype):
        return _BY_TORCH[dtype]
    if dtype is float:
        return "float32"
    if dtype is int:
        return "int32"  # as Keras 3 on torch (and JAX): Python ints are int32
    if dtype is bool:
        return "bool"
    if isinstance(dtype, np.dtype) and dtype.kind in "US":
        return "string"
    if dtype in (str, np.str_, np.bytes_):
        return "string"
    if hasattr(dtype, "name") and not isinstance(dtype, str):
        dtype = dtype.name  # DTypePolicy or NumPy dtype
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        dtype = np.dtype(dtype).name
    name = _ALIASES.get(str(dtype), str(dtype))
    if name.startswith("torch."):
        name = name[len("torch.") :]
    if name not in _BY_NAME and name != "string":
        raise ValueError(
            f"Unknown dtype {dtype!r}. Expected one of {sorted(_BY_NAME)} or 'string'."
        )
    return name


def is_string_array(value) -> bool:
    """True for a NumPy array of text (str, bytes, or objects that are str)."""
    if not isinstance(value, np.ndarray):
        return False
    if value.dtype.kind in "US":
        return True
    return (
        value.dtype == object
        and value.size > 0
        and isinstance(value.flat[0], (str, bytes))
    )


def to_torch_dtype(dtype) -> torch.dtype:
    """torch dtype for any dtype spelling `standardize_dtype` accepts."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = standardize_dtype(dtype)
    if name == "string":
        raise ValueError(
            "torch tensors cannot hold strings (dtype 'string'): text stays in "
            "NumPy arrays until a layer such as TextVectorization, StringLookup "
            "or Hashing turns it into numbers."
        )
    return _BY_NAME[name]


def is_float_dtype(dtype) -> bool:
    """True for float16, bfloat16, float32 and float64 (any spelling)."""
    return standardize_dtype(dtype) in ("float16", "bfloat16", "float32", "float64")


# --- result_type: Keras 3's dtype promotion ----------------------------------
# Keras promotes on JAX's type lattice: each dtype points at the dtypes just
# above it, and a set of dtypes promotes to its least upper bound. "int" and
# "float" are the weak types of Python numbers, which give way to any typed
# operand of their kind (int8 + 1 stays int8). Unlike torch.promote_types,
# which lamina's ops use, mixed signed/unsigned integers promote (uint8 + int8
# -> int16, uint64 + int64 -> float) and every 64-bit result is narrowed to 32
# bits, as Keras does on its torch and JAX backends.
_LATTICE = {
    "bool": ("int",),
    "int": ("uint8", "int8", "complex64"),
    "uint8": ("uint16", "int16"),
    "uint16": ("uint32", "int32"),
    "uint32": ("uint64", "int64"),
    "uint64": ("float",),
    "int8": ("int16",),
    "int16": ("int32",),
    "int32": ("int64",),
    "int64": ("float",),
    "float": ("bfloat16", "float16"),
    "bfloat16": ("float32",),
    "float16": ("float32",),
    "float32": ("float64", "complex64"),
    "float64": ("complex128",),
    "complex64": ("complex128",),
    "complex128": (),
}
_NARROW_64 = {
    "int64": "int32",
    "uint64": "uint32",
    "float64": "float32",
    "complex128": "complex64",
}


@functools.cache
def _at_or_above(node: str) -> frozenset:
    """`node` and every dtype it can be promoted to."""
    above = {node}
    for parent in _LATTICE[node]:
        above |= _at_or_above(parent)
    return frozenset(above)


def _least_upper_bound(nodes) -> str:
    common = frozenset.intersection(*(_at_or_above(n) for n in nodes))
    # The least bound is the one member of `common` that all of `common` is
    # above; the lattice is built so that it exists and is unique.
    least = [c for c in common if _at_or_above(c) == common]
    if len(least) != 1:
        raise ValueError(
            f"result_type: dtypes {sorted(nodes)} have no common dtype to promote "
            "to. Cast the inputs to one dtype explicitly."
        )
    return least[0]


def _weak_kind(dtype: str) -> str:
    return "float" if dtype.startswith(("float", "bfloat")) else "int"


def result_type(*dtypes) -> str:
    """The dtype Keras promotes a mix of `dtypes` to.

    Args:
        *dtypes: Dtypes in any spelling `standardize_dtype` accepts, `None`
            (meaning `floatx()`), or the Python types `int` and `float`, which
            are weak: they take the other operands' precision
            (`result_type("int8", int)` is `"int8"`).

    Returns:
        A Keras dtype name. With no arguments, `floatx()`. 64-bit results are
        narrowed to 32 bits (`result_type("float64")` is `"float32"`), as in
        Keras 3 on its torch backend.

    Raises:
        ValueError: An unknown dtype, or a float8 dtype (cast it first).

    Example:
    >>> lamina.backend.result_type("int32", "float16")
    'float16'
    >>> lamina.backend.result_type("uint8", "int8")
    'int16'
    """
    if not dtypes:
        return config.floatx()
    names, weak = [], []
    for dtype in dtypes:
        is_weak = dtype is int or dtype is float
        if is_weak:
            names.append("int32" if dtype is int else "float32")
        else:
            names.append(standardize_dtype(config.floatx() if dtype is None else dtype))
            if names[-1] in _FLOAT8:
                # Keras: float8 values must be cast explicitly.
                raise ValueError(
                    "result_type: There is no implicit conversions from float8 "
                    f"dtypes to others; got dtypes {dtypes}. Cast float8 values "
                    "with ops.cast first."
                )
        weak.append(is_weak)
    if len(names) == 1:
        out, out_weak = names[0], weak[0]
    elif len(set(names)) == 1 and not all(weak):
        out, out_weak = names[0], False
    elif all(weak):
        out, out_weak = _least_upper_bound(set(names)), True
    else:
        nodes = {_weak_kind(n) if w else n for n, w in zip(names, weak)}
        out = _least_upper_bound(nodes)
        out_weak = out in ("int", "float")
    if out_weak:
        # Keras: a weak result takes floatx()'s width, for ints too (so under
        # floatx "float16", `result_type(int)` is "int16").
        bits = config.floatx()[-2:]
        out = f"int{bits}" if out.startswith("int") else f"float{bits}"
    return _NARROW_64.get(out, out)
