"""LoRA on Conv1D, Conv2D and Conv3D, as Keras 3 has it.

`enable_lora(rank)` freezes `kernel` (`kernel_size + (in // groups,
filters)`) and adds the trainable float32 `lora_kernel_a` (`kernel_size +
(in // groups, rank)`) and `lora_kernel_b` (`(rank, filters)`); the layer then
convolves with `kernel + (lora_alpha / rank) * lora_kernel_a @ lora_kernel_b`.
Only a layer with LoRA gets the LoRA call (installed on the instance), so the
others run as before. Files hold the merged kernel in the kernel's place and
never the LoRA matrices (shared with Dense's LoRA, `layers.core._lora`).
"""

import types

from lamina.layers.core import _lora


def enable(layer, rank, lora_alpha, a_initializer, b_initializer):
    """`BaseConv.enable_lora` (Keras's checks, in its order)."""
    who = layer._who
    _lora.check_can_enable(
        layer, rank, who, layer.kernel_constraint, "kernel_constraint"
    )
    from lamina.layers.convolutional._base_conv import BaseConv

    if type(layer).call is not BaseConv.call:
        raise NotImplementedError(
            f"{who} overrides call(), so lamina cannot add LoRA to it; override "
            "convolution_op() instead, which LoRA layers call with the merged "
            "kernel."
        )
    base = layer.kernel
    shapes = (tuple(base.shape[:-1]) + (rank,), (rank, layer.filters))
    names = ("lora_kernel_a", "lora_kernel_b")
    _lora.add_pair(
        layer,
        base,
        names,
        shapes,
        (a_initializer, b_initializer),
        layer.kernel_regularizer,
    )
    _lora.freeze_base(layer, base, rank, lora_alpha, names)
    layer.__dict__["_lora_base_name"] = "kernel"
    custom = type(layer).convolution_op is not BaseConv.convolution_op
    layer.call = types.MethodType(_custom_op_call if custom else _call, layer)
    _lora._install_saving(layer)
    layer.__dict__.pop("_device_probe", None)


def _call(self, inputs):
    kernel = _lora.merged(self)
    return self._activate(self._convolve(inputs, kernel, self.bias))


def _custom_op_call(self, inputs):
    # A subclass's convolution_op sees the merged kernel, as in Keras.
    return self._call_custom_op(inputs, _lora.merged(self))
