"""Neural-network ops (`keras.ops.nn`): activations, one-hot, cross-entropies,
moments and normalisation here; more activations, normalisation, convolution
and pooling, attention and CTC in the submodules, re-exported below.

Activations on integer tensors compute in floatx (Keras refuses most of them).
The cross-entropies return one value per example (no reduction), as in Keras;
the loss classes average them.
"""

import warnings

import torch
import torch.nn.functional as F

from lamina.backend import epsilon as _epsilon
from lamina.backend import to_torch_dtype
from lamina.ops._utils import (
    Tensor,
    check_axis,
    floatx_dtype,
    to_float,
    to_tensor,
    to_tensors,
)
from lamina.ops.linalg import norm
from lamina.ops.nn.activations import (
    celu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    log_sigmoid,
    soft_shrink,
    softsign,
    sparse_plus,
    sparse_sigmoid,
    sparsemax,
    squareplus,
    tanh_shrink,
    threshold,
)
from lamina.ops.nn.attention import dot_product_attention
from lamina.ops.nn.convolution import (
    adaptive_average_pool,
    adaptive_max_pool,
    average_pool,
    conv,
    conv_transpose,
    depth_to_space,
    depthwise_conv,
    fold,
    max_pool,
    separable_conv,
    space_to_depth,
    unfold,
)
from lamina.ops.nn.ctc import ctc_decode, ctc_loss
from lamina.ops.nn.normalization import (
    batch_normalization,
    layer_normalization,
    rms_normalization,
)
from lamina.ops.operation import op

# 1. Activations


@op
def relu(x) -> Tensor:
    """`max(x, 0)`."""
    return torch.relu(to_tensor(x))


@op
def relu6(x) -> Tensor:
    """`min(max(x, 0), 6)`."""
    return torch.clamp(to_tensor(x), 0, 6)


@op
def sigmoid(x) -> Tensor:
    """`1 / (1 + exp(-x))`."""
    return torch.sigmoid(to_float(to_tensor(x)))


@op
def silu(x) -> Tensor:
    """`x * sigmoid(x)` (also called swish)."""
    return F.silu(to_float(to_tensor(x)))


@op
def swish(x) -> Tensor:
    """`x * sigmoid(x)`: the same function as `silu`, under Keras's other name."""
    return F.silu(to_float(to_tensor(x)))


@op
def gelu(x, approximate: bool = True) -> Tensor:
    """Gaussian error linear unit; the tanh approximation by default, as Keras's
    `ops.gelu` (the `"gelu"` activation uses the exact form)."""
    return F.gelu(to_float(to_tensor(x)), approximate="tanh" if approximate else "none")


@op
def elu(x, alpha: float = 1.0) -> Tensor:
    """`x` if `x > 0`, else `alpha * (exp(x) - 1)`."""
    return F.elu(to_float(to_tensor(x)), alpha=alpha)


@op
def selu(x) -> Tensor:
    """Scaled ELU with the self-normalising constants of Klambauer et al. 2017."""
    return F.selu(to_float(to_tensor(x)))


@op
def softplus(x) -> Tensor:
    """`log(1 + exp(x))`, computed without overflow."""
    return F.softplus(to_float(to_tensor(x)))


@op
def leaky_relu(x, negative_slope: float = 0.2) -> Tensor:
    """`x` if `x >= 0`, else `negative_slope * x` (Keras's default slope 0.2)."""
    return F.leaky_relu(to_float(to_tensor(x)), negative_slope=negative_slope)


def _warn_if_softmax_axis_has_size_one(x, axis, stacklevel: int) -> None:
    # Keras warns (with these words) for a softmax over a size-1 axis: the
    # result is always 1, usually a Dense(1, activation="softmax") mistake.
    if type(axis) is int and -x.ndim <= axis < x.ndim and x.shape[axis] == 1:
        warnings.warn(
            f"You are using a softmax over axis {axis} of a tensor of shape "
            f"{tuple(x.shape)}. This axis has size 1. The softmax operation will "
            "always return the value 1, which is likely not what you intended. "
            "Did you mean to use a sigmoid instead?",
            stacklevel=stacklevel + 1,
        )


@op
def softmax(x, axis=-1) -> Tensor:
    """`exp(x) / sum(exp(x))` over `axis` (an int or a tuple of ints).

    Example:
    >>> lamina.ops.softmax([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    x = to_float(to_tensor(x))
    if type(axis) is int:
        check_axis("softmax", axis, x.ndim)
        _warn_if_softmax_axis_has_size_one(x, axis, stacklevel=3)
        # .to: CUDA's autocast computes softmax in float32; Keras keeps x's dtype.
        return torch.softmax(x, dim=axis).to(x.dtype)
    axis = check_axis("softmax", axis, x.ndim)
    return torch.exp(
        x - torch.logsumexp(x, dim=axis or tuple(range(x.ndim)), keepdim=True)
    ).to(x.dtype)


@op
def log_softmax(x, axis=-1) -> Tensor:
    """`x - logsumexp(x)` over `axis` (an int or a tuple of ints)."""
    x = to_float(to_tensor(x))
    if type(axis) is int:
        check_axis("log_softmax", axis, x.ndim)
        return torch.log_softmax(x, dim=axis)
    axis = check_axis("log_softmax", axis, x.ndim)
    return x - torch.logsumexp(x, dim=axis or tuple(range(x.ndim)), keepdim=True)


# 2. Encodings


@op
def one_hot(
    x, num_classes: int, axis: int = -1, dtype=None, sparse: bool = False
) -> Tensor:
    """Integer labels `x` as one-hot vectors of length `num_classes`, placed on
    `axis` of the result. Labels outside `[0, num_classes)` give all zeros, as in
    Keras. Defaults to floatx.

    Example:
    >>> lamina.ops.one_hot([0, 2], 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if sparse:
        raise ValueError("ops.one_hot: lamina has no sparse tensors; got sparse=True.")
    x = to_tensor(x)
    if x.is_floating_point():
        x = x.to(torch.int64)
    classes = torch.arange(num_classes, device=x.device, dtype=x.dtype)
    # A comparison, not F.one_hot: no error (or device assert) on bad labels.
    out = (x.unsqueeze(-1) == classes).to(
        floatx_dtype() if dtype is None else to_torch_dtype(dtype)
    )
    if axis != -1:
        check_axis("one_hot", axis, out.ndim, False, "the result")
        out = torch.movedim(out, -1, axis)
    return out


@op
def multi_hot(
    inputs, num_classes=None, axis: int = -1, dtype=None, sparse: bool = False, **kwargs
) -> Tensor:
    """Integer labels as multi-hot vectors: 1 at every class that appears.

    A 1-D `inputs` gives one vector of length `num_classes`; a batch
    `(batch, labels)` gives `(batch, num_classes)` (the labels axis is
    reduced, as in Keras). `num_tokens` is accepted as an alias of
    `num_classes`. Defaults to floatx.

    Example:
    >>> lamina.ops.multi_hot([0, 2], 4).tolist()
    [1.0, 0.0, 1.0, 0.0]
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(
            f"ops.multi_hot got unexpected keyword arguments {sorted(kwargs)}."
        )
    if num_classes is None:
        raise ValueError(
            "ops.multi_hot needs `num_classes` (the length of each vector); got "
            "num_classes=None."
        )
    x = to_tensor(inputs)
    encoded = one_hot(
        x.to(torch.int32), num_classes, axis=axis, dtype=dtype, sparse=sparse
    )
    return torch.amax(encoded, dim=1 if x.ndim > 1 else 0)


# 3. Cross-entropies: one value per example


def _check_same_shape(name, target, output):
    if target.shape != output.shape:
        raise ValueError(
            f"ops.{name} expects `target` and `output` of the same shape; got "
            f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}."
        )


@op
def binary_crossentropy(target, output, from_logits: bool = False) -> Tensor:
    """Element-wise `-(t log(p) + (1 - t) log(1 - p))`.

    Probabilities are clipped to `[epsilon, 1 - epsilon]` first, as in Keras;
    with `from_logits=True` the stable logit form is used instead.
    """
    target, output = to_tensors(target, output)
    output = to_float(output)
    target = target.to(output.dtype)
    _check_same_shape("binary_crossentropy", target, output)
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    eps = _epsilon()
    output = torch.clamp(output, eps, 1.0 - eps)
    return -(target * torch.log(output) + (1.0 - target) * torch.log1p(-output))


def _log_probabilities(output: Tensor, from_logits: bool, axis: int) -> Tensor:
    if from_logits:
        return torch.log_softmax(output, dim=axis)
    # Keras: rescale so the probabilities sum to 1, then clip away from 0 and 1.
    output = output / torch.sum(output, dim=axis, keepdim=True)
    eps = _epsilon()
    return torch.log(torch.clamp(output, eps, 1.0 - eps))


@op
def categorical_crossentropy(
    target, output, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """`-sum(target * log(p))` over `axis`, for one-hot (or soft) targets."""
    target, output = to_tensors(target, output)
    output = to_float(output)
    target = target.to(output.dtype)
    _check_same_shape("categorical_crossentropy", target, output)
    check_axis("categorical_crossentropy", axis, output.ndim, allow_none=False)
    log_prob = _log_probabilities(output, from_logits, axis)
    return -torch.sum(target * log_prob, dim=axis)


@op
def sparse_categorical_crossentropy(
    target, output, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """`-log(p[target])` for integer class labels `target`.

    `target` has `output`'s shape without `axis` (a trailing size-1 axis is
    also accepted). Labels must lie in `[0, num_classes)`.
    """
    target, output = to_tensors(target, output)
    output = to_float(output)
    check_axis("sparse_categorical_crossentropy", axis, output.ndim, allow_none=False)
    axis = axis % output.ndim
    if target.ndim == output.ndim and target.shape[axis] == 1:
        target = target.squeeze(axis)
    expected = output.shape[:axis] + output.shape[axis + 1 :]
    if target.shape != expected:
        raise ValueError(
            "ops.sparse_categorical_crossentropy expects `target` of shape "
            f"{tuple(expected)} (output's shape without axis {axis}); got "
            f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}."
        )
    log_prob = _log_probabilities(output, from_logits, axis)
    index = target.to(torch.int64).unsqueeze(axis)
    return -torch.gather(log_prob, axis, index).squeeze(axis)


# 4. Statistics and normalisation


@op
def moments(x, axes, keepdims: bool = False, synchronized: bool = False):
    """Mean and (biased, divide-by-N) variance of `x` over `axes`.

    float16/bfloat16 inputs are reduced in float32 and cast back, as in Keras.
    `synchronized=True` (statistics across replicas) is not available, as in
    Keras's torch backend.
    """
    if synchronized:
        raise NotImplementedError(
            "ops.moments(synchronized=True) is not available in lamina, as in "
            "Keras's torch backend; compute per-replica moments (synchronized=False)."
        )
    x = to_tensor(x)
    axes = check_axis("moments", axes, x.ndim, allow_none=False)
    dtype = x.dtype
    if dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    else:
        x = to_float(x)
    variance, mean = torch.var_mean(x, dim=axes, correction=0, keepdim=keepdims)
    if dtype in (torch.float16, torch.bfloat16):
        # Keras clips to the largest finite float16 value before casting back.
        limit = torch.finfo(dtype).max
        mean = torch.clamp(mean, -limit, limit).to(dtype)
        variance = torch.clamp(variance, max=limit).to(dtype)
    return mean, variance


@op
def normalize(x, axis=-1, order: int = 2, epsilon=None) -> Tensor:
    """`x` divided by its `order`-norm over `axis` (norms below `epsilon` are
    treated as `epsilon`, so zero vectors stay zero)."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(
            f"ops.normalize expects `order` to be an int >= 1; got order={order!r}. "
            "Argument `order` must be an int >= 1: the power of the norm (2 for "
            "L2)."
        )
    x = to_float(to_tensor(x))
    if x.ndim == 0:
        x = x.unsqueeze(0)
    check_axis("normalize", axis, x.ndim)
    eps = _epsilon() if epsilon is None else epsilon
    if order == 2:
        # Keras: x * rsqrt(sum(x^2)), with the inverse norm capped at 1/epsilon.
        square_sum = torch.sum(torch.square(x), dim=axis, keepdim=True)
        # The cap stays finite in float16 (1 / 1e-7 overflows it).
        cap = min(1.0 / eps, torch.finfo(x.dtype).max)
        inv_norm = torch.clamp(torch.rsqrt(square_sum), max=cap)
        return x * inv_norm
    return x / torch.clamp(norm(x, ord=order, axis=axis, keepdims=True), min=eps)


# 5. Image quality and complex numbers


@op
def psnr(x1, x2, max_val) -> Tensor:
    """Peak signal-to-noise ratio in dB: `20 log10(max_val) - 10 log10(mse)`,
    with the mean squared error over all elements."""
    x1, x2 = to_tensors(x1, x2)
    if x1.shape != x2.shape:
        raise ValueError(
            "ops.psnr expects `x1` and `x2` of the same shape; got "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}."
        )
    x1 = to_float(x1)
    mse = torch.mean(torch.square(x1 - x2.to(x1.dtype)))
    max_val = torch.as_tensor(max_val, dtype=x1.dtype, device=x1.device)
    return 20 * torch.log10(max_val) - 10 * torch.log10(mse)


@op
def polar(abs_, angle) -> Tensor:
    """The complex tensor `abs_ * (cos(angle) + 1j * sin(angle))`."""
    abs_, angle = to_tensors(abs_, angle)
    abs_ = to_float(abs_)
    return torch.polar(abs_, angle.to(abs_.dtype))


__all__ = [
    "adaptive_average_pool",
    "adaptive_max_pool",
    "average_pool",
    "batch_normalization",
    "binary_crossentropy",
    "categorical_crossentropy",
    "celu",
    "conv",
    "conv_transpose",
    "ctc_decode",
    "ctc_loss",
    "depth_to_space",
    "depthwise_conv",
    "dot_product_attention",
    "elu",
    "fold",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "layer_normalization",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "max_pool",
    "moments",
    "multi_hot",
    "normalize",
    "one_hot",
    "polar",
    "psnr",
    "relu",
    "relu6",
    "rms_normalization",
    "selu",
    "separable_conv",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "space_to_depth",
    "sparse_categorical_crossentropy",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh_shrink",
    "threshold",
    "unfold",
]
