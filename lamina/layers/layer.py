"""Layer: the Keras layer contract (deferred build, weights, config) on nn.Module."""

import functools
import inspect

import torch

from lamina import backend, dtype_policies, tree
from lamina.backend import remat as _remat
from lamina.backend.keras_tensor import (
    KerasTensor,
    any_symbolic,
    shapes_of,
    specs_from_shapes,
)
from lamina.backend.naming import to_snake_case, uniquify
from lamina.layers._layer_api import _LayerAPI
from lamina.layers._layer_build import (
    _argument_shapes,
    _as_shape,
    _extra_build_shapes,
    _is_argument_shapes,
    _marks_built,
    _named_build_shapes,
    _shape_args_of,
    _unset_fake_mode,
)
from lamina.layers._layer_calls import (
    _ADD_LOSS_USED,
    _CALL_CONTEXT,
    _add_activity_losses,
    _convert_other_arguments,
    _converted_argument,
    _device_type,
    _fill_argument_masks,
    _first_argument_positional,
    _first_input,
    _get_mask,
    _mask_argument_names,
    _one_tensor_argument,
    _onto_device,
    _set_mask,
    _set_symbolic_mask,
    _shape_of,
    _specs_of_shapes,
    _stateless_call,
    _symbolic_mask_kwargs,
    _to_tensors,
    _warn_if_mask_dropped,
)
from lamina.layers._layer_weights import _LayerWeights, forgot_super_init_message
from lamina.layers._tracked import (
    TrackingOrder,
    _TrackedContainer,
    _TrackedDict,
    _TrackedList,
    may_hold_layers,
    may_hold_layers_within,
    tracked_tuple,
)
from lamina.layers.input_spec import check_input_spec
from lamina.layers.node import Node

_ALLOWED_KWARGS = {
    "input_dim",
    "input_shape",
    "batch_input_shape",
    "batch_size",
    "weights",
}
# Compute dtypes torch.autocast runs, and the weight dtypes it casts from.
_AUTOCAST_DTYPES = frozenset({"float16", "bfloat16"})
_FLOAT_WEIGHT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})


def _computes_under_autocast(layer, policy) -> bool:
    """Whether `layer`'s calls run under `torch.autocast` (its `_mixed` flag).

    An unbuilt layer does when its policy is mixed. A built one does only when
    its own float weights differ from the compute dtype: a mixed policy, or a
    plain 16-bit policy set after build, which keeps the weights' dtype as
    Keras does. Sub-layers keep their own policies, so their
    weights don't count. A built layer without such weights of its own
    (MultiHeadAttention, a functional model) needs no region: its sub-layers
    compute with their own policies, as Keras's autocast scope casts nothing
    of its own there. It keeps one when it is mixed and every float sub-layer
    computes in its dtype (one region instead of one per sub-layer).
    """
    compute = policy.compute_dtype
    if not layer.__dict__.get("built", False):
        return compute != policy.variable_dtype
    if compute not in _AUTOCAST_DTYPES or (
        compute == policy.variable_dtype
        and getattr(type(layer), "_promotes_weight_dtypes", False)
    ):
        # A class whose call promotes its inputs against weights of another
        # dtype, as Keras's ops do, computes a plain policy without autocast.
        return False
    for weight in layer._trainable_variables + layer._non_trainable_variables:
        dtype = backend.standardize_dtype(weight.dtype)
        if dtype in _FLOAT_WEIGHT_DTYPES and dtype != compute:
            return True
    # No weights of its own to cast: one autocast region around the whole
    # call still serves sub-layers that all compute in this dtype (fewer
    # regions than one per sub-layer), never one that computes in another
    # float dtype (an int `Input`, a lookup layer don't count).
    sublayers = layer._flatten_layers(include_self=False)
    return (
        compute != policy.variable_dtype
        and bool(sublayers)
        and all(
            sub.compute_dtype == compute
            or sub.compute_dtype not in _FLOAT_WEIGHT_DTYPES
            for sub in sublayers
        )
    )


class _FirstCallTensors:
    """`layer.input` / `layer.output`, as in Keras: the tensors of the layer's
    first call on symbolic tensors (one tensor, or a list). A non-data
    descriptor, so an instance attribute of the same name (InputLayer's
    `output`) takes precedence."""

    def __init__(self, attr, label):
        self.attr, self.label = attr, label

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        nodes = layer.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(
                f"The layer {layer.name} has never been called on symbolic "
                f"tensors and thus has no defined {self.label}."
            )
        tensors = getattr(nodes[0], self.attr)
        return tensors[0] if len(tensors) == 1 else list(tensors)


def _ready_tensors(layer, values) -> bool:
    """Whether a list input can take `__call__`'s fast path: tensors only, none
    carrying a mask, none a float that the layer would cast."""
    dtype = layer._compute_torch_dtype
    casts = layer.autocast
    for value in values:
        if (
            not isinstance(value, torch.Tensor)
            or getattr(value, "_keras_mask", None) is not None
            or (casts and value.dtype != dtype and value.is_floating_point())
        ):
            return False
    return bool(values)


class Layer(_LayerWeights, _LayerAPI, torch.nn.Module):
    """Base class of every lamina layer: a `torch.nn.Module` that behaves like a
    Keras 3 layer.

    Subclasses create weights in `build(input_shape)` with `add_weight`, compute in
    `call(inputs)`, and list their constructor arguments in `get_config()`.
    `build` runs once, on the first call, with the input's shape.

    Args:
        trainable: Whether the layer's weights are updated by training.
            Defaults to `True`.
        name: Layer name; defaults to the snake_case class name made unique
            (`dense`, `dense_1`, ...).
        dtype: Dtype policy or dtype name for weights and computation.
            Defaults to the global policy (`float32`).
        activity_regularizer: Regularizer applied to the layer's output.
        **kwargs: `input_shape` (the shape of one sample), `batch_input_shape`
            or `input_dim`, for Sequential's first layer only.

    Example:
    >>> class Scale(lamina.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.scale = self.add_weight(shape=(input_shape[-1],),
    ...                                      initializer="ones", name="scale")
    ...     def call(self, x):
    ...         return x * self.scale
    >>> tuple(Scale()(np.ones((2, 3), "float32")).shape)
    (2, 3)
    """

    # True for layers torch.compile should not trace: calls that loop in
    # Python over a data axis (recurrent layers over time: compiling unrolls
    # them) or that work on host data (text lookups). jit_compile leaves a
    # model holding one eager (see trainers/_step_setup.py).
    _eager_only = False

    input = _FirstCallTensors("input_tensors", "input")
    output = _FirstCallTensors("output_tensors", "output")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            cls.build = _marks_built(cls.__dict__["build"])
        if "__init__" in cls.__dict__:
            cls.__init__ = _checks_layer_init(cls.__dict__["__init__"])

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        # Keras: a custom layer without get_config() still serializes the
        # arguments it was constructed with.
        object.__setattr__(instance, "_constructor_args", (args, dict(kwargs)))
        return instance

    def __init__(
        self,
        *,
        activity_regularizer=None,
        trainable=True,
        dtype=None,
        autocast=True,
        name=None,
        **kwargs,
    ):
        torch.nn.Module.__init__(self)
        self.__dict__["_tracking_order"] = TrackingOrder()
        unknown = set(kwargs) - _ALLOWED_KWARGS
        if unknown:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                f"{ {k: kwargs[k] for k in sorted(unknown)} }."
            )
        # Keras layers start in inference mode; fit() switches to training.
        self.training = False
        self.built = False
        self.name = (
            name if name is not None else uniquify(to_snake_case(type(self).__name__))
        )
        if not isinstance(self.name, str) or "/" in self.name:
            raise ValueError(
                f"A layer name must be a string without '/'; got name={self.name!r}."
            )
        if not isinstance(trainable, bool):
            # Keras accepts Python bools only (not 1, None or np.bool_).
            raise ValueError(
                "Expected `trainable` to be a boolean. Received: "
                f"trainable={trainable!r} (of type {type(trainable)})."
            )
        self.dtype_policy = dtype
        self.autocast = autocast
        self._trainable = trainable
        self._trainable_variables = []
        self._non_trainable_variables = []
        self._regularized = []
        self._tracked_metrics = []
        self._losses = []
        self._inbound_nodes = []
        self._build_shapes = None
        self.input_spec = None
        # Keras: a subclass may say `supports_masking = True` in its body.
        self.supports_masking = getattr(type(self), "supports_masking", False)
        from lamina import regularizers

        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._input_shape_arg = None
        if kwargs.get("batch_input_shape") is not None:
            self._input_shape_arg = tuple(kwargs["batch_input_shape"])[1:]
        elif kwargs.get("input_shape") is not None:
            self._input_shape_arg = tuple(kwargs["input_shape"])
        elif kwargs.get("input_dim") is not None:
            self._input_shape_arg = (kwargs["input_dim"],)
        self._initial_weights = kwargs.get("weights")
        signature = inspect.signature(self.call).parameters
        self.call_signature_parameters = list(signature)
        self._call_has_training_arg = "training" in signature
        # Shape inference runs call() with an explicit `training`, else this:
        # the call's own default when it is True (Keras), else inference.
        self._symbolic_training = (
            "training" in signature and signature["training"].default is True
        )
        self._call_has_mask_arg = "mask" in signature
        # Keras fills `call(..., <arg>_mask=None)` from the mask `<arg>` carries.
        self._call_mask_args = _mask_argument_names(signature)
        self._call_is_default = type(self).call is Layer.call
        self._compute_mask_overridden = (
            type(self).compute_mask is not Layer.compute_mask
        )
        # Keras: the RematScope active at construction decides (sets `forward`).
        _remat.attach(self)
        for attr in self.__dict__.pop("_set_before_init", ()):
            if attr in self.__dict__:
                setattr(self, attr, self.__dict__.pop(attr))

    # --- attribute tracking -------------------------------------------------

    def __setattr__(self, name, value):
        if "_modules" not in self.__dict__:
            # Set before `super().__init__()`: torch refuses modules and
            # parameters there, Keras tracks them. Kept as a plain attribute
            # until `Layer.__init__` assigns it again (tracked then).
            if isinstance(value, (torch.nn.Module, torch.nn.Parameter)) or (
                type(value) in (list, tuple, dict) and not name.startswith("_")
            ):
                self.__dict__.setdefault("_set_before_init", []).append(name)
            object.__setattr__(self, name, value)
            return
        # Keras tracks layers held in plain lists; torch needs a ModuleList to see
        # them (for .to(), state_dict(), DDP). Lists of layers become ModuleLists.
        if (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, torch.nn.Module) for v in value)
            and not name.startswith("_")
        ):
            value = torch.nn.ModuleList(value)
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(v, torch.nn.Module) for v in value.values())
            and all(isinstance(k, str) for k in value)
            and not name.startswith("_")
        ):
            if all(k and "." not in k for k in value):
                value = torch.nn.ModuleDict(value)
            else:  # keys torch refuses ("nr.employed"): a view with safe names
                value = _TrackedDict(value)._track(self, name)
                super().__setattr__(name, value)
                value._sync()
                return
        elif (
            may_hold_layers(value)
            and not name.startswith("_")
            and "_modules" in self.__dict__
        ):
            # Empty now, filled later, or layers mixed with other things (an
            # Input, a number): Keras still tracks the layers put in it.
            tracked = (_TrackedList if type(value) is list else _TrackedDict)(value)
            value = tracked._track(self, name)
        elif (
            type(value) is tuple
            and not name.startswith("_")
            and "_modules" in self.__dict__
            and may_hold_layers_within(value)
        ):
            # Layers inside a tuple's nested lists or tuples (or lists in it
            # that are filled later): tracked as well.
            value = tracked_tuple(value, self, name)
        elif (
            _is_metric(value)
            and not name.startswith("_")
            and "_tracked_metrics" in self.__dict__
        ):
            # Keras 3: a Metric assigned to a layer is tracked (model.metrics).
            if all(value is not m for m in self._tracked_metrics):
                self._tracked_metrics.append(value)
        elif (
            isinstance(value, torch.nn.Module)
            and not isinstance(
                value,
                (Layer, torch.nn.ModuleList, torch.nn.ModuleDict, _TrackedContainer),
            )
            and "_modules" in self.__dict__
            and not getattr(self, "_wraps_torch_module", False)
        ):
            # Keras on torch: a plain torch module assigned to a layer is wrapped
            # in TorchModuleWrapper, so its parameters are weights that fit
            # trains and files hold.
            from lamina.layers.core.torch_module_wrapper import TorchModuleWrapper

            value = TorchModuleWrapper(value)
        elif isinstance(value, torch.nn.Parameter):
            params = self.__dict__.get("_parameters")
            if params is not None:
                # add_weight registered it under its weight name; the first
                # attribute it is assigned to takes that place (torch's names
                # follow the attributes). A second attribute is an alias: both
                # names stay (`self.alias = self.kernel` keeps `self.kernel`).
                unnamed = self.__dict__.get("_add_weight_keys", set())
                for key, existing in list(params.items()):
                    if existing is value and key != name and key in unnamed:
                        del params[key]
                        unnamed.discard(key)
                unnamed.discard(name)
            self._track_variable(value)  # Keras: `self.w = Variable(...)` is a weight
        old = self.__dict__.get(name, self.__dict__.get("_modules", {}).get(name))
        if isinstance(old, _TrackedContainer):
            self._modules.pop(name, None)  # the old container's view goes too
        super().__setattr__(name, value)
        if isinstance(value, _TrackedContainer) and len(value):
            value._sync()
        elif isinstance(value, torch.nn.Module) or isinstance(old, torch.nn.Module):
            self._note_layers()

    def _note_layers(self):
        """Note when sub-layers were tracked (Keras lists them in that order)."""
        _attribute_layers(self)

    def _apply(self, fn, recurse=True):
        # torch registers new plain Parameters where it cannot convert in place
        # (`.to("meta")`, `.to_empty()`): they take over the Variables' class,
        # attributes and places in the weight lists, so fit trains them.
        from lamina.backend.variables import adopt_replaced_parameters

        snapshot = self._parameter_snapshot()
        result = super()._apply(fn, recurse)
        replaced = adopt_replaced_parameters(snapshot)
        if replaced:
            for attr in ("_trainable_variables", "_non_trainable_variables"):
                variables = self.__dict__.get(attr)
                if variables is not None:
                    variables[:] = [replaced.get(id(v), v) for v in variables]
            self.__dict__["_regularized"] = [
                (replaced.get(id(v), v), r)
                for v, r in self.__dict__.get("_regularized", ())
            ]
            self.__dict__.pop("_device_probe", None)
        return result

    def _parameter_snapshot(self):
        """Where this layer's weights are registered, for `_apply`."""
        from lamina.backend.variables import snapshot_parameters

        return snapshot_parameters(self, recurse=False)

    @property
    def _layers(self):
        """Direct sub-layers, in the order they were assigned (Keras `_layers`)."""
        return _attribute_layers(self)

    def _flatten_layers(self, include_self=True, recursive=True):
        """This layer (if `include_self`), its sub-layers and theirs, each once,
        in Keras's order: depth first, where below the first level each
        layer's sub-layers come last-tracked first (Keras pushes them to the
        front of its queue one at a time). KerasHub's LoRA files number layers
        by this order."""
        seen, result = {id(self)}, [self] if include_self else []
        queue = list(self._layers)
        while queue:
            layer = queue.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            result.append(layer)
            if recursive:
                queue[:0] = reversed(layer._layers)
        return result

    # --- dtype ----------------------------------------------------------------

    @property
    def dtype_policy(self):
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        """As in Keras, a quantized policy (`"int8_from_float32"`, ...) set on a
        built, unquantized layer or model quantizes it to the policy's mode
        (GPTQ and AWQ need a calibration config: refused). When quantizing
        fails, a layer without a policy map gets its policy back."""
        policy = dtype_policies.get(value)
        mode = policy.quantization_mode
        if (
            mode is None
            or not self.__dict__.get("built")
            or getattr(self, "_is_quantized", False)
        ):
            self._set_dtype_policy(policy)
            return
        if mode == "gptq":
            raise ValueError(
                f"Layer '{self.name}': Implicitly enabling GPTQ quantization by "
                f"setting `dtype_policy` to {policy.name!r} is not supported: GPTQ "
                "needs a calibration dataset and a `GPTQConfig`. Use "
                "`.quantize('gptq', config=GPTQConfig(...))` on the layer or model."
            )
        previous = self._dtype_policy
        self._set_dtype_policy(policy)
        try:
            self.quantize(mode)
        except Exception:
            if not isinstance(previous, dtype_policies.DTypePolicyMap):
                self._set_dtype_policy(previous)
            raise

    def _set_dtype_policy(self, policy):
        current = self.__dict__.get("_dtype_policy")
        path = self.path
        if isinstance(current, dtype_policies.DTypePolicyMap) and path:
            # Keras: a layer holding a map (and a path) writes the new policy
            # into the map under its path; the map stays the layer's policy.
            if path in current:
                del current[path]
            current[path] = policy
            policy = current if current._bound_path == path else current._bound_to(path)
        self._dtype_policy = policy
        self._compute_torch_dtype = backend.to_torch_dtype(
            self._dtype_policy.compute_dtype
        )
        self._mixed = _computes_under_autocast(self, self._dtype_policy)

    @property
    def quantization_mode(self):
        """The layer's quantization mode (`"int8"`, `"float8"`, ...), `None`
        unless the layer is quantized."""
        return self._dtype_policy.quantization_mode

    @property
    def dtype(self) -> str:
        """Dtype of the layer's weights (the policy's variable dtype)."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype_policy.variable_dtype

    # --- weights and losses: in _LayerWeights (_layer_weights.py) --------------

    # --- calling --------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        ctx = _CALL_CONTEXT
        if ctx.depth and len(args) == 1 and not kwargs:
            # Fast path: `layer(tensor)` inside an outer layer's call (every layer
            # of a model during fit/predict). The outer call already settled
            # `training` and the loss bookkeeping, so when nothing below needs
            # the general path (a build, a cast, a mask, an autocast region to
            # enter or leave, an activity regularizer, a train()/eval() choice)
            # the context is left as it is: ~1 us less per layer call than the
            # general path, ~2 us less for a mixed-precision layer inside its
            # model's autocast region (tutorial MLP under mixed_bfloat16, a
            # batch of 8: 138-144 -> 134-137 us per model call, CPU).
            # A list or tuple of such tensors (merge layers: every residual
            # `Add`) takes it too.
            x = args[0]
            training = ctx.training
            if (
                (
                    (
                        isinstance(x, torch.Tensor)
                        and (
                            x.dtype == self._compute_torch_dtype
                            or not self.autocast
                            or not x.is_floating_point()
                        )
                        and getattr(x, "_keras_mask", None) is None
                    )
                    or (
                        (type(x) is list or type(x) is tuple)
                        and _ready_tensors(self, x)
                    )
                )
                and self.built
                and (
                    ctx.autocast is self._compute_torch_dtype
                    if self._mixed
                    else ctx.autocast is None
                )
                and self.activity_regularizer is None
                and (training is not None or "_explicit_mode" not in self.__dict__)
            ):
                try:
                    if training is not None and self._call_has_training_arg:
                        outputs = torch.nn.Module.__call__(self, x, training=training)
                    else:
                        outputs = torch.nn.Module.__call__(self, x)
                except RuntimeError as error:
                    self._explain_failure(error, args)
                    raise
                if self._compute_mask_overridden:
                    _set_mask(outputs, self.compute_mask(x, None))
                return outputs
        if not args and kwargs:
            # Keras: `layer(x1=a, x2=b)` takes `a` as the first input.
            args, kwargs = _first_argument_positional(self, kwargs)
        first = args[0] if args else None
        if len(args) > 1 and not all(
            a is None or isinstance(a, torch.Tensor) for a in args[1:]
        ):
            self._check_positional_arguments(args[1:])
        if not isinstance(first, torch.Tensor):
            # Slow path: symbolic inputs build a graph; other data is converted.
            if any_symbolic(first) or any_symbolic(kwargs):
                return self._symbolic_call(args, kwargs)
            if args:
                args = (self._first_input_as_tensors(first),) + args[1:]
        elif kwargs and any_symbolic(kwargs):
            return self._symbolic_call(args, kwargs)
        elif first.dtype != self._compute_torch_dtype and (
            self._casts_other_inputs or first.is_floating_point()
        ):
            args = (self._first_input_as_tensors(first),) + args[1:]
        if kwargs or len(args) > 1:
            # Keras converts the other arguments too (`attention_mask=`, a
            # second input): arrays to tensors, floats to the compute dtype.
            args, kwargs = _convert_other_arguments(self, args, kwargs)
        training = kwargs.pop("training", None) if kwargs else None
        if not ctx.depth:
            args, kwargs = _onto_device(self._device(), args, kwargs)
        if not self.built:
            self._build_on_first_call(args, kwargs)
            if len(args) > 1 or kwargs:
                shapes = _argument_shapes(self, (args, kwargs))
                if shapes is not None:  # `call(self, x, y)`: every input's shape
                    self._build_shapes = shapes
                    self.__dict__["_build_shapes_by_argument"] = True
        if training is None:
            # fit()/train() set the module flag; otherwise, as in Keras, a layer
            # called with no `training` anywhere uses its own call() default
            # (Dropout: off; random augmentation layers: on).
            training = (
                ctx.training
                if ctx.training is not None
                else (self.training if self.__dict__.get("_explicit_mode") else None)
            )
        if self._call_has_training_arg and training is not None:
            kwargs["training"] = training
        # Keras masking: a mask travels on tensors as `_keras_mask`.
        explicit_mask = kwargs.get("mask") if kwargs else None
        if explicit_mask is not None or (kwargs and "mask" in kwargs):
            if not self._call_has_mask_arg:
                kwargs.pop("mask")  # Keras drops a mask call() does not take
        if explicit_mask is not None:
            mask = explicit_mask  # Keras: an explicit mask wins over _keras_mask
        else:
            mask = _get_mask(args[0]) if args else None
            if (
                mask is not None
                and self._call_has_mask_arg
                and (
                    (len(args) == 1 and not kwargs)
                    or _one_tensor_argument(args, kwargs)
                )
            ):
                # Keras fills `mask` only for a call with one tensor argument.
                kwargs["mask"] = mask
        if self._call_mask_args and (kwargs or len(args) > 1):
            kwargs = _fill_argument_masks(self, args, kwargs)
        if ctx.depth == 0 and _ADD_LOSS_USED[0]:
            self._clear_losses()
        previous = ctx.training
        ctx.training = training
        ctx.depth += 1
        region = ctx.autocast
        try:
            if region is None:
                if self._mixed and not torch.is_autocast_enabled(_device_type(args)):
                    # Mixed policy: low-precision compute on float32 weights.
                    outputs = self._call_in_autocast(ctx, args, kwargs)
                else:
                    outputs = torch.nn.Module.__call__(self, *args, **kwargs)
            elif region is not self._compute_torch_dtype:
                # Inside a mixed layer, one computing in another dtype (a
                # float32 head, a non-float or `autocast=False` layer) leaves
                # the region, as Keras's AutocastScope is replaced for it.
                outputs = self._call_in_autocast(ctx, args, kwargs)
            else:
                outputs = torch.nn.Module.__call__(self, *args, **kwargs)
        except RuntimeError as error:
            self._explain_failure(error, args)
            raise
        finally:
            ctx.depth -= 1
            ctx.training = previous
            ctx.autocast = region
        if self.activity_regularizer is not None:
            _add_activity_losses(self, outputs)
        if self._compute_mask_overridden or (
            mask is not None and self.supports_masking
        ):
            _set_mask(outputs, self.compute_mask(args[0] if args else None, mask))
        if mask is not None and not self.supports_masking:
            _warn_if_mask_dropped(self, mask)
        return outputs

    def _call_in_autocast(self, ctx, args, kwargs):
        """`forward` under an autocast region in this layer's compute dtype, or
        with autocast off when that dtype is not one autocast computes in."""
        dtype = self._compute_torch_dtype
        low = dtype in (torch.float16, torch.bfloat16) and self.autocast
        ctx.autocast = dtype if low else None
        with torch.autocast(_device_type(args), dtype=dtype, enabled=low):
            return torch.nn.Module.__call__(self, *args, **kwargs)

    def stateless_call(
        self,
        trainable_variables,
        non_trainable_variables,
        *args,
        return_losses=False,
        **kwargs,
    ):
        """Call the layer on given weight values, leaving its own weights as
        they are.

        The layer computes with `trainable_variables` and
        `non_trainable_variables` in place of its weights; state it updates
        (BatchNormalization's moving statistics, variables it assigns) is
        returned instead of written. Gradients flow to the given trainable
        tensors.

        Args:
            trainable_variables: Tensors matching `layer.trainable_variables`
                one to one (shapes and order).
            non_trainable_variables: Tensors matching
                `layer.non_trainable_variables` one to one.
            *args: Positional arguments of the call (the inputs).
            return_losses: Whether to also return the losses the call added
                (`add_loss`, activity and weight regularizers). Defaults to
                `False`.
            **kwargs: Keyword arguments of the call (`training=True`, ...).

        Returns:
            `(outputs, non_trainable_variables)` with the updated state, or
            `(outputs, non_trainable_variables, losses)` with `return_losses`.

        Raises:
            ValueError: If the layer is not built, or a list's length differs
                from the layer's.
        """
        return _stateless_call(
            self,
            trainable_variables,
            non_trainable_variables,
            args,
            kwargs,
            return_losses,
        )

    def _device(self) -> torch.device:
        """Where this layer computes: its weights' device (so a model moved with
        `.to()` keeps working), else lamina's device."""
        # Where the first weight is registered: `.to()` may move it in place or
        # register a new Parameter there (e.g. to `meta`), so look it up again.
        probe = self.__dict__.get("_device_probe")
        weight = probe[0]._parameters.get(probe[1]) if probe is not None else None
        if weight is None:
            for module in self.modules():
                for key, weight in module._parameters.items():
                    if weight is not None:
                        self.__dict__["_device_probe"] = (module, key)
                        return weight.device
            return backend.get_device()
        return weight.device

    def train(self, mode: bool = True):
        """torch's train/eval switch. Calling it (or `eval()`) is an explicit
        choice: layers then use it when no `training` argument is given."""
        torch.nn.Module.train(self, mode)
        for module in self.modules():
            if isinstance(module, Layer):
                module.__dict__["_explicit_mode"] = True
        return self

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `call` method "
            f"implemented (layer '{self.name}'). Subclasses of Layer must "
            "implement call(inputs)."
        )

    def _explain_failure(self, error, args):
        """Turn a deep torch shape error into one that names this layer."""
        if self.input_spec is None or not args:
            return
        try:
            check_input_spec(
                self.input_spec, _shape_of(args[0]), self.name, type(self).__name__
            )
        except ValueError as friendly:
            raise friendly from error

    # --- building -------------------------------------------------------------

    @_marks_built  # a direct `layer.build(shape)` is recorded, as in Keras
    def build(self, input_shape) -> None:
        """Create weights for inputs of `input_shape`. Runs once, before `call`."""
        self.built = True

    # Whether `_first_input_as_tensors` may change a non-float tensor (a
    # functional model casts an int tensor to a float Input's dtype): read on
    # the fast path, so an int input to a plain layer (Embedding's token ids)
    # costs one attribute read there, not a call.
    _casts_other_inputs = False
    # Whether an eager call casts the first input to the compute dtype (and
    # runs a mixed policy under autocast); shape inference does the same.
    # Ops wrapped for graphs (OpLayer) compute in their inputs' dtypes.
    _eager_casts_inputs = True

    def _first_input_as_tensors(self, first):
        """The first call argument as tensors, floats in the compute dtype
        (every float tensor of a list, tuple or dict too, as Keras casts each;
        a functional model casts to its `Input` dtypes instead). Reached only
        when `first` is not a tensor of the compute dtype; the mask survives."""
        first = _to_tensors(first)
        if self.autocast and isinstance(first, (torch.Tensor, list, tuple, dict)):
            return _converted_argument(first, self._compute_torch_dtype)
        return first

    def _build_on_first_call(self, args, kwargs):
        first = _first_input(self, args, kwargs)
        shapes = tree.map_structure(_shape_of, first) if first is not None else None
        self._build_with_shapes(shapes, (args, kwargs))

    def _build_with_shapes(self, shapes, call_args=None, extra=None):
        if (
            self._input_shape_arg is not None
            and shapes is not None
            and not (
                tree.is_nested(shapes) and not isinstance(shapes[0], (int, type(None)))
            )
        ):
            expected = tuple(self._input_shape_arg)
            got = tuple(shapes[1:])
            if len(expected) == len(got) and any(
                e is not None and g is not None and e != g
                for e, g in zip(expected, got)
            ):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) was declared with "
                    f"input_shape={expected}, but it was called on inputs of shape "
                    f"{tuple(shapes)}."
                )
        build = type(self).build
        named = _shape_args_of(self)
        extra = extra or {}
        if named is not None:
            # Keras: `build(self)` or `build(self, x_shape, y_shape)`.
            shapes = _named_build_shapes(self, named, shapes, call_args)
        elif call_args is not None and getattr(build, "_extra_shape_args", None):
            # `build(self, input_shape, mask_shape=None)`: and `mask`'s shape.
            extra = _extra_build_shapes(self, build._extra_shape_args[1], call_args)
        with _unset_fake_mode():
            self.build(**shapes) if named is not None else self.build(shapes, **extra)
        self.built = True
        self._build_shapes = shapes
        if named == []:
            self.__dict__["_build_shapes_by_argument"] = True
        if extra:  # saved with the first shape, as Keras's `shapes_dict`
            self.__dict__["_build_extra_shapes"] = extra
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def build_from_config(self, config) -> None:
        """Build from a `get_build_config()` dict, as `load_model` does."""
        if not config or self.built:
            return
        if "input_shape" in config:
            self._build_with_shapes(_as_shape(config["input_shape"]))
        elif "shapes_dict" in config:
            if _is_argument_shapes(self, config["shapes_dict"]):
                # A subclassed model called as `model(x, y)`: trace `call`
                # with one input per argument, as Keras's loader does.
                shapes = _as_shape(config["shapes_dict"])
                specs = {k[: -len("_shape")]: v for k, v in shapes.items()}
                self.compute_output_spec(**specs_from_shapes(specs))
                self._build_shapes = shapes
                self.__dict__["_build_shapes_by_argument"] = True
                self.built = True
                return
            if _shape_args_of(self):
                self._build_with_shapes(_as_shape(config["shapes_dict"]))
                return
            extra_args = getattr(type(self).build, "_extra_shape_args", None)
            if (
                extra_args
                and extra_args[0] in config["shapes_dict"]
                and type(self).get_build_config is Layer.get_build_config
            ):
                # `build(self, x_shape, mask_shape=None)`: each shape by name.
                extra = _as_shape(config["shapes_dict"])
                first = extra.pop(extra_args[0])
                self._build_with_shapes(first, extra=extra)
                return
            shapes = [_as_shape(s) for s in config["shapes_dict"].values()]
            self._build_with_shapes(shapes[0] if len(shapes) == 1 else shapes)

    def get_build_config(self):
        if self._build_shapes is None:
            return None
        if self.__dict__.get("_build_shapes_by_argument") or _shape_args_of(self):
            # Keras's `shapes_dict` for `build(self)` (empty) and for several
            # named shapes; one named shape is saved as the `input_shape`.
            if len(self._build_shapes) == 1:
                return {"input_shape": next(iter(self._build_shapes.values()))}
            return {"shapes_dict": self._build_shapes}
        extra = self.__dict__.get("_build_extra_shapes")
        if extra:
            first = type(self).build._extra_shape_args[0]
            return {"shapes_dict": {first: self._build_shapes, **extra}}
        return {"input_shape": self._build_shapes}

    # --- symbolic calls (functional graphs and shape inference) ----------------

    def _check_positional_arguments(self, rest):
        """Keras's rule for the positional arguments after the first: tensors
        (symbolic or not), arrays and None, in any nesting; a flag or a
        number belongs in a keyword (`layer(x, True)` means `training=True`
        to no one)."""
        if getattr(self, "_allow_non_tensor_positional_args", False):
            return
        for value in tree.flatten(rest):
            if value is None or isinstance(value, (torch.Tensor, KerasTensor)):
                continue
            if hasattr(value, "__array__"):
                continue
            hint = f", e.g. training={value}" if type(value) is bool else ""
            raise ValueError(
                "Only input tensors may be passed as positional arguments to "
                f"layer '{self.name}'. The following argument value should be "
                f"passed as a keyword argument: {value!r} (of type "
                f"{type(value).__name__}){hint}."
            )

    def _symbolic_call(self, args, kwargs):
        kwargs = dict(kwargs)
        training = kwargs.pop("training", None)
        first = args[0] if args else None
        run_call = False
        if not self.built:
            shapes = tree.map_structure(
                lambda t: t.shape if isinstance(t, KerasTensor) else _shape_of(t),
                _first_input(self, args, kwargs),
            )
            self._build_with_shapes(shapes, (args, kwargs))
            # Keras: a layer without its own build() whose sub-layers are not
            # built yet is built by running call() once, even when its
            # compute_output_shape() gives the output shapes.
            run_call = (
                type(self).build is Layer.build
                and type(self).compute_output_shape is not Layer.compute_output_shape
                and any(not layer.built for layer in self._flatten_layers())
            )
        if self.input_spec is not None and isinstance(first, KerasTensor):
            check_input_spec(
                self.input_spec, first.shape, self.name, type(self).__name__
            )
        # Keras masking: the call sees the mask it is given, else the one its
        # first input carries; the outputs get theirs from compute_mask.
        spec_kwargs, previous_mask = _symbolic_mask_kwargs(self, args, kwargs)
        default = self._symbolic_training
        if training is not None:  # Keras works the shapes out with it
            self._symbolic_training = bool(training)
        try:
            if run_call:
                self._spec_from_call(*args, **spec_kwargs)
            outputs = self.compute_output_spec(*args, **spec_kwargs)
        finally:
            self._symbolic_training = default
        Node(self, args, kwargs, outputs)
        _set_symbolic_mask(self, args, kwargs, outputs, previous_mask)
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        """KerasTensors for the outputs of `call` on KerasTensor `args`."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            names = _shape_args_of(self, type(self).compute_output_shape)
            if names:
                # Keras: `compute_output_shape(self, x_shape, y_shape)` gets
                # the shape of each `call()` argument it names.
                shapes = _named_build_shapes(
                    self, names, None, (args, kwargs), "compute_output_shape"
                )
                return _specs_of_shapes(self, self.compute_output_shape(**shapes))
            shapes = tree.map_structure(
                lambda t: t.shape if isinstance(t, KerasTensor) else t,
                _first_input(self, args, kwargs),
            )
            return _specs_of_shapes(self, self.compute_output_shape(shapes))
        return self._spec_from_call(*args, **kwargs)

    def _spec_from_call(self, *args, **kwargs):
        """KerasTensors for the outputs, found by running `call` on fake
        tensors (which also builds the sub-layers it calls)."""
        from lamina.backend.shape_inference import compute_output_spec

        def _run(*a, **k):
            if self._call_has_training_arg:
                k["training"] = self._symbolic_training
            if self._eager_casts_inputs and a and isinstance(a[0], torch.Tensor):
                # As an eager call: a floating input in the compute dtype, a
                # mixed policy's compute under autocast.
                a = (self._first_input_as_tensors(a[0]),) + a[1:]
                if self._mixed:
                    device_type = _device_type(a)
                    dtype = self._compute_torch_dtype
                    with torch.autocast(device_type, dtype=dtype):
                        return self.call(*a, **k)
            return self.call(*a, **k)

        # Sub-layers first called (so built) inside this run see a probe's
        # batch size where the batch is unknown: their build configs and
        # summary() should say None, as for a functional model's layers.
        first = args[0] if args else None
        unknown_batch = isinstance(first, KerasTensor) and first.shape[:1] == (None,)
        unbuilt = (
            [layer for layer in self._flatten_layers() if not layer.built]
            if unknown_batch
            else ()
        )
        outputs = compute_output_spec(_run, *args, modules=(self,), **kwargs)
        for layer in unbuilt:
            if layer.built and layer._build_shapes is not None:
                layer._build_shapes = _unknown_batch(layer._build_shapes)
        return outputs

    def compute_output_shape(self, input_shape):
        """Output shape for inputs of `input_shape` (by default inferred by running
        `call` on shape-only tensors).

        Raises:
            NotImplementedError: If the layer has no `call()` to infer it from.
        """
        if type(self).call is Layer.call:
            raise NotImplementedError(
                f"Layer {type(self).__name__} does not have a "
                "`compute_output_shape` method implemented. Should implement "
                "`def compute_output_shape(self, input_shape)` (or `call()`, "
                "which lamina infers it from)."
            )
        spec = self.compute_output_spec(specs_from_shapes(input_shape))
        return shapes_of(spec)

    def compute_mask(self, inputs, previous_mask=None):
        """The mask of the outputs: by default the input mask passes through layers
        that set `supports_masking = True`, and stops elsewhere."""
        if not self.supports_masking:
            return None
        return previous_mask

    # --- config ---------------------------------------------------------------

    def get_config(self) -> dict:
        from lamina.saving.serialization_lib import serialize_keras_object

        config = {"name": self.name}
        if type(self).get_config is Layer.get_config and type(self).__init__ is not (
            Layer.__init__
        ):
            # Keras's automatic config: the constructor's arguments, then the
            # layer's own trainable flag and policy over any passed ones.
            args, kwargs = self._constructor_args
            parameters = inspect.signature(type(self).__init__).parameters
            if args:
                kwargs = {**dict(zip(list(parameters)[1:], args)), **kwargs}
            try:
                kwargs = serialize_keras_object(kwargs)
            except TypeError:
                raise NotImplementedError(
                    f"Layer {type(self).__name__} has arguments that are not "
                    "serializable, so it needs its own get_config() returning them."
                ) from None
            config.update(kwargs)
            if "name" not in parameters and not any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
            ):
                del config["name"]  # `__init__` could not take it back
        config["trainable"] = self.trainable
        config["dtype"] = serialize_keras_object(self._dtype_policy)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize_keras_object(
                self.activity_regularizer
            )
        return config

    @classmethod
    def from_config(cls, config):
        # As Keras: a serialized quantized policy or policy map reaches
        # `__init__` as the policy object, a plain one as its name.
        from lamina.dtype_policies import _config_with_policy

        try:
            return cls(**_config_with_policy(config))
        except TypeError as error:  # an argument `__init__` does not take
            raise TypeError(
                f"Error when deserializing class '{cls.__name__}' using "
                f"config={config}.\n\nException encountered: {error}"
            ) from error

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    def _get_name(self):
        return type(self).__name__


def _checks_layer_init(init):
    """`init` followed by Keras's check that it ran `Layer.__init__` (a subclass
    that forgets `super().__init__()` would fail later, at its first call, with
    torch's bare AttributeError)."""

    @functools.wraps(init)
    def checked_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if "_modules" not in self.__dict__:
            raise RuntimeError(forgot_super_init_message(self, "the layer"))

    return checked_init


def _attribute_layers(module) -> list:
    """The layers `module` holds as attributes (also in lists and dicts of
    them), in the order they were tracked (`TrackingOrder`)."""
    found = []
    for child in module.children():
        if isinstance(child, Layer):
            found.append(child)
        elif isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict)):
            found.extend(_attribute_layers(child))
    order = module.__dict__.get("_tracking_order")
    if order is None or torch.compiler.is_compiling():
        return found  # a compiled step reads the layers only to sum their losses
    return order.sort(found)


def _is_metric(value) -> bool:
    from lamina.metrics import Metric

    return isinstance(value, Metric)


def _unknown_batch(shapes):
    """`shapes` (a shape, or a list/dict of them) with a leading probe size
    (`shape_inference`'s stand-in for an unknown batch) replaced by None."""
    from lamina.backend.shape_inference import PROBE_BATCH_SIZES

    if isinstance(shapes, dict):
        return {k: _unknown_batch(v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)) and shapes:
        if all(d is None or isinstance(d, int) for d in shapes):
            if shapes[0] in PROBE_BATCH_SIZES:
                return type(shapes)([None, *shapes[1:]])
            return shapes
        return type(shapes)(_unknown_batch(s) for s in shapes)
    return shapes
