"""StatelessScope: variable updates are recorded in the scope, never applied.

`Layer.stateless_call` runs a layer inside one, so that the layer computes with
given weight values and hands back its new state instead of writing it.
"""

import threading

import numpy as np
import torch


class _ScopeState(threading.local):
    """The innermost active `StatelessScope` of this thread (Keras keeps it per
    thread too)."""

    scope = None


_STATE = _ScopeState()


class StatelessScope:
    """Context manager in which `Variable.assign` (and `assign_add`,
    `assign_sub`) records the new value in the scope instead of writing it.

    Read the recorded values with `get_current_value(variable)` after (or
    inside) the scope. `Layer.stateless_call` also makes the layer compute with
    the values of `state_mapping`; in a scope entered by hand, torch code that
    reads a variable directly still sees the variable's own value, so read
    mapped values with `get_current_value`.

    Args:
        state_mapping: List of `(variable, value)` pairs: the values the
            variables hold for the duration of the scope. Each value is
            converted to its variable's dtype and must have its shape.
        collect_losses: Whether losses added by layers inside the scope are
            gathered in `losses`. Defaults to `False`.
        initialize_variables: Accepted for Keras compatibility. lamina creates
            variables with their values at once, so there is nothing to
            initialize on exit. Defaults to `True`.

    Raises:
        ValueError: If a key of `state_mapping` is not a `Variable`, or a
            value's shape differs from its variable's.

    Example:
    >>> v = lamina.Variable(torch.zeros(2))
    >>> with lamina.StatelessScope() as scope:
    ...     _ = v.assign(torch.ones(2))
    >>> v.tolist(), scope.get_current_value(v).tolist()
    ([0.0, 0.0], [1.0, 1.0])
    """

    def __init__(
        self, state_mapping=None, collect_losses=False, initialize_variables=True
    ):
        from lamina.backend.variables import Variable

        self.collect_losses = bool(collect_losses)
        self.initialize_variables = initialize_variables
        self.losses = []
        self.state_mapping = {}
        # id -> variable: keeps each mapped variable alive while its id is a key.
        self._variables = {}
        # ids of values that the scope owns (private copies made by
        # stateless_call): writing those in place is how they are updated.
        self._owned = set()
        self._original_scope = None
        for pair in state_mapping or ():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(
                    "StatelessScope expects `state_mapping` to be a list of "
                    f"(variable, value) pairs; got the item {pair!r}."
                )
            variable, value = pair
            if not isinstance(variable, Variable):
                raise ValueError(
                    "StatelessScope: all keys in argument `mapping` must be "
                    "Variables (each `state_mapping` pair starts with a lamina "
                    f"Variable; got {type(variable).__name__} {variable!r})."
                )
            value = _as_value(value, variable)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    "StatelessScope: all values in argument `mapping` must be "
                    "tensors with the shape of their variable (`state_mapping` "
                    f"pairs); variable {variable!r} got a value of shape "
                    f"{tuple(value.shape)}."
                )
            self.state_mapping[id(variable)] = value
            self._variables[id(variable)] = variable

    def __enter__(self):
        self._original_scope = _STATE.scope
        _STATE.scope = self
        return self

    def __exit__(self, *exc_info):
        _STATE.scope = self._original_scope
        self._original_scope = None

    def add_loss(self, loss) -> None:
        """Record `loss` (a scalar tensor) in `losses`."""
        self.losses.append(loss)

    def add_update(self, update) -> None:
        """Record `update`, a `(variable, new_value)` pair, in the scope."""
        variable, value = update
        self.state_mapping[id(variable)] = value
        self._variables[id(variable)] = variable

    def get_current_value(self, variable):
        """The value `variable` holds in this scope (its mapped value, or the
        last value assigned inside the scope), or `None` if it has neither."""
        return self.state_mapping.get(id(variable))

    def _add_private_copy(self, variable, value) -> None:
        """Map `variable` to a copy of `value` that the scope owns (for
        `stateless_call`): a layer may update the copy in place (torch's batch
        norm does), and neither the variable nor the caller's tensor changes.
        The copy is a `Variable`, so layer code can `assign` to it."""
        from lamina.backend.variables import Variable

        value = _as_value(value, variable)
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"Expected a value of shape {tuple(variable.shape)} for variable "
                f"{variable!r}; got shape {tuple(value.shape)}."
            )
        if value.requires_grad:
            copy = value  # keeps the caller's graph; not written in place
        else:
            copy = Variable(value.detach().clone(), requires_grad=False)
            copy.__dict__.update(variable.__dict__)
            self._owned.add(id(copy))
        self.state_mapping[id(variable)] = copy
        self._variables[id(variable)] = variable

    def _value_out(self, variable):
        """The current value of `variable` as a plain tensor."""
        value = self.state_mapping.get(id(variable))
        if isinstance(value, torch.nn.Parameter):
            return value.detach()
        return value

    def _intercepts(self, variable) -> bool:
        """Whether an assignment to `variable` is recorded (True) or written in
        place: the scope's own private copies are written in place."""
        return id(variable) not in self._owned


def _as_value(value, variable):
    if isinstance(value, torch.Tensor):
        if value.dtype != variable.dtype:
            value = value.to(variable.dtype)
        return value
    return torch.as_tensor(
        np.asarray(value), dtype=variable.dtype, device=variable.device
    )


def get_stateless_scope():
    """The innermost active `StatelessScope` of this thread, or `None`."""
    return _STATE.scope


def in_stateless_scope() -> bool:
    """Whether a `StatelessScope` is active in this thread."""
    return _STATE.scope is not None


def _recorded(variable, value, sign=0) -> bool:
    """`Variable.assign` (sign 0), `assign_add` (1) or `assign_sub` (-1) of
    `value`: inside a scope that intercepts `variable`, record the new value
    there and return True; otherwise return False (the caller writes it)."""
    scope = _STATE.scope
    if scope is None or not scope._intercepts(variable):
        return False
    if sign:
        current = scope.get_current_value(variable)
        current = variable.detach() if current is None else current
        value = current + value if sign > 0 else current - value
    scope.add_update((variable, value))
    return True


def check_matching(who, pairs):
    """Raise a ValueError unless every given list has as many tensors as the
    object's own: `pairs` holds `(given, own, what)` triples, e.g.
    `(trainable_variables, layer.trainable_variables, "trainable_variables")`;
    `who` names the caller (`"Layer 'dense' (Dense).stateless_call"`)."""
    for given, own, what in pairs:
        if len(given) != len(own):
            raise ValueError(
                f"{who} expects `{what}` to match its own {what} one to one "
                f"({len(own)} tensors); got {len(given)}."
            )
