"""SymbolicScope: marks code that runs to infer shapes, not to compute values."""

import threading

from lamina.backend import shape_inference


class _ScopeState(threading.local):
    scope = None


_STATE = _ScopeState()


class SymbolicScope:
    """Context manager marking the symbolic stage, as `keras.SymbolicScope`.

    Inside it `in_symbolic_scope()` is true, so code shared by the symbolic
    and the eager stage can tell them apart. lamina's own shape inference
    (running a layer's `call` on shape-only tensors) counts as symbolic too.

    Example:
    >>> from lamina.backend.symbolic_scope import in_symbolic_scope
    >>> with lamina.SymbolicScope():
    ...     in_symbolic_scope()
    True
    >>> in_symbolic_scope()
    False
    """

    def __init__(self):
        self._original_scope = None

    def __enter__(self):
        self._original_scope = _STATE.scope
        _STATE.scope = self
        return self

    def __exit__(self, *exc_info):
        _STATE.scope = self._original_scope
        self._original_scope = None


def get_symbolic_scope():
    """The innermost active `SymbolicScope` of this thread, or `None`."""
    return _STATE.scope


def in_symbolic_scope() -> bool:
    """Whether a `SymbolicScope` is active, or lamina is inferring shapes."""
    return _STATE.scope is not None or shape_inference.inferring()
