"""Rematerialization (gradient checkpointing): `remat(f)` and `RematScope`.

A layer created inside a `RematScope` gets a `forward` of its own (an instance
attribute, so layers created outside a scope keep torch's plain method lookup
and `Layer.__call__` pays nothing). That forward runs the layer's `call` under
`torch.utils.checkpoint`: the call's intermediate tensors are dropped after the
forward pass and recomputed during the backward pass.
"""

import collections
import math
import threading

import torch
import torch.utils.checkpoint

_MODES = ("full", "activations", "larger_than", "list_of_layers", None)

RematMode = collections.namedtuple(
    "RematMode", ["mode", "output_size_threshold", "layer_names"]
)


class _Stack(threading.local):
    def __init__(self):
        self.scopes = []


_STACK = _Stack()


def remat(f):
    """Wrap `f` so that, under autograd, its intermediate values are recomputed
    in the backward pass instead of being kept from the forward pass.

    Trades compute for memory: `f` runs once more during backward. The wrapper
    runs `torch.utils.checkpoint.checkpoint(f, ..., use_reentrant=False)`;
    with gradients off (inference) it simply calls `f`.

    Args:
        f: A callable of tensors (a function, a layer's `call`, a layer).

    Returns:
        A callable with `f`'s arguments and results.

    Raises:
        TypeError: If `f` is not callable.

    Example:
    >>> f = lamina.remat(lambda x: torch.sin(x) * 2.0)
    >>> x = torch.ones(3, requires_grad=True)
    >>> f(x).sum().backward()
    >>> [round(float(g), 4) for g in x.grad]
    [1.0806, 1.0806, 1.0806]
    """
    if not callable(f):
        raise TypeError(f"remat expects a callable; got {type(f).__name__} {f!r}.")

    def wrapped(*args, **kwargs):
        if not torch.is_grad_enabled():
            return f(*args, **kwargs)
        return torch.utils.checkpoint.checkpoint(
            f, *args, use_reentrant=False, **kwargs
        )

    wrapped.__wrapped__ = f
    return wrapped


class RematScope:
    """Context manager: layers created inside it rematerialize their calls.

    As in Keras, the scope active when a layer is constructed decides; calling
    a layer inside a scope it was not created in changes nothing.

    Args:
        mode: Which layers rematerialize:
            `"full"`: every layer;
            `"activations"`: only the activation of layers that have an
            `activation` attribute (`Dense(..., activation="relu")`);
            `"larger_than"`: layers whose output has more than
            `output_size_threshold` elements;
            `"list_of_layers"`: layers whose name is in `layer_names`;
            `None`: none (disables an outer scope). Defaults to `"full"`.
        output_size_threshold: Element count for `"larger_than"`. Defaults to
            `1024`.
        layer_names: Layer names for `"list_of_layers"`. Defaults to `[]`.

    Raises:
        ValueError: If `mode` is not one of the modes above.

    Example:
    >>> with lamina.RematScope(mode="list_of_layers", layer_names=["big"]):
    ...     big = lamina.layers.Dense(4, name="big")
    ...     small = lamina.layers.Dense(4, name="small")
    >>> big._remat_mode.mode, small._remat_mode.mode
    ('list_of_layers', 'list_of_layers')
    """

    def __init__(self, mode="full", output_size_threshold=1024, layer_names=None):
        if mode not in _MODES:
            raise ValueError(
                f"RematScope got mode={mode!r}; expected one of 'full', "
                "'activations', 'larger_than', 'list_of_layers' or None."
            )
        self.mode = mode
        self.output_size_threshold = output_size_threshold
        self.layer_names = list(layer_names or [])

    def __enter__(self):
        _STACK.scopes.append(self)
        return self

    def __exit__(self, *exc_info):
        _STACK.scopes.remove(self)


def get_current_remat_mode():
    """The `RematMode` of the innermost active `RematScope`, or `None`."""
    if not _STACK.scopes:
        return None
    scope = _STACK.scopes[-1]
    return RematMode(scope.mode, scope.output_size_threshold, scope.layer_names)


def attach(layer) -> None:
    """Record the active remat mode on `layer` (as `_remat_mode`) and, where it
    applies to the layer, give the layer a rematerializing `forward`."""
    mode = get_current_remat_mode()
    layer.__dict__["_remat_mode"] = mode
    if mode is None or mode.mode is None:
        return
    if mode.mode == "list_of_layers" and layer.name not in mode.layer_names:
        return
    layer.__dict__["forward"] = _RematForward(layer)


class _RematForward:
    """A layer's `forward` that runs its `call` under `remat`.

    A class rather than a closure so that `copy.deepcopy(layer)` gives the copy
    a forward bound to the copy.
    """

    def __init__(self, layer):
        self.layer = layer
        self._sizes = {}  # input shapes -> output size, for "larger_than"

    def __call__(self, *args, **kwargs):
        layer = self.layer
        if not torch.is_grad_enabled():
            return layer.call(*args, **kwargs)
        mode = layer._remat_mode
        if mode.mode == "activations":
            return self._with_remat_activation(*args, **kwargs)
        if mode.mode == "larger_than":
            size = self._output_size(args, kwargs)
            if not size or size <= mode.output_size_threshold:
                return layer.call(*args, **kwargs)
        return remat(_Recomputable(layer))(*args, **kwargs)

    def _with_remat_activation(self, *args, **kwargs):
        layer = self.layer
        activation = getattr(layer, "activation", None)
        if activation is None:
            return layer.call(*args, **kwargs)
        # Through __dict__: Layer.__setattr__ would re-register a module-valued
        # activation; an entry in __dict__ shadows it for the call.
        had_entry = "activation" in layer.__dict__
        layer.__dict__["activation"] = remat(activation)
        try:
            return layer.call(*args, **kwargs)
        finally:
            if had_entry:
                layer.__dict__["activation"] = activation
            else:
                del layer.__dict__["activation"]

    def _output_size(self, args, kwargs):
        from lamina import tree
        from lamina.backend.dtypes import standardize_dtype
        from lamina.backend.keras_tensor import KerasTensor

        def spec(x):
            if isinstance(x, torch.Tensor):
                return KerasTensor(tuple(x.shape), dtype=standardize_dtype(x.dtype))
            return x

        key = tuple(
            tuple(x.shape) if isinstance(x, torch.Tensor) else repr(x)
            for x in tree.flatten((args, kwargs))
        )
        if key not in self._sizes:
            kwargs = {k: v for k, v in kwargs.items() if k != "training"}
            specs = self.layer.compute_output_spec(
                *tree.map_structure(spec, args), **tree.map_structure(spec, kwargs)
            )
            self._sizes[key] = sum(
                math.prod(d or 1 for d in t.shape)
                for t in tree.flatten(specs)
                if isinstance(t, KerasTensor)
            )
        return self._sizes[key]


class _Recomputable:
    """`layer.call` as checkpoint runs it. The first run is the forward pass;
    later runs recompute it during backward and must see what the forward saw:
    the call context (`training`, nesting depth), the state it started from
    (moving statistics, seed counters), and must leave the state as the
    forward left it (no second moving-average update)."""

    def __init__(self, layer):
        from lamina.layers._layer_calls import _CALL_CONTEXT

        self.layer = layer
        self.context = (_CALL_CONTEXT.training, _CALL_CONTEXT.depth)
        self.before = None

    def __call__(self, *args, **kwargs):
        from lamina.layers._layer_calls import _CALL_CONTEXT

        layer = self.layer
        if self.before is None:
            self.before = _snapshot(layer)
            return layer.call(*args, **kwargs)
        ctx = _CALL_CONTEXT
        saved_context = (ctx.training, ctx.depth)
        ctx.training, ctx.depth = self.context
        after = _snapshot(layer)
        _restore(self.before)
        try:
            return layer.call(*args, **kwargs)
        finally:
            ctx.training, ctx.depth = saved_context
            _restore(after)


def _snapshot(layer):
    variables = [(v, v.detach().clone()) for v in layer.non_trainable_variables]
    generators = []
    for sublayer in layer._flatten_layers():
        for value in vars(sublayer).values():
            if hasattr(value, "_counter") and hasattr(value, "_seed"):
                generators.append((value, value._seed, value._counter))
    return variables, generators


def _restore(snapshot):
    variables, generators = snapshot
    # Through `.data`: torch's batch norm updates its running statistics
    # without bumping their version counter, so every value is written back;
    # a write through `.data` leaves the counter alone too, so tensors that
    # autograd saved (a frozen batch norm's statistics) stay valid.
    for variable, value in variables:
        variable.data.copy_(value)
    for generator, seed, counter in generators:
        generator._seed, generator._counter = seed, counter
