"""The one dispatch point every public `lamina.ops` function goes through.

`op(fn)` wraps an op so that, before the eager torch code runs, a symbolic-tensor
handler (installed later by the functional API) may claim the call: it gets
`(fn, args, kwargs)` and returns `NotImplemented` when no argument is symbolic.
With no handler installed the check is one global lookup and one comparison
(about 2 ns); the wrapper as a whole adds about 80 ns per call (150 ns with
keyword arguments) over calling the function directly, the price of any Python
`*args, **kwargs` wrapper (measured with timeit on the development CPU).
"""

import functools

# Installed by the functional API: `handler(fn, args, kwargs)` -> result, or
# `NotImplemented` when none of the arguments is symbolic.
_symbolic_handler = None


def op(fn=None, *, output_spec=None):
    """Make `fn` a public op: symbolic calls go to the handler, others run `fn`.

    `output_spec(*args, **kwargs)`, where given, is the op's own rule for the
    KerasTensors it returns on symbolic arguments (see `output_spec_rule`), for
    what running it on shape-only tensors cannot tell: `ops.slice` from a
    symbolic start has unknown sizes. It returns `NotImplemented` to leave a
    call to shape inference. Use as `@op` or `@op(output_spec=rule)`.
    """
    if fn is None:
        return functools.partial(op, output_spec=output_spec)
    if output_spec is not None:
        fn.__lamina_output_spec__ = output_spec

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _symbolic_handler is not None:
            try:
                result = _symbolic_handler(fn, args, kwargs)
            except (RuntimeError, IndexError) as error:
                _raise_symbolic_error(fn, args, kwargs, error)
            if result is not NotImplemented:
                return result
        try:
            return fn(*args, **kwargs)
        except (NotImplementedError, RuntimeError, ValueError) as error:
            # uint16/uint32 tensors torch cannot compute with; others re-raise.
            return _retry_unsigned(fn, args, kwargs, error)

    wrapper.__lamina_op__ = True
    return wrapper


def _retry_unsigned(fn, args, kwargs, error):
    """torch has few CPU kernels for uint16/uint32 (max, cumsum, clip, topk,
    ...) and refuses to promote them with other dtypes (`uint16 + int8`). An op
    that fails on either reruns with those tensors as int64 (which holds every
    uint16/uint32 value exactly) and casts its int64 results to the dtype Keras
    promotes the integer inputs to (`max(uint16)` is uint16, `uint16 + int8`
    int32), as Keras's other backends return. Only the error path pays for
    this; any other error propagates unchanged."""
    import numpy as np
    import torch

    from lamina import tree
    from lamina.backend.dtypes import result_type, standardize_dtype, to_torch_dtype

    cause = error.__cause__
    message = str(error) + (" " + str(cause) if cause is not None else "")
    if "UInt16" not in message and "UInt32" not in message:
        raise error
    unsigned = (torch.uint16, torch.uint32)
    found, integers = [], []

    def widen(v):
        dtype = getattr(v, "dtype", None)
        if isinstance(v, torch.Tensor):
            if not (v.is_floating_point() or v.is_complex()):
                integers.append(standardize_dtype(dtype))
            if dtype in unsigned:
                found.append(dtype)
                return v.to(torch.int64)
        elif isinstance(v, np.ndarray) and dtype.kind in "biu":
            integers.append(standardize_dtype(dtype))
            if dtype in (np.uint16, np.uint32):
                found.append(torch.uint16 if dtype == np.uint16 else torch.uint32)
                return v.astype(np.int64)
        return v

    args, kwargs = tree.map_structure(widen, (args, kwargs))
    if not found and kwargs.get("dtype") is not None:
        # A creation op asked for the dtype itself (`eye(3, dtype="uint16")`).
        try:
            asked = to_torch_dtype(standardize_dtype(kwargs["dtype"]))
        except (TypeError, ValueError):
            asked = None
        if asked in unsigned:
            found.append(asked)
            kwargs = {**kwargs, "dtype": "int64"}
    if not found:
        raise error
    # A refused promotion (`uint16 + int8`) gives Keras's promoted dtype; a
    # missing kernel (`max`, `gather`, `cumsum`) keeps the unsigned data's
    # dtype, whatever the int dtype of indices next to it.
    if "Promotion for" in message:
        back = to_torch_dtype(result_type(*integers))
    else:
        back = torch.uint32 if torch.uint32 in found else torch.uint16

    def narrow(v):
        if isinstance(v, torch.Tensor) and v.dtype == torch.int64:
            return v.to(back)
        return v

    try:
        result = fn(*args, **kwargs)
    except Exception:
        result = _FAILED
    if result is _FAILED:
        raise error  # the original error, not the retry's
    return tree.map_structure(narrow, result)


_FAILED = object()


class SymbolicRuntimeError(ValueError, RuntimeError):
    """torch's `RuntimeError` for symbolic inputs an op cannot take (shapes
    that do not broadcast, mismatched contraction axes): a `ValueError`, as
    Keras raises for them, and still the `RuntimeError` torch raised."""


class SymbolicIndexError(ValueError, IndexError):
    """An `IndexError` for symbolic inputs (an index past a known axis): a
    `ValueError` as in Keras, and still an `IndexError`."""


def _raise_symbolic_error(fn, args, kwargs, error):
    # Only torch's own errors: subclasses (NotImplementedError, RecursionError,
    # one already converted) keep their type.
    kind = {RuntimeError: SymbolicRuntimeError, IndexError: SymbolicIndexError}.get(
        type(error)
    )
    if kind is None:
        raise error
    from lamina import tree
    from lamina.backend.keras_tensor import KerasTensor

    shapes = [
        v.shape for v in tree.flatten((args, kwargs)) if isinstance(v, KerasTensor)
    ]
    raise kind(
        f"ops.{fn.__name__} cannot be applied to symbolic inputs of shapes "
        f"{', '.join(str(s) for s in shapes)}: {error}"
    ) from error


def static_op(fn):
    """Make `fn` a public op that answers symbolic tensors itself, from their
    shape and dtype (`shape`, `is_tensor`), so that it adds no graph node, as in
    Keras: the wrapper skips the symbolic handler."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    wrapper.__lamina_op__ = True
    return wrapper


def set_symbolic_handler(handler) -> None:
    """Install `handler(fn, args, kwargs)` for every op; `None` removes it."""
    global _symbolic_handler
    if handler is not None and not callable(handler):
        raise TypeError(
            "set_symbolic_handler expects a callable handler(fn, args, kwargs) or "
            f"None; got {handler!r}."
        )
    _symbolic_handler = handler


def get_symbolic_handler():
    """The handler installed with `set_symbolic_handler`, or `None`."""
    return _symbolic_handler


def output_spec_rule(fn):
    """The symbolic output rule given to `op(fn, output_spec=...)`, or `None`.

    `fn` is the op or its undecorated function (what an `OpLayer` holds).
    """
    return getattr(getattr(fn, "__wrapped__", fn), "__lamina_output_spec__", None)


def is_op(fn) -> bool:
    """Whether `fn` is a public op wrapped by `op`."""
    return getattr(fn, "__lamina_op__", False)
