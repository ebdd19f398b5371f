"""AWQ-quantized Dense and EinsumDense, with Keras 3's variables and layout.

As GPTQ (`_quantized_gptq`, whose variables and quantized call it shares):
`layer.quantize("awq", config=AWQConfig(...))` adds the variables next to the
float kernel and the policy `"awq/4/<group>_from_<src>"`; `model.quantize`
calibrates and calls `finish`. The weights are always 4 bits, and a float32
`awq_scales` `(rows,)` (after `kernel_zero`, before `g_idx`) holds the scale
each input row was multiplied by before rounding; the float kernel is the
dequantized one divided by it, row by row.
"""

from lamina.layers.core import _quantized as q
from lamina.layers.core import _quantized_gptq as gptq
from lamina.quantizers.awq_config import AWQConfig

# Keras's `variable_serialization_spec["awq"]` (Keras 3.15.1 leaves
# `kernel_zero` out when it saves; lamina writes all six, which Keras loads).
SAVE_ORDER = (
    "bias",
    "quantized_kernel",
    "kernel_scale",
    "kernel_zero",
    "awq_scales",
    "g_idx",
)


def group_size_for(layer, config) -> int:
    """The config's group size if it is an AWQConfig, else the layer's
    `AWQDTypePolicy`'s.

    Raises:
        ValueError: if neither gives it.
    """
    from lamina.dtype_policies.quantized_dtype_policy import AWQDTypePolicy

    if isinstance(config, AWQConfig):
        return config.group_size
    policy = q.own_policy(layer)
    if isinstance(policy, AWQDTypePolicy):
        return policy.group_size
    raise ValueError(
        f"Layer '{layer.name}' ({type(layer).__name__}): AWQ needs a group_size, "
        "from an AWQConfig or an AWQDTypePolicy such as 'awq/4/128_from_float32'; "
        f"got config={config!r} and dtype_policy={layer.dtype_policy!r}."
    )


def _add_variables(layer, kernel_shape, config, zero_name):
    layer.is_awq_calibrated = False
    group_size = group_size_for(layer, config)
    gptq.add_variables(layer, kernel_shape, 4, group_size, zero_name, awq=True)


def quantize_dense(layer, config):
    """Add the AWQ variables to a float Dense; it computes as before until
    calibration calls `finish`."""
    _add_variables(layer, tuple(layer.kernel.shape), config, "kernel_zero")
    layer._is_quantized = True


def build_dense(layer, kernel_shape, config):
    """Dense under an AWQ policy: the variables and the quantized call."""
    _add_variables(layer, kernel_shape, config, "kernel_zero")
    gptq.install(layer, SAVE_ORDER, "is_awq_calibrated")


def quantize_einsum_dense(layer, config):
    """As `quantize_dense`, for EinsumDense (2-D or 3-D kernels)."""
    _add_variables(layer, tuple(layer._kernel.shape), config, "zero_point")
    layer.awq_unpacked_column_size = layer._gptq_columns
    layer._is_quantized = True


def build_einsum_dense(layer, kernel_shape, config):
    """EinsumDense under an AWQ policy: the variables and the quantized call."""
    _add_variables(layer, kernel_shape, config, "zero_point")
    layer.awq_unpacked_column_size = layer._gptq_columns
    gptq.install(layer, SAVE_ORDER, "is_awq_calibrated")


def finish(layer, quantized, scale, zero, awq_scales, g_idx):
    """Put calibration's results in place of the float kernel."""
    gptq.assign_results(layer, quantized, scale, zero, g_idx, awq_scales)
    gptq.install(layer, SAVE_ORDER, "is_awq_calibrated")
    layer.is_awq_calibrated = True
