"""LoRA (low-rank adaptation) for Dense, EinsumDense and Embedding, as Keras 3.

`layer.enable_lora(rank)` freezes the base weight `W` and adds two trainable
float32 matrices `A` and `B` (Keras's names: `lora_kernel_a`/`lora_kernel_b`, or
`lora_embeddings_a`/`lora_embeddings_b`); the layer then computes with
`W + (lora_alpha / rank) * A @ B`. `B` starts at zero, so the outputs do not
change when LoRA is enabled.

Everything is decided at enable time, so layers without LoRA run exactly as
before: a float layer gets a LoRA `call` installed on the instance (it merges
the delta into the weight, as Keras does); an int8 or int4 layer keeps its
quantized call, which adds the low-rank product of the inputs. Saving writes the
merged weight in the variables' usual places (an int8 or int4 layer re-quantizes
it with its own scheme) and never the LoRA matrices; loading assigns the base
weights and zeroes both LoRA matrices, as Keras does.
"""

import types

import torch
import torch.nn.functional as F

from lamina import initializers
from lamina.layers.core._quantized_einsum import (
    einsum_info,
    scale_to_kernel,
    scale_to_output,
)
from lamina.quantizers.quantizers import AbsMaxQuantizer

# Keras 3.15 lets LoRA onto a float8 layer but its float8 call and saving then
# fail; lamina runs it (the low-rank product of the inputs joins the float8
# product, as on int8 layers) and saves the merged float kernel.
_SUPPORTED_MODES = (None, "int8", "int4", "float8")


def check_rank(layer, rank):
    """The constructor's `lora_rank`: None, or a non-negative int (0 and None
    leave LoRA off, as in Keras)."""
    if rank is not None and (
        isinstance(rank, bool) or not isinstance(rank, int) or rank < 0
    ):
        raise ValueError(
            f"{type(layer).__name__} expects `lora_rank` to be None or a positive "
            f"int; got lora_rank={rank!r}."
        )
    return rank


def config(layer):
    """The `get_config` entries of LoRA: present only when `lora_rank` is set."""
    if not layer.lora_rank:
        return {}
    return {"lora_rank": layer.lora_rank, "lora_alpha": layer.lora_alpha}


def check_can_enable(layer, rank, who, constraint, constraint_arg):
    """Keras's checks before `enable_lora`, in its order (every layer with
    LoRA: Dense, EinsumDense, Embedding and the convolutions)."""
    if constraint:
        noun = "embedding" if constraint_arg.startswith("embeddings") else "kernel"
        raise ValueError(
            f"{who}: LoRA is incompatible with {noun} constraints. To enable "
            f"LoRA on this layer, create it without the `{constraint_arg}` "
            "argument."
        )
    if not layer.built:
        raise ValueError(
            f"{who}: Cannot enable lora on a layer that isn't yet built. Call it on "
            f"data (or build the model) first, or create it with "
            f"{type(layer).__name__}(..., lora_rank={rank!r})."
        )
    if layer.lora_enabled:
        raise ValueError(
            f"{who}: lora is already enabled (lora_rank={layer.lora_rank}). This "
            "can only be done once per layer."
        )
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(
            f"{who}: enable_lora() expects `rank` to be a positive int; got "
            f"rank={rank!r}."
        )


def add_pair(layer, base, names, shapes, initializers_, regularizer):
    """The trainable low-rank pair, float32 like Keras's (no underflow while
    training), on the base weight's device, set as the layer's attributes."""
    for name, shape, init in zip(names, shapes, initializers_):
        variable = layer.add_weight(
            name=name,
            shape=shape,
            initializer=initializers.get(init),
            dtype="float32",
            regularizer=regularizer,
        )
        if variable.device != base.device:
            with torch.no_grad():
                variable.data = variable.data.to(base.device)
        setattr(layer, name, variable)


def freeze_base(layer, base, rank, lora_alpha, names):
    """Freeze the base weight and record the LoRA settings and pair names
    (every layer with LoRA)."""
    base.requires_grad_(False)
    # Keras penalizes trainable weights only: the frozen base leaves the losses.
    layer._regularized = [(v, r) for v, r in layer._regularized if v is not base]
    layer.lora_enabled = True
    layer.lora_rank = rank
    layer.lora_alpha = lora_alpha if lora_alpha is not None else rank
    layer.__dict__["_lora_pair_names"] = names


def enable(layer, rank, lora_alpha, a_initializer, b_initializer):
    """`enable_lora` of the three layers (see `Dense.enable_lora`)."""
    # 1. Keras's checks, in its order; then lamina's own.
    who = f"Layer '{layer.name}' ({type(layer).__name__})"
    kind = _kind(layer)
    embedding = kind == "embedding"
    check_can_enable(
        layer,
        rank,
        who,
        layer.embeddings_constraint if embedding else layer.kernel_constraint,
        "embeddings_constraint" if embedding else "kernel_constraint",
    )
    mode = layer.dtype_policy.quantization_mode
    if mode is None and type(layer).call is not _base_class(layer).call:
        # The LoRA forward pass replaces the layer's own; a subclass's would be lost.
        raise NotImplementedError(
            f"{who} overrides call(), so lamina cannot add LoRA to it; LoRA is "
            f"available on {_base_class(layer).__name__} itself."
        )
    if mode not in _SUPPORTED_MODES:
        # Keras's words for GPTQ; it has no LoRA on AWQ layers either.
        raise NotImplementedError(
            f"{who}: lora is not currently supported with {mode.upper()} "
            "quantization. lamina supports LoRA on float, int8, int4 and float8 "
            "layers: enable LoRA on the float layer and quantize to one of those."
        )

    # 2. The low-rank pair, float32 like Keras's (no underflow while training).
    if embedding:
        names = ("lora_embeddings_a", "lora_embeddings_b")
        base_name = "embeddings"
        base = layer.embeddings
        shape_a, shape_b = (layer.input_dim, rank), (rank, layer.output_dim)
        regularizer = layer.embeddings_regularizer
    else:
        names = ("lora_kernel_a", "lora_kernel_b")
        base_name = "_kernel" if kind == "einsum" else "kernel"
        base = getattr(layer, base_name)
        if kind == "dense":  # (input_dim, units)
            kernel_shape = (base.shape[0], layer.units)
        elif mode == "int4":  # the packed kernel is flat: use the original shape
            kernel_shape = tuple(layer.original_kernel_shape)
        else:
            kernel_shape = tuple(base.shape)
        shape_a, shape_b = kernel_shape[:-1] + (rank,), (rank, kernel_shape[-1])
        regularizer = layer.kernel_regularizer
    add_pair(
        layer,
        base,
        names,
        (shape_a, shape_b),
        (a_initializer, b_initializer),
        regularizer,
    )

    # 3. Freeze the base weight and switch the forward pass and saving over.
    freeze_base(layer, base, rank, lora_alpha, names)
    if mode is None:
        _set_base(layer, base_name)
        layer.call = types.MethodType(_CALLS[kind], layer)
        _install_saving(layer)
    else:
        after_quantize(layer)
    layer.__dict__.pop("_device_probe", None)


def after_quantize(layer):
    """Keep LoRA on a layer just quantized to int8 (or built int8): the
    quantized call adds the low-rank product, saving merges and re-quantizes."""
    kind = _kind(layer)
    if kind == "embedding":
        _set_base(layer, "embeddings")
    else:
        _set_base(layer, "_kernel" if kind == "einsum" else "kernel")
    layer._lora_delta = types.MethodType(_DELTAS[kind], layer)
    _install_saving(layer)


def _set_base(layer, name):
    # The weights are looked up by name at each use, never held: moving the
    # layer with `.to("meta")`, `to_empty()` or `load_state_dict(assign=True)`
    # registers new Parameters, and a held one would stay behind on the old
    # device.
    layer.__dict__["_lora_base_name"] = name


def _base(layer):
    """The frozen base weight (float, or int8 under quantization)."""
    return getattr(layer, layer._lora_base_name)


def wrap_negative_ids(indices, rows):
    """Embedding lookups (float and LoRA): as in Keras on torch (`ops.take`),
    an index in `[-rows, 0)` counts from the end of the table; anything further
    out still fails the lookup."""
    return torch.where(indices < 0, indices + rows, indices)


def _pair(layer):
    """The LoRA matrices `(A, B)` as registered now."""
    a, b = layer._lora_pair_names
    return getattr(layer, a), getattr(layer, b)


def _base_class(layer):
    from lamina.layers.core.dense import Dense
    from lamina.layers.core.einsum_dense import EinsumDense
    from lamina.layers.core.embedding import Embedding

    return {"dense": Dense, "einsum": EinsumDense, "embedding": Embedding}[_kind(layer)]


def _kind(layer):
    if hasattr(layer, "embeddings_constraint"):
        return "embedding"
    return "dense" if hasattr(layer, "units") else "einsum"


def delta(layer):
    """`(lora_alpha / lora_rank) * A @ B`, the update LoRA adds to the weight."""
    a, b = _pair(layer)
    return (layer.lora_alpha / layer.lora_rank) * torch.matmul(a, b)


def merged(layer):
    """The float weight the layer computes with: base plus the LoRA update, in
    the compute dtype (Keras's `kernel` / `embeddings` under LoRA)."""
    weight = _base(layer) + delta(layer)
    compute = layer._compute_torch_dtype
    return weight if weight.dtype == compute else weight.to(compute)


# --- float forward passes ---------------------------------------------------------


def _dense_call(self, inputs):
    kernel = merged(self)
    if not inputs.is_floating_point():
        inputs = inputs.to(kernel.dtype)  # Keras: int inputs promote
    outputs = F.linear(inputs, kernel.t(), self.bias)
    if self._linear_activation:
        return outputs
    return self.activation(outputs)


def _einsum_call(self, inputs):
    x = torch.einsum(self.equation, inputs, merged(self))
    if self.bias is not None:
        x = x + self.bias
    if self._linear_activation:
        return x
    return self.activation(x)


def _embedding_call(self, inputs):
    if inputs.dtype not in (torch.int32, torch.int64):
        inputs = inputs.to(torch.int32)
    try:
        outputs = F.embedding(wrap_negative_ids(inputs, self.input_dim), merged(self))
    except IndexError as error:
        self._raise_out_of_range(inputs, error)
    if outputs.dtype != self._compute_torch_dtype:
        outputs = outputs.to(self._compute_torch_dtype)
    return outputs


_CALLS = {"dense": _dense_call, "einsum": _einsum_call, "embedding": _embedding_call}


# --- the low-rank product added to a quantized layer's outputs --------------------


def _scale(self):
    return self.lora_alpha / self.lora_rank


def _dense_delta(self, inputs):
    a, b = _pair(self)
    return _scale(self) * torch.matmul(torch.matmul(inputs, a), b)


def _einsum_delta(self, inputs):
    a, b = _pair(self)
    return _scale(self) * torch.matmul(torch.einsum(self.equation, inputs, a), b)


def _embedding_delta(self, inputs):
    a, b = _pair(self)
    inputs = wrap_negative_ids(inputs, self.input_dim)
    return _scale(self) * torch.matmul(F.embedding(inputs, a), b)


_DELTAS = {
    "dense": _dense_delta,
    "einsum": _einsum_delta,
    "embedding": _embedding_delta,
}


# --- saving ---------------------------------------------------------------------


def _install_saving(layer):
    """Wrap the layer's own save/load so the LoRA matrices stay out of files
    and the saved weight is the merged one (Keras's layout: a LoRA layer's
    file is the plain layer's)."""
    save, load = layer.save_own_variables, layer.load_own_variables

    def save_own_variables(self, store):
        values = _merged_for_saving(self)
        with _without_lora(self):
            staged = {}
            save(staged)
        for key, value in staged.items():
            store[key] = values.get(id(value), value)

    def load_own_variables(self, store):
        with _without_lora(self):
            load(store)
        with torch.no_grad():
            for variable in _pair(self):
                variable.zero_()

    layer.save_own_variables = types.MethodType(save_own_variables, layer)
    layer.load_own_variables = types.MethodType(load_own_variables, layer)


class _without_lora:
    """Hide the LoRA matrices from the variable lists while saving or loading
    (the plain save/load methods walk those lists)."""

    def __init__(self, layer):
        self.layer = layer

    def __enter__(self):
        pair = {id(v) for v in _pair(self.layer)}
        self.saved = self.layer._trainable_variables
        self.layer._trainable_variables = [v for v in self.saved if id(v) not in pair]

    def __exit__(self, *exc):
        self.layer._trainable_variables = self.saved


def _merged_for_saving(layer):
    """`{id(variable): value}`: what to write in place of the base weight (and,
    for int8, its scale)."""
    base = _base(layer)
    mode = layer.dtype_policy.quantization_mode
    with torch.no_grad():
        if mode in (None, "float8"):  # float8 keeps the float kernel
            return {id(base): (base + delta(layer)).to(base.dtype)}
        if mode == "int4":
            from lamina.layers.core import _quantized_int4

            return _quantized_int4.lora_merged(layer, _kind(layer), delta(layer))
        # int8: dequantize, add the update, re-quantize (new scales), as Keras.
        kind = _kind(layer)
        scale_var = (
            layer.embeddings_scale if kind == "embedding" else layer.kernel_scale
        )
        if kind == "einsum":
            info = einsum_info(layer)
            scale = scale_to_kernel(scale_var, info)
            axis = info["kernel_reduced"]
        elif kind == "dense":
            scale, axis = scale_var, 0
        else:
            scale, axis = scale_var.unsqueeze(-1), -1
        weight = base.to(layer._compute_torch_dtype) / scale + delta(layer)
        values, new_scale = AbsMaxQuantizer()(weight, axis=axis, to_numpy=True)
        if kind == "einsum":
            new_scale = scale_to_output(torch.as_tensor(new_scale), info, "kernel")
        else:
            new_scale = new_scale.squeeze(axis)
        return {id(base): values, id(scale_var): new_scale}
