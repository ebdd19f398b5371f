"""GPTQ-quantized Dense and EinsumDense, with Keras 3's variables and layout.

`layer.quantize("gptq", config=GPTQConfig(...))` only prepares the layer: it
adds the quantized variables (zeros) next to the float kernel, which the layer
keeps computing with, and takes the policy `"gptq/<bits>/<group>_from_<src>"`.
`model.quantize` then calibrates (`lamina.quantizers.gptq_core`) and calls
`finish` per layer, which drops the float kernel, fills the variables and
installs the quantized call. A layer built under a GPTQ policy (a model
loading) gets the variables and the quantized call at once.

The variables, as Keras names and shapes them (rows: the kernel's input
features, columns: its outputs; see `gptq.kernel_rows_columns`):

- `quantized_kernel` ("kernel"), uint8 `(columns, rows)`: the levels, two 4-bit
  values a byte along the first axis for 4 bits (`pack_int4`, uint8);
- `kernel_scale`, float32 `(columns, n_groups)`;
- `kernel_zero` ("kernel_zero" in Dense, "zero_point" in EinsumDense), uint8
  `(columns, n_groups)`;
- `g_idx`, float32 `(rows,)`: row `r` uses group `int(g_idx[r])`.

The float kernel is `((levels - zero[:, g]) * scale[:, g])`, transposed.
"""

import torch

from lamina.layers.core import _quantized as q
from lamina.quantizers import gptq as _gptq
from lamina.quantizers import quantizers as _quantizers
from lamina.quantizers.gptq_config import GPTQConfig
from lamina.quantizers.quantizers import pack_int4

# The eager maths under the public ops (no symbolic-tensor dispatch, which
# costs about 1 us a call): these run on real tensors, some every call.
unpack_int4 = _quantizers.unpack_int4.__wrapped__

# Keras's `variable_serialization_spec["gptq"]`. Keras 3.15.1 itself leaves
# `kernel_zero` out when it saves (and then cannot load its own file); lamina
# writes all five, which Keras loads.
SAVE_ORDER = ("bias", "quantized_kernel", "kernel_scale", "kernel_zero", "g_idx")


def settings_for(layer, config):
    """`(weight_bits, group_size)`: the config's if it is a GPTQConfig, else
    those in the layer's `GPTQDTypePolicy`.

    Raises:
        ValueError: if neither gives them.
    """
    from lamina.dtype_policies.quantized_dtype_policy import GPTQDTypePolicy

    if isinstance(config, GPTQConfig):
        return config.weight_bits, config.group_size
    policy = q.own_policy(layer)
    if isinstance(policy, GPTQDTypePolicy):
        return policy.weight_bits, policy.group_size
    raise ValueError(
        f"Layer '{layer.name}' ({type(layer).__name__}): GPTQ needs weight_bits "
        "and group_size, from a GPTQConfig or a GPTQDTypePolicy such as "
        f"'gptq/4/128_from_float32'; got config={config!r} and dtype_policy="
        f"{layer.dtype_policy!r}."
    )


def float_kernel(layer):
    """The float kernel calibration reads (Dense's `kernel`, EinsumDense's
    `_kernel`)."""
    from lamina.layers.core.dense import Dense

    return layer.kernel if isinstance(layer, Dense) else layer._kernel


def _add_variables(layer, kernel_shape, config, zero_name):
    bits, group_size = settings_for(layer, config)
    layer.is_gptq_calibrated = False
    add_variables(layer, kernel_shape, bits, group_size, zero_name)


def add_variables(layer, kernel_shape, bits, group_size, zero_name, awq=False):
    """Create the quantized kernel, scale, zero point, (AWQ's `awq_scales`,)
    and `g_idx` in Keras's order, all zeros (scales ones)."""
    rows, columns = _gptq.kernel_rows_columns(kernel_shape)
    groups = _gptq.n_groups(rows, group_size)
    layer._gptq_bits = bits
    layer._gptq_columns = columns
    layer.original_kernel_shape = tuple(kernel_shape)
    stored_columns = (columns + 1) // 2 if bits == 4 else columns
    layer.quantized_kernel = layer.add_weight(
        name="kernel",
        shape=(stored_columns, rows),
        initializer="zeros",
        dtype="uint8",
        trainable=False,
    )
    layer.kernel_scale = q._add_scale(layer, "kernel_scale", (columns, groups))
    layer.kernel_zero = layer.add_weight(
        name=zero_name,
        shape=(columns, groups),
        initializer="zeros",
        dtype="uint8",
        trainable=False,
    )
    if awq:
        layer.awq_scales = q._add_scale(layer, "awq_scales", (rows,))
    layer.g_idx = layer.add_weight(
        name="g_idx",
        shape=(rows,),
        initializer="zeros",
        dtype="float32",
        trainable=False,
    )


def quantize_dense(layer, config):
    """Add the GPTQ variables to a float Dense; it computes as before until
    calibration calls `finish`."""
    _add_variables(layer, tuple(layer.kernel.shape), config, "kernel_zero")
    layer._is_quantized = True


def build_dense(layer, kernel_shape, config):
    """Dense under a GPTQ policy: the variables and the quantized call."""
    _add_variables(layer, kernel_shape, config, "kernel_zero")
    install(layer, SAVE_ORDER, "is_gptq_calibrated")


def quantize_einsum_dense(layer, config):
    """As `quantize_dense`, for EinsumDense (2-D or 3-D kernels)."""
    _add_variables(layer, tuple(layer._kernel.shape), config, "zero_point")
    layer.gptq_unpacked_column_size = layer._gptq_columns
    layer._is_quantized = True


def build_einsum_dense(layer, kernel_shape, config):
    """EinsumDense under a GPTQ policy: the variables and the quantized call."""
    _add_variables(layer, kernel_shape, config, "zero_point")
    layer.gptq_unpacked_column_size = layer._gptq_columns
    install(layer, SAVE_ORDER, "is_gptq_calibrated")


def finish(layer, quantized, scale, zero, g_idx):
    """Put calibration's results in place of the float kernel."""
    assign_results(layer, quantized, scale, zero, g_idx)
    install(layer, SAVE_ORDER, "is_gptq_calibrated")
    layer.is_gptq_calibrated = True


def assign_results(layer, quantized, scale, zero, g_idx, awq_scales=None):
    """Drop the float kernel and fill the quantized variables."""
    from lamina.layers.core.dense import Dense

    levels = quantized.to(torch.uint8)
    if layer._gptq_bits == 4:
        levels, _, _ = pack_int4(levels, axis=0, dtype="uint8")
    q._drop_weight(layer, float_kernel(layer))
    if not isinstance(layer, Dense):
        layer.__dict__.pop("_kernel", None)
    q._assign(layer.quantized_kernel, levels)
    q._assign(layer.kernel_scale, scale)
    q._assign(layer.kernel_zero, zero)
    if awq_scales is not None:
        q._assign(layer.awq_scales, awq_scales)
    q._assign(layer.g_idx, g_idx)


def install(layer, save_order, flag):
    """Install the quantized call and the save order `save_order`; loading a
    file sets `layer.<flag>`."""
    from lamina.layers.core.dense import Dense

    call = _dense_call if isinstance(layer, Dense) else _einsum_call
    q._install(layer, call, save_order=save_order)
    loader = q._loader(save_order)
    algorithm = flag.split("_")[1].upper()

    def load_own_variables(self, store):
        expected = len(q._ordered(self, save_order))
        if len(store) == expected - 1:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}, {algorithm}) needs "
                f"{expected} variables but the file holds {len(store)}: it "
                "lacks `kernel_zero`, which Keras 3.15.1 leaves out when it "
                f"saves a {algorithm} layer. Quantize the float model again (in "
                "lamina or Keras) and save it with lamina."
            )
        loader(self, store)
        setattr(self, flag, True)

    layer.load_own_variables = load_own_variables.__get__(layer)


def dequantized_kernel(layer):
    """The float kernel the quantized variables stand for, `(rows, columns)`."""
    levels = layer.quantized_kernel
    if layer._gptq_bits == 4:
        levels = unpack_int4(levels, layer._gptq_columns, axis=0, dtype="uint8")
    # Keras reads the scales in the compute dtype (mixed policies).
    scale = q._in_compute_dtype(layer, layer.kernel_scale)
    kernel = _gptq.dequantize_with_sz_map(
        levels, scale, layer.kernel_zero, layer.g_idx
    ).t()
    awq_scales = getattr(layer, "awq_scales", None)
    if awq_scales is not None:
        # AWQ multiplied each input row by its scale before rounding.
        kernel = kernel / q._in_compute_dtype(layer, awq_scales).unsqueeze(-1)
    return kernel


def _dense_call(self, inputs):
    if not inputs.is_floating_point():
        inputs = inputs.to(self._compute_torch_dtype)
    kernel = dequantized_kernel(self).to(inputs.dtype)
    return q._finish(self, torch.matmul(inputs, kernel))


def _einsum_call(self, inputs):
    kernel = dequantized_kernel(self).reshape(self.original_kernel_shape)
    return q._finish(self, torch.einsum(self.equation, inputs, kernel.to(inputs.dtype)))
