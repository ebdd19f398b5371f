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


def op(fn):
    """Make `fn` a public op: symbolic calls go to the handler, others run `fn`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _symbolic_handler is not None:
            result = _symbolic_handler(fn, args, kwargs)
            if result is not NotImplemented:
                return result
        return fn(*args, **kwargs)

    wrapper.__lamina_op__ = True
    return wrapper


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


def is_op(fn) -> bool:
    """Whether `fn` is a public op wrapped by `op`."""
    return getattr(fn, "__lamina_op__", False)
