"""Weight quantization for Dense, EinsumDense and Embedding, as Keras 3 does it.

This module holds what the modes share (checks, policies, save order, the
integer product and its gradient) and dispatches to `_quantized_int8`,
`_quantized_int4`, `_quantized_float8`, `_quantized_gptq` and `_quantized_awq`,
one per mode (Embedding has no float8, GPTQ or AWQ mode, as in Keras). GPTQ and
AWQ layers are calibrated on data by `quantize_model` after the layers got
their variables (`lamina.quantizers.gptq_core` / `awq_core`).

`layer.quantize("int8")` replaces the float kernel with an int8 kernel and a
float `kernel_scale` (Keras's names and variable order, so files move both ways)
and gives the layer the policy `QuantizedDTypePolicy("int8_from_<policy>")`. A
layer created with such a policy (a quantized model loading) builds the int8
variables directly. The quantized forward pass is installed on the instance
once (`layer.call`), so the float layers' call has no extra branch. A layer with
LoRA enabled (`_lora`) keeps it: `_finish` adds the low-rank product.
"""

import types
import warnings

import torch

from lamina.layers._layer_calls import _CALL_CONTEXT
from lamina.quantizers import quantization_config as _configs
from lamina.quantizers.quantizers import AbsMaxQuantizer

SUPPORTED_MODES = ("int8", "int4", "float8", "gptq", "awq")
# Modes whose layers are calibrated on data after `quantize` prepared them.
_CALIBRATED_MODES = ("gptq", "awq")
_EMBEDDING_MODES = ("int8", "int4")

# Keras writes variables of quantized layers in this order (not trainable-first).
_DENSE_SAVE_ORDER = ("kernel", "bias", "kernel_scale")


# --- shared -------------------------------------------------------------------


def config_from_arg(value):
    """`quantization_config=` as given to a constructor: None, a config, or
    the dict `from_config` passes."""
    if isinstance(value, dict) and "class_name" in value:
        from lamina import quantizers

        value = quantizers.deserialize(value)
    if value is None or isinstance(value, _configs.QuantizationConfig):
        return value
    raise TypeError(
        "quantization_config must be a lamina.quantizers.QuantizationConfig (such "
        f"as Int8QuantizationConfig()) or None; got {value!r}."
    )


def serialize_config(config):
    from lamina.saving.serialization_lib import serialize_keras_object

    return serialize_keras_object(config)


def unsupported_mode_error(layer, mode, supported=SUPPORTED_MODES):
    name = type(layer).__name__
    return NotImplementedError(
        f"Layer '{layer.name}' ({name}): Invalid quantization mode. Expected one "
        f"of {supported}. Received: quantization_mode={mode!r}; {mode!r} is not "
        f"supported by {name}."
    )


def quantized_build(layer, build, args, mode, config, supported=SUPPORTED_MODES):
    """Keras's `quantized_build(shape, mode, config=None)` of Dense, EinsumDense
    and Embedding: `build(layer, *args, config, mode=mode)` creates `mode`'s
    variables (without a config, the layer's policy decides their details, as
    in Keras: int4 under a float policy is per channel)."""
    if mode not in supported:
        raise unsupported_mode_error(layer, mode, supported)
    build(layer, *args, config, mode=mode)


def _prepare(layer, cls, mode, type_check, config, supported=SUPPORTED_MODES):
    """Resolve the config and check the layer can be quantized (Keras's
    checks, in its order)."""
    if type_check and type(layer) is not cls:
        raise NotImplementedError(
            f"Layer {type(layer).__name__} does not have a `quantize` method "
            f"implemented (it subclasses {cls.__name__}; pass type_check=False "
            "to quantize it as one)."
        )
    config = _configs.validate_and_resolve_config(mode, config)
    mode = config.mode
    if not layer.built:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}): Cannot quantize a "
            "layer that isn't yet built. It is not built until it is called on "
            "data (or the model is built): do that first."
        )
    if getattr(layer, "_is_quantized", False):
        raise ValueError(
            f"Layer '{layer.name}' is already quantized with dtype_policy="
            f"'{layer.dtype_policy.name}'; got mode={mode!r}."
        )
    if mode not in supported:
        raise unsupported_mode_error(layer, mode, supported)
    if layer.lora_enabled and mode not in ("int8", "int4", "float8"):
        raise NotImplementedError(
            f"Layer '{layer.name}' ({type(layer).__name__}) has LoRA enabled; "
            "lamina quantizes such layers to 'int8', 'int4' or 'float8' only, not "
            f"{mode!r}."
        )
    if mode == "int8" and layer.compute_dtype == "float16":
        raise ValueError(
            f"Quantization mode={mode!r} does not work well with "
            "compute_dtype='float16'. Load the layer with another policy, such "
            "as 'mixed_bfloat16', before calling quantize()."
        )
    return config


def _drop_weight(layer, param):
    """Forget a float weight the quantized ones replace."""
    for key, value in list(layer._parameters.items()):
        if value is param:
            del layer._parameters[key]
    layer._untrack_variable(param)


def _assign(param, value):
    with torch.no_grad():
        param.copy_(torch.as_tensor(value).to(param.device).reshape(param.shape))


def _set_quantized_policy(layer, mode, config=None):
    if layer.dtype_policy.quantization_mode is None:
        if mode in _CALIBRATED_MODES:
            mode = config.dtype_policy_string()
        elif mode == "int4":
            from lamina.layers.core import _quantized_int4

            mode = _quantized_int4.policy_mode(layer, config)
        # A layer holding a DTypePolicyMap quantizes from its own entry (Keras
        # 3.15 fails here: it reads the map's name, "map_float32").
        layer.dtype_policy = f"{mode}_from_{own_policy(layer).name}"


def own_policy(layer):
    """The layer's own dtype policy: for a `DTypePolicyMap`, the entry of the
    layer's path (a GPTQ policy under `"model/dense"` gives its bits and group
    size to that layer), else the policy itself."""
    policy = layer.dtype_policy
    resolve = getattr(policy, "_policy", None)
    return policy if resolve is None else resolve()


def _build_mode(layer, config, supported=SUPPORTED_MODES, mode=None):
    """The mode to build: `mode` if given, else the config's, else the layer's
    policy's."""
    if mode is None:
        mode = layer.dtype_policy.quantization_mode if config is None else config.mode
    if mode not in supported:
        raise unsupported_mode_error(layer, mode, supported)
    return mode


def _install(layer, call, product=None, inputs_grad=None, save_order=None):
    """Swap in the quantized call (and Keras's save order) on this instance."""
    layer._is_quantized = True
    layer.call = types.MethodType(call, layer)
    if product is not None:
        layer._int8_product = types.MethodType(product, layer)
        layer._int8_inputs_grad = types.MethodType(inputs_grad, layer)
    if save_order is not None:
        layer.save_own_variables = types.MethodType(_saver(save_order), layer)
        layer.load_own_variables = types.MethodType(_loader(save_order), layer)


def _saver(order):
    def save_own_variables(self, store):
        for i, variable in enumerate(_ordered(self, order)):
            store[str(i)] = variable

    return save_own_variables


def _loader(order):
    def load_own_variables(self, store):
        variables = _ordered(self, order)
        if len(store) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}, quantized) has "
                f"{len(variables)} variables {[v.path for v in variables]}, but "
                f"the file holds {len(store)} for it."
            )
        values = [store[str(i)] for i in range(len(variables))]
        for variable, value in zip(variables, values):
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): variable "
                    f"'{variable.path}' has shape {tuple(variable.shape)}, but the "
                    f"file holds shape {tuple(value.shape)}."
                )
        for variable, value in zip(variables, values):
            _assign(variable, torch.from_numpy(value).to(variable.dtype))

    return load_own_variables


def _ordered(layer, order):
    names = {"kernel": "_kernel" if hasattr(layer, "_kernel") else "kernel"}
    found = (getattr(layer, names.get(name, name), None) for name in order)
    return [v for v in found if v is not None]


def _add_int8(layer, name, shape):
    return layer.add_weight(
        name=name,
        shape=tuple(shape),
        initializer="zeros",
        dtype="int8",
        trainable=False,
    )


def _add_scale(layer, name, shape):
    return layer.add_weight(
        name=name, shape=tuple(shape), initializer="ones", trainable=False
    )


def _quantized_int8():
    from lamina.layers.core import _quantized_int8

    return _quantized_int8


def _inputs_quantizer(config):
    return _configs.QuantizationConfig.activation_quantizer_or_default(
        config, AbsMaxQuantizer()
    )


# --- the integer product and its gradient ------------------------------------------


def _int8_matmul(a, b):
    """`a @ b` of two int8 tensors, exactly, as float32."""
    if a.is_cuda and a.ndim == 2:
        m, k = a.shape
        n = b.shape[1]
        if m > 16 and k >= 16 and k % 8 == 0 and n % 8 == 0:
            try:
                return torch._int_mm(a, b).to(torch.float32)
            except RuntimeError:
                pass
    # Products are at most 127 * 127: float32 sums them exactly up to ~1000
    # terms and to float32 rounding beyond (int32 GEMMs are slow on the CPU).
    return torch.matmul(a.to(torch.float32), b.to(torch.float32))


class _QuantizedProduct(torch.autograd.Function):
    """Forward: the quantized product; backward: inputs' gradient through the
    dequantized kernel (the int8 kernel and its scale get none, as in Keras)."""

    @staticmethod
    def forward(ctx, inputs, kernel, kernel_scale, product, backward):
        ctx.save_for_backward(kernel, kernel_scale)
        ctx.backward_fn = backward
        return product(inputs, kernel, kernel_scale)

    @staticmethod
    def backward(ctx, upstream):
        kernel, kernel_scale = ctx.saved_tensors
        return ctx.backward_fn(upstream, kernel, kernel_scale), None, None, None, None


def _in_compute_dtype(layer, variable):
    """A float variable (a scale, float8's kernel) as Keras reads it inside
    `call`: in the compute dtype when Keras's autocast scope is on, so the
    maths round as there and the outputs keep the compute dtype. The scope is
    on for a mixed layer; Embedding (`autocast=False`) opens it only outside
    another mixed layer's scope (on its own, or in a float32 model)."""
    compute = layer._compute_torch_dtype
    if variable.dtype is compute:
        return variable  # the usual case: one dtype read
    if layer.autocast or (layer._mixed and _CALL_CONTEXT.autocast is None):
        return variable.to(compute)
    return variable


def _finish(layer, x, inputs=None):
    if inputs is not None and layer.lora_enabled:
        # Keras: LoRA's low-rank product of the inputs joins before the bias.
        x = x + layer._lora_delta(inputs)
        if x.dtype != layer._compute_torch_dtype:
            x = x.to(layer._compute_torch_dtype)
    bias = layer.bias
    if bias is not None:
        if bias.dtype != x.dtype and layer.autocast:
            # Keras reads variables in the compute dtype (mixed policies).
            bias = bias.to(x.dtype)
        x = x + bias
    if layer._linear_activation:
        return x
    return layer.activation(x)


# --- Dense --------------------------------------------------------------------


def quantize_dense(layer, mode, type_check, config):
    from lamina.layers.core.dense import Dense

    config = _prepare(layer, Dense, mode, type_check, config)
    layer.quantization_config = config
    if config.mode == "gptq":
        from lamina.layers.core import _quantized_gptq

        _quantized_gptq.quantize_dense(layer, config)
    elif config.mode == "awq":
        from lamina.layers.core import _quantized_awq

        _quantized_awq.quantize_dense(layer, config)
    elif config.mode == "int4":
        from lamina.layers.core import _quantized_int4

        _quantized_int4.quantize_dense(layer, config)
    elif config.mode == "float8":
        from lamina.layers.core import _quantized_float8

        _quantized_float8.quantize(layer, config)
    else:
        _quantized_int8().quantize_dense(layer, config)
    _set_quantized_policy(layer, config.mode, config)
    if layer.lora_enabled:
        from lamina.layers.core import _lora

        _lora.after_quantize(layer)


def build_dense(layer, kernel_shape, config, mode=None):
    """Create Dense's quantized variables (called by `quantize`, by `build`
    under a quantized policy and by `quantized_build`; float8 leaves the float
    kernel to `build`)."""
    mode = _build_mode(layer, config, mode=mode)
    if mode == "gptq":
        from lamina.layers.core import _quantized_gptq

        return _quantized_gptq.build_dense(layer, kernel_shape, config)
    if mode == "awq":
        from lamina.layers.core import _quantized_awq

        return _quantized_awq.build_dense(layer, kernel_shape, config)
    if mode == "int4":
        from lamina.layers.core import _quantized_int4

        return _quantized_int4.build_dense(layer, kernel_shape, config)
    if mode == "float8":
        from lamina.layers.core import _quantized_float8

        _quantized_float8.add_variables(layer)
        return _quantized_float8.install(layer, _quantized_float8._dense_call)
    _quantized_int8().build_dense(layer, kernel_shape, config)


# --- EinsumDense ----------------------------------------------------------------


def quantize_einsum_dense(layer, mode, type_check, config):
    from lamina.layers.core.einsum_dense import EinsumDense

    config = _prepare(layer, EinsumDense, mode, type_check, config)
    layer.quantization_config = config
    if config.mode == "gptq":
        from lamina.layers.core import _quantized_gptq

        _quantized_gptq.quantize_einsum_dense(layer, config)
    elif config.mode == "awq":
        from lamina.layers.core import _quantized_awq

        _quantized_awq.quantize_einsum_dense(layer, config)
    elif config.mode == "int4":
        from lamina.layers.core import _quantized_int4

        _quantized_int4.quantize_einsum_dense(layer, config)
    elif config.mode == "float8":
        from lamina.layers.core import _quantized_float8

        _quantized_float8.quantize(layer, config)
    else:
        _quantized_int8().quantize_einsum_dense(layer, config)
    _set_quantized_policy(layer, config.mode, config)
    if layer.lora_enabled:
        from lamina.layers.core import _lora

        _lora.after_quantize(layer)


def build_einsum_dense(layer, kernel_shape, config, mode=None):
    """Create EinsumDense's quantized variables (by `quantize`, `build` or
    `quantized_build`; float8 leaves the float kernel to `build`)."""
    mode = _build_mode(layer, config, mode=mode)
    if mode == "gptq":
        from lamina.layers.core import _quantized_gptq

        return _quantized_gptq.build_einsum_dense(layer, kernel_shape, config)
    if mode == "awq":
        from lamina.layers.core import _quantized_awq

        return _quantized_awq.build_einsum_dense(layer, kernel_shape, config)
    if mode == "int4":
        from lamina.layers.core import _quantized_int4

        return _quantized_int4.build_einsum_dense(layer, kernel_shape, config)
    if mode == "float8":
        from lamina.layers.core import _quantized_float8

        _quantized_float8.add_variables(layer)
        return _quantized_float8.install(layer, _quantized_float8._einsum_call)
    _quantized_int8().build_einsum_dense(layer, kernel_shape, config)


# --- Embedding ------------------------------------------------------------------


def quantize_embedding(layer, mode, type_check, config):
    from lamina.layers.core.embedding import Embedding

    config = _prepare(layer, Embedding, mode, type_check, config, _EMBEDDING_MODES)
    layer.quantization_config = config
    if config.mode == "int4":
        from lamina.layers.core import _quantized_int4

        _quantized_int4.quantize_embedding(layer, config)
    else:
        _quantized_int8().quantize_embedding(layer, config)
    _set_quantized_policy(layer, config.mode, config)
    if layer.lora_enabled:
        from lamina.layers.core import _lora

        _lora.after_quantize(layer)


def build_embedding(layer, config, mode=None):
    """Create Embedding's quantized variables (by `quantize`, `build` or
    `quantized_build`)."""
    if _build_mode(layer, config, _EMBEDDING_MODES, mode) == "int4":
        from lamina.layers.core import _quantized_int4

        return _quantized_int4.build_embedding(layer, config)
    _quantized_int8().build_embedding(layer, config)


# --- Model ----------------------------------------------------------------------


def _selected(layer, filters):
    from lamina.quantizers.gptq_core import should_quantize_layer

    return should_quantize_layer(layer, filters)


def quantize_model(model, mode=None, config=None, filters=None, **kwargs):
    """Quantize every leaf layer of `model` that supports it, then calibrate
    the GPTQ layers (see `Model.quantize`)."""
    type_check = kwargs.pop("type_check", True)
    if kwargs:
        raise ValueError(
            f"Unrecognized keyword arguments passed to {type(model).__name__}"
            f".quantize(): {kwargs}."
        )
    if filters is not None and not (
        isinstance(filters, (str, list, tuple)) or callable(filters)
    ):
        raise ValueError(
            "quantize() expects `filters` to be a regex string, a list of regex "
            f"strings or a callable taking a layer; got {type(filters).__name__}."
        )
    resolved = _configs.validate_and_resolve_config(mode, config)
    if resolved.mode not in SUPPORTED_MODES:
        raise NotImplementedError(
            f"Model '{model.name}': quantization mode {resolved.mode!r} is not "
            f"implemented in lamina; supported modes: {SUPPORTED_MODES}."
        )
    if not model.built:
        raise ValueError(
            "Cannot quantize a layer that isn't yet built. Model "
            f"'{model.name}' is not built: call it on data, or start it with an "
            "Input, first."
        )

    structure = None
    if resolved.mode in _CALIBRATED_MODES:
        # Checked before any layer changes (Keras checks after preparing them).
        from lamina.quantizers.gptq_core import check_calibration_inputs

        structure = resolved.quantization_layer_structure
        if structure is None:
            structure = model.get_quantization_layer_structure(resolved.mode)
        check_calibration_inputs(resolved, structure, resolved.mode)

    from lamina.layers.layer import Layer

    changed = False
    for layer in model._flatten_layers():
        if not _selected(layer, filters) or len(layer._flatten_layers()) != 1:
            continue
        if type(layer).quantize is Layer.quantize:
            # Keras warns for each of these (InputLayer, Dropout, ...); a layer
            # with nothing to quantize is skipped quietly.
            continue
        try:
            layer.quantize(mode, type_check=type_check, config=config)
            changed = True
        except NotImplementedError as error:
            warnings.warn(str(error), stacklevel=3)
    if resolved.mode == "gptq":
        from lamina.quantizers.gptq_core import gptq_quantize

        gptq_quantize(resolved, structure, filters=filters)
    elif resolved.mode == "awq":
        from lamina.quantizers.awq_core import awq_quantize

        awq_quantize(resolved, structure, filters=filters)
    if changed:
        # Step functions and the trainer's parameter list saw the float kernels.
        # float8 layers are eager-only, so whether jit applies is asked again.
        for key in (
            "_compiled_train",
            "_compiled_test",
            "_compiled_predict",
            "_jit_usable",
        ):
            model.__dict__.pop(key, None)
        model._compiled_forward = None
        model._trainable_params = None
        model.__dict__.pop("_device_probe", None)
