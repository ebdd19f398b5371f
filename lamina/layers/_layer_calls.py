"""Helpers for calling a layer: call context, masks, device moves, tensor conversion."""

import contextlib
import functools
import inspect
import threading
import warnings

import numpy as np
import torch

from lamina import backend, tree
from lamina.backend.dtypes import is_string_array
from lamina.backend.keras_tensor import KerasTensor
from lamina.backend.stateless_scope import StatelessScope, check_matching


class _CallContext(threading.local):
    """Per-thread state of the outermost layer call: its `training` value, depth."""

    def __init__(self):
        self.training = None
        self.depth = 0
        # The compute dtype of the torch.autocast region a mixed layer opened
        # around this call, if any (Keras's current AutocastScope).
        self.autocast = None


_CALL_CONTEXT = _CallContext()
# Set once any layer calls add_loss(); until then calls skip loss bookkeeping.
_ADD_LOSS_USED = [False]


def _shape_of(x):
    if isinstance(x, (torch.Tensor, KerasTensor)):
        return tuple(x.shape)
    if isinstance(x, np.ndarray):
        return x.shape
    return None


def _device_type(args) -> str:
    first = args[0] if args else None
    if isinstance(first, torch.Tensor):
        return first.device.type
    return backend.get_device().type


def _get_mask(inputs):
    """The `_keras_mask` carried by a tensor or KerasTensor (or, per element, a
    list or tuple of them, in the container's kind as Keras gives it), else
    None."""
    if isinstance(inputs, (torch.Tensor, KerasTensor)):
        return getattr(inputs, "_keras_mask", None)
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in inputs]
        if all(m is None for m in masks):
            return None
        return masks if isinstance(inputs, list) else tuple(masks)
    return None


def _one_tensor_argument(args, kwargs) -> bool:
    """Whether a call gets exactly one tensor argument (a tensor, or a list or
    tuple of them), counting keyword ones: Keras fills `call`'s `mask` only
    then (with more, it fills the `<arg>_mask` parameters instead). NumPy
    arrays count: Keras converts them to tensors first."""
    count = sum(_is_tensor_argument(v) or isinstance(v, np.ndarray) for v in args)
    if kwargs:
        count += sum(
            _is_tensor_argument(v) or isinstance(v, np.ndarray) for v in kwargs.values()
        )
    return count == 1


def _set_mask(outputs, mask):
    """Give the outputs the masks `compute_mask` returned, paired in flat order
    as Keras pairs them (one output and a list of input masks: the first mask)."""
    if mask is None:
        return
    if isinstance(outputs, (torch.Tensor, KerasTensor)):
        if isinstance(mask, (list, tuple)):
            mask = next(iter(tree.flatten(mask)), None)
        if mask is not None:
            outputs._keras_mask = mask
    elif isinstance(outputs, (list, tuple)):
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(outputs)
        for output, output_mask in zip(outputs, masks):
            if (
                isinstance(output, (torch.Tensor, KerasTensor))
                and output_mask is not None
            ):
                output._keras_mask = output_mask


def _specs_of_shapes(layer, shapes):
    """KerasTensors in the compute dtype for what `compute_output_shape`
    returned, in its structure (a tuple of shapes gives a tuple, a list a
    list, a dict a dict; a list of ints is one shape)."""
    if isinstance(shapes, (list, tuple)) and all(
        d is None or isinstance(d, int) for d in shapes
    ):
        return KerasTensor(tuple(shapes), dtype=layer.compute_dtype)
    if isinstance(shapes, dict):
        return {k: _specs_of_shapes(layer, v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        specs = [_specs_of_shapes(layer, s) for s in shapes]
        return specs if isinstance(shapes, list) else tuple(specs)
    raise ValueError(
        f"compute_output_shape() of layer '{layer.name}' "
        f"({type(layer).__name__}) must return a shape tuple, or a list, tuple "
        f"or dict of them; got {shapes!r}."
    )


@functools.cache
def _first_call_parameter(cls):
    """The name of `cls.call`'s first parameter when it can be given by
    keyword and by position (`inputs` in `call(self, inputs, mask=None)`),
    else None."""
    params = list(inspect.signature(cls.call).parameters.values())[1:]
    if params and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
        return params[0].name
    return None


def _first_argument_positional(layer, kwargs):
    """`(args, kwargs)` for a call given keyword arguments only: the one for
    `call()`'s first parameter moved to the front, so that, as in Keras, it is
    the input the layer builds from, checks and takes the mask of
    (`layer(x1=a, x2=b)` is `layer(a, x2=b)`)."""
    name = _first_call_parameter(type(layer))
    if name is not None and name not in kwargs:
        # Keras's data layers take `layer(inputs=x)` whatever call() names it
        # (the image preprocessing layers' `call(self, data)`).
        name = getattr(type(layer), "_call_input_keyword", name)
    if name is None or name not in kwargs or "call" in layer.__dict__:
        return (), kwargs
    kwargs = dict(kwargs)
    return (kwargs.pop(name),), kwargs


def _first_input(layer, args, kwargs):
    """What a first call builds from: the first positional argument, else the
    first keyword argument, in `call()`'s order, that holds tensors (Keras
    builds `call(self, x1=None, x2=None)` called as `layer(x2=b)` from `b`)."""
    if args:
        return args[0]
    for name in layer.call_signature_parameters:
        value = kwargs.get(name)
        if name != "mask" and value is not None and _holds_tensors(value):
            return value
    return None


def _holds_tensors(value) -> bool:
    return any(
        isinstance(v, (torch.Tensor, KerasTensor, np.ndarray))
        for v in tree.flatten(value)
    )


def _mask_argument_names(parameters) -> tuple:
    """The `<arg>` of each `<arg>_mask` parameter of `call` whose `<arg>` is a
    parameter too (`call(query, value, query_mask=None, value_mask=None)`:
    `("query", "value")`). Read once per layer, from its call signature."""
    return tuple(
        name[:-5]
        for name in parameters
        if name.endswith("_mask") and name[:-5] in parameters
    )


def _is_tensor_argument(value) -> bool:
    if isinstance(value, (torch.Tensor, KerasTensor)):
        return True
    if isinstance(value, (list, tuple, dict)) and value:
        flat = tree.flatten(value)
        return all(
            v is None or isinstance(v, (torch.Tensor, KerasTensor)) for v in flat
        )
    return False


def _fill_argument_masks(layer, args, kwargs):
    """Keras: when `call` gets more than one tensor argument, each of its
    `<arg>_mask` parameters left at None receives the mask `<arg>` carries.

    Only for layers whose call has such parameters (`layer._call_mask_args`),
    and only on calls with more than one argument. Returns the keyword
    arguments to call with (`kwargs` itself when nothing is filled).
    """
    if all(_get_mask(v) is None for v in args) and (
        not kwargs or all(_get_mask(v) is None for v in kwargs.values())
    ):
        return kwargs  # no argument carries a mask: nothing to fill (cheap)
    positional = layer.__dict__.get("_call_positional_names")
    if positional is None:
        positional = layer.__dict__["_call_positional_names"] = _positional_names(
            layer.call
        )
    if len(args) > len(positional):
        return kwargs  # call() raises its own error (or takes *args: not filled)
    values = dict(zip(positional, args))
    values.update(kwargs)
    if sum(_is_tensor_argument(v) for v in values.values()) < 2:
        return kwargs
    filled = kwargs
    for name in layer._call_mask_args:
        mask_name = f"{name}_mask"
        if values.get(mask_name) is not None or (
            mask_name in values and mask_name not in kwargs
        ):
            continue  # a mask given, or None passed by position
        mask = _get_mask(values.get(name))
        if mask is not None:
            if filled is kwargs:
                filled = dict(kwargs)
            filled[mask_name] = mask
    return filled


def _positional_names(fn) -> tuple:
    """The names `fn`'s positional arguments bind to, in order (up to a
    `*args`, whose values get no `<arg>_mask`)."""
    names = []
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            break
        names.append(parameter.name)
    return tuple(names)


def _add_activity_losses(layer, outputs):
    """Add the activity regularization of each output tensor, as Keras does:
    divided by the batch size (the first axis), a loss of 0 for an empty
    batch, and a scalar output's loss as it is."""
    for output in tree.flatten(outputs):
        if not isinstance(output, torch.Tensor):
            continue
        loss = layer.activity_regularizer(output)
        if output.ndim > 0:
            batch = output.shape[0]
            loss = loss / batch if batch else torch.zeros_like(loss)
        layer.add_loss(loss)


def _carry_masks(flat_inputs, mask):
    """A model's flat inputs, each carrying its part of `model(x, mask=...)` into
    the graph as Keras's functional call does (layers read it from their inputs).

    The masked inputs are aliases (`view_as`), so the caller's tensors are not
    marked.
    """
    masks = tree.flatten(mask)
    if len(masks) != len(flat_inputs):
        raise ValueError(
            f"The model takes {len(flat_inputs)} input(s), so `mask` needs one "
            f"entry per input (None where unmasked); got {len(masks)}."
        )
    carried = []
    for x, m in zip(flat_inputs, masks):
        if m is not None and isinstance(x, torch.Tensor):
            x = x.view_as(x)
            x._keras_mask = torch.as_tensor(m, device=x.device)
        carried.append(x)
    return carried


def _warn_if_mask_dropped(layer, previous_mask):
    """Keras's warning for a mask reaching a layer that does not support masking
    (its outputs carry no mask, so layers after it see none). Once per layer:
    when its graph node is built, or at its first eager call with a mask (only
    masked inputs take that path, never the fast one)."""
    if (
        layer.supports_masking
        or getattr(layer, "_mask_drop_warned", False)
        or _user_compute_mask(type(layer))
        or all(m is None for m in tree.flatten(previous_mask))
    ):
        return
    layer.__dict__["_mask_drop_warned"] = True
    warnings.warn(
        f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an "
        "input with a mask attached to it, but it does not support masking: the "
        "mask stops here and the layers after it will not see it. Set "
        "`supports_masking = True` (or define `compute_mask`) in a layer that "
        "keeps the mask's meaning.",
        stacklevel=3,
    )


@functools.cache
def _user_compute_mask(cls) -> bool:
    """Whether `compute_mask` comes from a class outside lamina: Keras counts a
    layer defining one as supporting masking (lamina's layers set
    `supports_masking` as Keras's do)."""
    for klass in cls.__mro__:
        if "compute_mask" in klass.__dict__:
            return not klass.__module__.startswith("lamina.")
    return False


def _symbolic_mask_kwargs(layer, args, kwargs):
    """Keras masking for a call on KerasTensors: `(spec_kwargs, previous_mask)`.

    `previous_mask` is the mask `compute_mask` starts from: the `mask` given,
    else the `_keras_mask` of the first input (per element for a list).
    `spec_kwargs` are what the output-spec computation gets: `kwargs`, plus
    that mask when `call()` names a `mask` argument, none was given and the
    call has one tensor argument (Keras fills it in, so `call(inputs,
    mask=None)` sees a symbolic mask while the graph is built); a given mask
    that `call()` cannot take is left out, as on eager calls. The Node records `kwargs` only: at run time each layer reads
    the masks its inputs carry, exactly as on eager calls.
    """
    explicit = kwargs.get("mask")
    previous = explicit
    if previous is None and args:
        previous = _get_mask(args[0])
    if layer._call_mask_args and (kwargs or len(args) > 1):
        kwargs = _fill_argument_masks(layer, args, kwargs)
    if layer._call_has_mask_arg:
        if (
            explicit is None
            and previous is not None
            and _one_tensor_argument(args, kwargs)
        ):
            kwargs = {**kwargs, "mask": previous}
    elif "mask" in kwargs and not _takes_var_keywords(layer.call):
        kwargs = {k: v for k, v in kwargs.items() if k != "mask"}
    return kwargs, previous


def _takes_var_keywords(fn) -> bool:
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        for p in inspect.signature(fn).parameters.values()
    )


def _set_symbolic_mask(layer, args, kwargs, outputs, previous_mask):
    """Set `_keras_mask` on the output KerasTensors of the symbolic call
    `layer(*args, **kwargs)` from `layer.compute_mask` on its first input,
    under the rule eager calls follow."""
    # Keras: a symbolic call's outputs carry only the masks compute_mask
    # gives; drop any an inner symbolic call left on them (Sequential's
    # compute_output_spec calls its layers on the KerasTensors).
    given = {id(t) for t in tree.flatten((args, kwargs)) if isinstance(t, KerasTensor)}
    for output in tree.flatten(outputs):
        if (
            isinstance(output, KerasTensor)
            and id(output) not in given
            and "_keras_mask" in output.__dict__
        ):
            del output._keras_mask
    if layer._compute_mask_overridden or (
        previous_mask is not None and layer.supports_masking
    ):
        inputs = args[0] if args else None
        _set_mask(outputs, _symbolic_mask(layer, inputs, previous_mask))
    if previous_mask is not None and not layer.supports_masking:
        _warn_if_mask_dropped(layer, previous_mask)


def _symbolic_mask(layer, inputs, previous_mask):
    """`layer.compute_mask(inputs, previous_mask)` on KerasTensors."""
    # 1. As in Keras: a mask built with lamina.ops becomes nodes of the graph
    #    (Embedding's `inputs != 0` a `not_equal` op), so it can be passed on
    #    explicitly, `layer(x, mask=x._keras_mask)`, and saved.
    try:
        mask = layer.compute_mask(inputs, previous_mask)
    except Exception:  # noqa: BLE001 - written for torch tensors; see step 2
        symbolic = False
    else:
        symbolic = all(
            m is None or isinstance(m, KerasTensor) for m in tree.flatten(mask)
        )
    if symbolic:
        return mask
    # 2. A compute_mask written with torch functions runs on fake tensors: the
    #    mask is a KerasTensor of the right shape and dtype, outside the graph
    #    (at run time the layer computes it from real tensors).
    from lamina.backend.shape_inference import compute_output_spec

    return compute_output_spec(
        layer.compute_mask, inputs, previous_mask, modules=(layer,)
    )


def _onto_device(device, args, kwargs):
    """`args` and `kwargs` with every tensor on another device copied to `device`,
    as Keras's torch backend does when its ops convert their inputs (a CPU
    tensor reaches a layer whose weights are on the GPU). Keras masks travel
    along. Calls inside a layer's call skip this: their tensors are on the
    device already."""

    # Queued (non-blocking) only towards an accelerator: a copy back to the
    # CPU must be complete before the CPU computes with it.
    queued = device.type != "cpu"

    def move(x):
        if not isinstance(x, torch.Tensor) or _on(x, device):
            return x
        moved = x.to(device, non_blocking=queued)
        mask = getattr(x, "_keras_mask", None)
        if mask is not None:
            moved._keras_mask = mask.to(device, non_blocking=queued)
        return moved

    if len(args) == 1 and not kwargs:
        first = args[0]
        if isinstance(first, torch.Tensor):
            if _on(first, device):
                return args, kwargs  # the common case, without a tree walk
        elif type(first) in (list, tuple, dict):
            # A multi-input model's flat list or dict, already in place.
            values = first.values() if type(first) is dict else first
            if all(isinstance(v, torch.Tensor) and _on(v, device) for v in values):
                return args, kwargs
    return tree.map_structure(move, args), tree.map_structure(move, kwargs)


def _on(x, device):
    here = x.device
    return here.type == device.type and (
        device.index is None or here.index is None or here.index == device.index
    )


def _convert_other_arguments(layer, args, kwargs):
    """`(args, kwargs)` with the arguments after the first converted as Keras
    converts them before `call`: arrays (NumPy arrays and scalars, at any
    nesting) become tensors, and float tensors take the compute dtype when the
    layer autocasts. Python numbers, flags and text stay as they are. `kwargs`
    is the call's own dict and is updated in place."""
    dtype = False  # looked up only when an argument may need it
    if len(args) > 1:
        dtype = layer._compute_torch_dtype if layer.autocast else None
        args = (args[0], *[_converted_argument(a, dtype) for a in args[1:]])
    for key, value in kwargs.items():
        if value is None or type(value) is bool:  # `training=`: the usual one
            continue
        if dtype is False:
            dtype = layer._compute_torch_dtype if layer.autocast else None
        kwargs[key] = _converted_argument(value, dtype)
    return args, kwargs


def _converted_argument(value, dtype):
    if isinstance(value, torch.Tensor):
        if (
            dtype is not None
            and value.dtype != dtype
            and value.is_floating_point()
            and not isinstance(value, KerasTensor)
        ):
            cast = value.to(dtype)
            mask = getattr(value, "_keras_mask", None)
            if mask is not None:  # the mask survives the cast, as in Keras
                cast._keras_mask = mask
            return cast
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        if is_string_array(value):
            return value
        # Without autocast a float64 array stays float64 (Keras); NumPy
        # scalars become floatx, as Keras's conversion makes them.
        keep = dtype is None and value.dtype == np.float64 and value.ndim
        tensor = backend.convert_to_tensor(value, dtype="float64" if keep else None)
        return _converted_argument(tensor, dtype)
    if isinstance(value, (list, tuple, dict)):
        return tree.map_structure(lambda v: _converted_argument(v, dtype), value)
    return value


def _to_tensors(x):
    """Layer inputs as tensors; text (NumPy string arrays) stays as it is, for
    the preprocessing layers that turn it into numbers."""
    if isinstance(x, (list, tuple, dict)):
        return tree.map_structure(_to_tensor, x)
    return _to_tensor(x)


def _to_tensor(v):
    if isinstance(v, (torch.Tensor, KerasTensor)) or v is None or is_string_array(v):
        return v
    return backend.convert_to_tensor(v)


@contextlib.contextmanager
def _weights_swapped(layer, values):
    """Within the block, every weight of `layer` (and its sub-layers) whose id
    is a key of `values` reads as `values[id(weight)]`: the registered
    parameter is replaced, as `torch.func.functional_call` does, and put back
    on exit."""
    swapped = []
    for module in layer.modules():
        params = module._parameters
        for key, param in params.items():
            if param is not None and id(param) in values:
                swapped.append((params, key, param))
    try:
        for params, key, param in swapped:
            params[key] = values[id(param)]
        yield
    finally:
        for params, key, param in swapped:
            params[key] = param


def _stateless_call(
    layer, trainable_variables, non_trainable_variables, args, kwargs, return_losses
):
    """`Layer.stateless_call`: the call runs in a `StatelessScope` with the
    layer's weights swapped for the given values; non-trainable values are
    private copies the call may update in place. The layers' own losses are
    put back afterwards, so the call leaves no trace on the layer."""
    if not layer.built:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) must be built before "
            "stateless_call(), so that its variables exist. Call it on data "
            "(or call build()) first."
        )
    own_trainable = layer.trainable_variables
    own_state = layer.non_trainable_variables
    check_matching(
        f"Layer '{layer.name}' ({type(layer).__name__}).stateless_call",
        [
            (trainable_variables, own_trainable, "trainable_variables"),
            (non_trainable_variables, own_state, "non_trainable_variables"),
        ],
    )
    scope = StatelessScope(
        list(zip(own_trainable, trainable_variables)),
        collect_losses=return_losses,
    )
    for variable, value in zip(own_state, non_trainable_variables):
        scope._add_private_copy(variable, value)
    sublayers = layer._flatten_layers()
    kept_losses = [sub._losses for sub in sublayers]
    for sub in sublayers:
        sub._losses = []
    try:
        with scope, _weights_swapped(layer, scope.state_mapping):
            outputs = layer(*args, **kwargs)
            if return_losses:
                losses = list(scope.losses)
                for sub in sublayers:
                    losses.extend(sub._losses)
                for sub in sublayers:
                    if not sub._trainable:  # as `Layer.losses`: frozen adds nothing
                        continue
                    for param, regularizer in sub._regularized:
                        if not param.requires_grad:
                            continue
                        value = scope.get_current_value(param)
                        losses.append(regularizer(param if value is None else value))
    finally:
        for sub, kept in zip(sublayers, kept_losses):
            sub._losses = kept
    new_state = [scope._value_out(v) for v in own_state]
    if return_losses:
        return outputs, new_state, losses
    return outputs, new_state
