"""GPTQ's arithmetic on torch tensors: scales and zero points, the Hessian of a
layer's inputs, and the column-by-column rounding with error feedback.

Every step follows Keras 3.15.1's `keras.src.quantizers.gptq` in the same
order of float32 operations, so the same kernel, Hessian and settings give the
same integers and scales as Keras on its torch backend.
"""

import math

import torch


def compute_quantization_parameters(
    x,
    *,
    bits,
    symmetric=False,
    per_channel=False,
    group_size=-1,
    compute_dtype=torch.float32,
):
    """Scale, uint8 zero point and largest level to quantize a 2-D weight
    matrix `x` of shape `(out_features, in_features)` to `bits` unsigned bits.

    Returns:
        `(scale, zero, maxq)`: `scale` and `zero` of shape `(out_features,
        n_groups)` (`n_groups` is 1 unless `per_channel` and `group_size`
        split the input features), `maxq` the float `2**bits - 1`.
    """
    out_features, in_features = x.shape[0], x.shape[1]
    n_groups = 1
    if per_channel and group_size > 0:
        n_groups = (in_features + group_size - 1) // group_size
    if n_groups > 1:
        remainder = in_features % group_size
        if remainder:
            x = torch.nn.functional.pad(x, (0, group_size - remainder))
        grouped = x.reshape(out_features, n_groups, group_size)
        min_values, max_values = grouped.amin(dim=2), grouped.amax(dim=2)
    else:
        rows = x.reshape(out_features, -1) if per_channel else x.reshape(1, -1)
        min_values, max_values = rows.amin(dim=1), rows.amax(dim=1)
    if symmetric:
        max_abs = torch.maximum(min_values.abs(), max_values)
        min_values = torch.where(min_values < 0, -max_abs, min_values)
        max_values = max_abs
    # A constant row gets the range [value - 1, value + 1].
    flat = min_values == max_values
    min_values = torch.where(flat, min_values - 1, min_values)
    max_values = torch.where(flat, max_values + 1, max_values)
    maxq = torch.tensor(2**bits - 1, dtype=compute_dtype)
    scale = (max_values - min_values) / maxq
    scale = torch.where(scale <= 0, torch.tensor(1e-8, dtype=scale.dtype), scale)
    if symmetric:
        zero = torch.full_like(scale, float((maxq + 1) / 2))
    else:
        zero = torch.round(-min_values / scale)
    if n_groups == 1:
        if per_channel:
            scale, zero = scale.reshape(-1, 1), zero.reshape(-1, 1)
        else:
            scale = scale.reshape(1, 1).tile(out_features, 1)
            zero = zero.reshape(1, 1).tile(out_features, 1)
    return scale, zero.to(torch.uint8), maxq


def quantize_with_zero_point(values, scale, zero, maxq):
    """`clip(round(values / scale + zero), 0, maxq)`, as floats."""
    safe_scale = torch.where(scale == 0, torch.tensor(1e-8, dtype=scale.dtype), scale)
    quantized = torch.round(values / safe_scale + zero.to(scale.dtype))
    return torch.clip(quantized, 0, maxq)


def dequantize_with_zero_point(values, scale, zero):
    """`scale * (values - zero)`."""
    return scale * (values - zero.to(scale.dtype))


def dequantize_with_sz_map(quantized, scale, zero, g_idx):
    """Float weights `(quantized - zero[:, g]) * scale[:, g]`, where column `j`
    of `quantized` `(out_features, in_features)` belongs to group
    `int(g_idx[j])`."""
    groups = g_idx.to(torch.int32)
    scales = scale.index_select(-1, groups)
    zeros = zero.index_select(-1, groups).to(scales.dtype)
    return (quantized - zeros) * scales


def _stable_permutation(metric):
    """Indices sorting `metric` largest first; ties keep index order."""
    n = metric.shape[0]
    index = torch.arange(n, dtype=torch.int32, device=metric.device)
    jitter = index.to(torch.float32) / torch.tensor(float(n), device=metric.device)
    return torch.argsort(-(metric + jitter * 1e-12), stable=True)


def gptq_quantize_matrix(
    weights_transpose,
    inv_hessian,
    *,
    compute_scale_zero,
    blocksize=128,
    group_size=-1,
    activation_order=False,
    order_metric=None,
):
    """Round `weights_transpose` `(out_features, in_features)` one input column
    at a time, feeding each column's error forward through `inv_hessian`.

    Columns are processed in blocks of `blocksize`: inside a block each error
    updates the block's later columns at once; a finished block's errors update
    all later columns. Scale and zero of a group are fitted when its first
    column comes up (Keras fits them on the columns as they stand after the
    previous blocks' updates).

    Returns:
        `(quantized, scale, zero, g_idx)`: int32 levels `(out_features,
        in_features)` in the original column order, float scales and uint8
        zeros `(out_features, n_groups)`, and float32 `g_idx` (column `j`'s
        group is `int(g_idx[j])`).
    """
    in_features = weights_transpose.shape[1]
    if activation_order:
        if order_metric is None:
            order_metric = 1.0 / (torch.diagonal(inv_hessian) + 1e-12)
        else:
            order_metric = order_metric.to(torch.float32)
            order_metric = torch.where(
                torch.isfinite(order_metric),
                order_metric,
                torch.zeros_like(order_metric),
            )
        perm = _stable_permutation(order_metric)
        inv_perm = torch.argsort(perm, stable=True)
        weights_transpose = weights_transpose.index_select(1, perm)
        inv_hessian = inv_hessian.index_select(0, perm).index_select(1, perm)
    weights = weights_transpose.clone()
    device = weights.device
    quantized = torch.zeros(weights.shape, dtype=torch.int32, device=device)
    scale_chunks, zero_chunks = [], []
    group = in_features if group_size == -1 else group_size
    for start in range(0, in_features, blocksize):
        end = min(start + blocksize, in_features)
        block = weights[:, start:end].clone()
        block_error = torch.zeros_like(block)
        block_inv = inv_hessian[start:end, start:end]
        cached_group = -1
        for j in range(end - start):
            column_index = start + j
            group_start = (column_index // group) * group
            if group_start != cached_group:
                group_end = min(group_start + group, in_features)
                scale, zero, maxq = compute_scale_zero(
                    weights[:, group_start:group_end]
                )
                scale_chunks.append(scale)
                zero_chunks.append(zero)
                cached_group = group_start
            column = block[:, j]
            levels = quantize_with_zero_point(column[:, None], scale, zero, maxq)
            quantized[:, column_index] = levels[:, 0].to(torch.int32)
            error = (column - dequantize_with_zero_point(levels, scale, zero)[:, 0]) / (
                block_inv[j, j]
            )
            block_error[:, j] = error
            if j < end - start - 1:
                update = torch.matmul(error[:, None], block_inv[j, j + 1 :][None, :])
                block[:, j + 1 :] = block[:, j + 1 :] - update
        if end < in_features:
            total_update = torch.matmul(block_error, inv_hessian[start:end, end:])
            weights[:, end:] = weights[:, end:] - total_update
    g_idx = torch.arange(in_features, dtype=torch.int32, device=device) / group
    if activation_order:
        g_idx = g_idx.index_select(0, inv_perm)
        quantized = quantized.index_select(1, inv_perm)
    return quantized, torch.cat(scale_chunks, 1), torch.cat(zero_chunks, 1), g_idx


def kernel_rows_columns(kernel_shape):
    """The 2-D `(rows, columns)` GPTQ and AWQ see a kernel as: its own shape
    for 2-D kernels; for 3-D ones Keras's rule, with the largest axis as the
    model width: `(in, heads, head_dim)` when it comes first (a query, key or
    value projection), else `(heads, head_dim, out)` (an output projection).

    Raises:
        ValueError: for a kernel that is neither 2-D nor 3-D.
    """
    shape = list(kernel_shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 3:
        if shape.index(max(shape)) == 0:
            return shape[0], shape[1] * shape[2]
        return shape[0] * shape[1], shape[2]
    raise ValueError(
        f"GPTQ and AWQ quantize 2-D or 3-D kernels; got kernel shape {tuple(shape)}."
    )


class GPTQ:
    """GPTQ state of one layer: the running Hessian of its inputs, then the
    rounding of its kernel.

    Args:
        kernel: The float kernel, 2-D `(rows, columns)` once flattened by
            `kernel_rows_columns`.
        config: The `GPTQConfig`.
    """

    def __init__(self, kernel, config):
        self.config = config
        self.rows, self.columns = kernel_rows_columns(tuple(kernel.shape))
        self.kernel = kernel.detach().reshape(self.rows, self.columns)
        self.hessian = torch.zeros(
            (self.rows, self.rows), dtype=torch.float32, device=kernel.device
        )
        self.num_samples = 0

    def update_hessian_with_batch(self, inputs):
        """Fold a batch of inputs (reshaped to `(-1, rows)`) into the running
        mean of `2 x^T x` per sample."""
        x = inputs.detach().reshape(-1, inputs.shape[-1]).to(torch.float32)
        if x.shape[-1] != self.rows:
            raise ValueError(
                f"GPTQ: the Hessian has {self.rows} features but the inputs have "
                f"{x.shape[-1]}."
            )
        count = x.shape[0]
        total = torch.tensor(float(self.num_samples + count))
        gram = torch.matmul(x.t(), x)
        gram = (gram + gram.t()) / 2.0
        if self.num_samples > 0:
            self.hessian = self.hessian * (
                torch.tensor(float(self.num_samples)) / total
            )
        self.hessian = self.hessian + (torch.tensor(2.0) / total) * gram
        self.num_samples += count

    def quantize(self, blocksize=128):
        """`(quantized, scale, zero, g_idx)` of the kernel (see
        `gptq_quantize_matrix`), after damping the Hessian as Keras does: dead
        inputs (zero diagonal) get a 1 there, then `hessian_damping` times the
        mean diagonal is added to the diagonal."""
        config = self.config
        diagonal = torch.diagonal(self.hessian)
        dead = diagonal == 0.0
        diagonal = torch.where(dead, torch.ones_like(diagonal), diagonal)
        hessian = self.hessian + torch.diag(dead.to(diagonal.dtype))
        damping = torch.tensor(config.hessian_damping, dtype=torch.float32) * (
            diagonal.mean()
        )
        diagonal = diagonal + damping
        hessian = hessian - torch.diag(torch.diagonal(hessian)) + torch.diag(diagonal)
        inverse = torch.linalg.inv(hessian)

        def compute_scale_zero(values):
            return compute_quantization_parameters(
                values,
                bits=config.weight_bits,
                symmetric=config.symmetric,
                per_channel=config.per_channel,
                group_size=config.group_size,
            )

        return gptq_quantize_matrix(
            self.kernel.t().to(torch.float32),
            inverse,
            compute_scale_zero=compute_scale_zero,
            blocksize=blocksize,
            group_size=config.group_size,
            activation_order=config.activation_order,
            order_metric=torch.diagonal(hessian),
        )


def n_groups(rows, group_size) -> int:
    """Number of scale groups over `rows` input rows."""
    return 1 if group_size == -1 else math.ceil(rows / group_size)
