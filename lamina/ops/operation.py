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
        return fn(*args, **kwargs)

    wrapper.__lamina_op__ = True
    return wrapper


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
