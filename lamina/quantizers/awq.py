"""AWQ's arithmetic on torch tensors: the activation statistics of a layer,
the search for its per-row scales, and the 4-bit rounding.

Every step follows Keras 3.15.1's `keras.src.quantizers.awq` in the same order
of float32 operations, so equal kernels and activations give Keras's values.
"""

import torch

from lamina.quantizers.gptq import (
    compute_quantization_parameters,
    dequantize_with_sz_map,
    dequantize_with_zero_point,
    kernel_rows_columns,
    quantize_with_zero_point,
)


def _f32(value):
    return torch.tensor(value, dtype=torch.float32)


def _round_trip(weights, group_size):
    """`weights` quantized to 4 bits and back, with its levels and params."""
    scale, zero, maxq = compute_quantization_parameters(
        weights, bits=4, symmetric=False, per_channel=True, group_size=group_size
    )
    if group_size == -1:
        levels = quantize_with_zero_point(weights, scale, zero, maxq)
        return (
            levels,
            scale,
            zero,
            None,
            dequantize_with_zero_point(levels, scale, zero),
        )
    g_idx = (torch.arange(weights.shape[1], device=weights.device) // group_size).to(
        torch.int32
    )
    levels = quantize_with_zero_point(
        weights,
        scale.index_select(-1, g_idx),
        zero.index_select(-1, g_idx),
        maxq,
    )
    dequantized = dequantize_with_sz_map(levels, scale, zero, g_idx)
    return levels, scale, zero, g_idx, dequantized


def awq_search_optimal_scales(
    weights, activation_magnitudes, *, num_grid_points=20, group_size=-1
):
    """Per-input-row scales `x_max ** r` (normalized by the geometric mean of
    their extremes) for the `r` in `0, 1/n, ..., 1` whose round trip loses the
    least, measured as the mean of `(w - dequant(quant(w * s)) / s)**2 *
    x_max**2`.

    Args:
        weights: `(out_features, in_features)`.
        activation_magnitudes: Largest absolute input per feature.
        num_grid_points: `n`. Defaults to `20`.
        group_size: Rows per group, `-1` for one. Defaults to `-1`.
    """
    x_max = activation_magnitudes.to(torch.float32)
    x_max = torch.where(x_max < 1e-8, torch.ones_like(x_max), x_max)
    best_loss, best_scales = None, None
    for i in range(num_grid_points + 1):
        ratio = i / num_grid_points
        scales = torch.ones_like(x_max) if ratio == 0 else torch.pow(x_max, _f32(ratio))
        scales = torch.maximum(scales, _f32(1e-4))
        scale_mean = torch.sqrt(scales.max() * scales.min())
        scales = scales / torch.maximum(scale_mean, _f32(1e-8))
        *_, dequantized = _round_trip(weights * scales, group_size)
        error = torch.square(weights - dequantized / scales)
        loss = torch.mean(error * torch.square(x_max))
        if best_loss is None or loss < best_loss:
            best_loss, best_scales = loss, scales
    return best_scales


def awq_quantize_matrix(
    weights_transpose, activation_magnitudes, *, num_grid_points=20, group_size=-1
):
    """`(levels, scale, zero, awq_scales, g_idx)` of `weights_transpose`
    `(out_features, in_features)`: float levels in `[0, 15]`, float scales and
    uint8 zeros `(out_features, n_groups)`, the per-row scales and float32
    group indices."""
    awq_scales = awq_search_optimal_scales(
        weights_transpose,
        activation_magnitudes,
        num_grid_points=num_grid_points,
        group_size=group_size,
    )
    levels, scale, zero, g_idx, _ = _round_trip(
        weights_transpose * awq_scales, group_size
    )
    if g_idx is None:
        g_idx = torch.zeros(
            weights_transpose.shape[1],
            dtype=torch.float32,
            device=weights_transpose.device,
        )
    return levels, scale, zero, awq_scales, g_idx.to(torch.float32)


class AWQ:
    """AWQ state of one layer: the largest absolute input per feature, then
    the rounding of its kernel.

    Args:
        kernel: The float kernel, 2-D `(rows, columns)` once flattened by
            `kernel_rows_columns`.
        config: The `AWQConfig`.
    """

    def __init__(self, kernel, config):
        self.config = config
        self.rows, self.columns = kernel_rows_columns(tuple(kernel.shape))
        self.kernel = kernel.detach().reshape(self.rows, self.columns)
        self.activation_magnitudes = torch.zeros(
            self.rows, dtype=torch.float32, device=kernel.device
        )
        self.num_samples = 0

    def update_activation_magnitudes(self, inputs):
        """Fold a batch of inputs (any leading shape) into the maxima."""
        x = inputs.detach().reshape(-1, inputs.shape[-1]).to(torch.float32)
        self.activation_magnitudes = torch.maximum(
            self.activation_magnitudes, x.abs().amax(dim=0)
        )
        self.num_samples += x.shape[0]

    def quantize(self):
        """`awq_quantize_matrix` of the kernel with the recorded maxima."""
        return awq_quantize_matrix(
            self.kernel.t().to(torch.float32),
            self.activation_magnitudes,
            num_grid_points=self.config.num_grid_points,
            group_size=self.config.group_size,
        )
