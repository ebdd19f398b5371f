"""Activation functions (`keras.activations`), computed with torch kernels.

Each takes a tensor (or array-like, converted with `convert_to_tensor`) and
returns a tensor of the same shape on the same device. Numerics match Keras 3
with its PyTorch backend, which calls the same `torch.nn.functional` kernels.
"""

import functools

import torch
import torch.nn.functional as F

from lamina.backend import convert_to_tensor


def _tensor(x):
    # Tensors, and symbolic tensors that dispatch through __torch_function__,
    # go straight to torch; anything else (NumPy, lists) is converted once.
    if isinstance(x, torch.Tensor) or hasattr(type(x), "__torch_function__"):
        return x
    return convert_to_tensor(x)


def _keep_dtype(out, x):
    """`out` in `x`'s float dtype. On CUDA, torch's autocast runs softmax, exp,
    pow, cumsum and softplus in float32 whatever their inputs; Keras's
    activations return their input's dtype (float16 under `mixed_float16`)."""
    if out.dtype != x.dtype and x.is_floating_point():
        return out.to(x.dtype)
    return out


def _attach_logits(output, logits, source: str):
    # Keras: probability outputs remember their logits so that cross-entropy
    # losses can work from the logits, which is numerically stabler. lamina
    # also records which activation made them (`_keras_logits_from`), so a
    # loss never reads sigmoid logits as softmax logits or the reverse.
    try:
        output._keras_logits = logits
        output._keras_logits_from = source
    except AttributeError:
        pass
    return output


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, with optional leak, cap and threshold.

    With defaults this is `max(x, 0)`. Otherwise: values above `threshold`
    pass (capped at `max_value`), the rest become
    `negative_slope * (x - threshold)`.

    Args:
        x: Input tensor.
        negative_slope: Slope below the threshold. Defaults to `0.0`.
        max_value: Upper cap, or `None` for no cap. Defaults to `None`.
        threshold: Values at or below it count as inactive. Defaults to `0.0`.

    Returns:
        A tensor like `x`.

    Example:
    >>> from lamina import activations
    >>> activations.relu([-2.0, 1.0, 8.0], max_value=6.0).tolist()
    [0.0, 1.0, 6.0]
    """
    x = _tensor(x)
    if negative_slope == 0.0 and threshold == 0.0:
        if max_value is None:
            return F.relu(x)
        if max_value == 6:
            return F.relu6(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return F.leaky_relu(x, negative_slope=negative_slope)
    # General case, in the order Keras applies the pieces.
    negative_part = None
    if negative_slope != 0.0:
        negative_part = F.relu(threshold - x) if threshold != 0 else F.relu(-x)
    clip_max = max_value is not None
    if threshold != 0:
        out = torch.where(x > threshold, x, torch.zeros_like(x))
    elif max_value == 6:
        out = F.relu6(x)
        clip_max = False
    else:
        out = F.relu(x)
    if clip_max:
        out = out.clamp(0.0, max_value)
    if negative_part is not None:
        out = out - negative_slope * negative_part
    return out


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: `x` if `x >= 0`, else `negative_slope * x`.

    Args:
        x: Input tensor.
        negative_slope: Slope for negative inputs. Defaults to `0.2`.
    """
    return F.leaky_relu(_tensor(x), negative_slope=negative_slope)


def relu6(x):
    """ReLU capped at 6: `min(max(x, 0), 6)`."""
    return F.relu6(_tensor(x))


# torch's CPU softmax vectorizes along the softmax axis; an axis shorter than
# one SIMD register of floats (16 with AVX-512, else 8) runs its slow tail loop:
# 1024 x 10 takes ~160 us, against ~28 us for `exp(x - max) / sum` as four
# whole-tensor kernels (the same arithmetic, summed in another order: equal to
# 1e-6 relative). Measured on an AVX-512 CPU with one thread; tested in
# tests/activations/test_inference_fast_paths.py.
_SIMD_FLOATS = 16 if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else 8
_SMALL_SOFTMAX_MIN_SIZE = 1024  # below this, torch's single kernel call wins


def _small_axis_softmax(x, axis):
    """`softmax(x, axis)` as separate kernels, when that beats torch's kernel:
    float32 on the CPU, a last axis shorter than a SIMD register, enough rows,
    and no gradient to record (training keeps torch's fused backward)."""
    if (
        # Traced (torch.compile, export): a size test would become a guard on
        # the batch size, and the compiler generates its own softmax kernel.
        torch.compiler.is_compiling()
        or x.dtype != torch.float32
        or x.device.type != "cpu"
        or (x.requires_grad and torch.is_grad_enabled())
        or x.numel() < _SMALL_SOFTMAX_MIN_SIZE
        or x.shape[axis] >= _SIMD_FLOATS
    ):
        return None
    shifted = x - x.amax(axis, keepdim=True)
    shifted.exp_()
    return shifted.div_(shifted.sum(axis, keepdim=True))


def _axis_softmax(x, axis, log):
    # Keras warns for softmax over a size-1 axis (not for log_softmax); the
    # warning lives in lamina.ops, which imports this module.
    if not log and isinstance(axis, int) and -x.ndim <= axis < x.ndim:
        if x.shape[axis] == 1:
            from lamina.ops.nn import _warn_if_softmax_axis_has_size_one

            _warn_if_softmax_axis_has_size_one(x, axis, stacklevel=3)
    if axis is None:
        axis = tuple(range(x.ndim))
    if isinstance(axis, (tuple, list)):
        shifted = x - torch.logsumexp(x, dim=tuple(axis), keepdim=True)
        return _keep_dtype(shifted if log else torch.exp(shifted), x)
    if not log and (axis == -1 or axis == x.ndim - 1):
        fast = _small_axis_softmax(x, axis)
        if fast is not None:
            return fast
    return _keep_dtype(F.log_softmax(x, dim=axis) if log else F.softmax(x, dim=axis), x)


def softmax(x, axis=-1):
    """Softmax: `exp(x) / sum(exp(x))` along `axis`.

    The result remembers its input as `result._keras_logits`, which
    cross-entropy losses use for numerical stability, as in Keras, and
    `result._keras_logits_from = "softmax"` (for the last axis; other axes
    are named, e.g. `"softmax(axis=1)"`).

    Args:
        x: Input tensor.
        axis: Axis (or tuple of axes) to normalize over. Defaults to `-1`.
    """
    x = _tensor(x)
    last_axis = axis == -1 or (isinstance(axis, int) and axis == x.ndim - 1)
    # Losses take class logits along the last axis; a softmax over any other
    # axis is labelled so that they use its probabilities instead.
    source = "softmax" if last_axis else f"softmax(axis={axis})"
    return _attach_logits(_axis_softmax(x, axis, log=False), x, source)


def log_softmax(x, axis=-1):
    """Logarithm of `softmax`, computed stably.

    Args:
        x: Input tensor.
        axis: Axis (or tuple of axes) to normalize over. Defaults to `-1`.
    """
    return _axis_softmax(_tensor(x), axis, log=True)


def sigmoid(x):
    """Sigmoid: `1 / (1 + exp(-x))`.

    The result remembers its input as `result._keras_logits`, as in Keras, and
    `result._keras_logits_from = "sigmoid"`.
    """
    x = _tensor(x)
    return _attach_logits(torch.sigmoid(x), x, "sigmoid")


def tanh(x):
    """Hyperbolic tangent."""
    return torch.tanh(_tensor(x))


def linear(x):
    """Identity: returns `x` unchanged."""
    return x


def _activate_fresh(activation, x):
    """`activation(x)` for a tensor `x` that its caller has just computed and
    that nothing else references yet (a Dense or convolution output).

    Where no gradient is recorded (predict, evaluate), relu and tanh run in
    place: the same values without allocating a second tensor of the same
    size. For the 1024 x 26 x 26 x 32 output of the bench CNN's first Conv2D
    that is 88 MB whose fresh pages cost more than the relu itself: relu 50 ms
    -> 5 ms per batch (one thread).
    """
    if torch.is_grad_enabled():
        return activation(x)
    if activation is relu:
        return x.relu_()
    if activation is tanh:
        return x.tanh_()
    return activation(x)


def elu(x, alpha=1.0):
    """Exponential linear unit: `x` if `x > 0`, else `alpha * (exp(x) - 1)`.

    Args:
        x: Input tensor.
        alpha: Scale of the negative part. Defaults to `1.0`.
    """
    return F.elu(_tensor(x), alpha)


def selu(x):
    """Scaled ELU with the self-normalizing constants of Klambauer et al. (2017)."""
    return F.selu(_tensor(x))


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: `max(0, x) + min(0, alpha*(exp(x/alpha)-1))`.

    Args:
        x: Input tensor.
        alpha: Defaults to `1.0`.
    """
    return F.celu(_tensor(x), alpha=alpha)


def softplus(x):
    """Softplus: `log(exp(x) + 1)`."""
    x = _tensor(x)
    return _keep_dtype(F.softplus(x), x)


def softsign(x):
    """Softsign: `x / (abs(x) + 1)`."""
    return F.softsign(_tensor(x))


def soft_shrink(x, threshold=0.5):
    """Soft shrinkage: moves `x` toward 0 by `threshold`, zero inside it.

    Args:
        x: Input tensor.
        threshold: Defaults to `0.5`.
    """
    return F.softshrink(_tensor(x), lambd=threshold)


def hard_shrink(x, threshold=0.5):
    """Hard shrinkage: `x` where `abs(x) > threshold`, else 0.

    Args:
        x: Input tensor.
        threshold: Defaults to `0.5`.
    """
    return F.hardshrink(_tensor(x), lambd=threshold)


def sparse_plus(x):
    """SparsePlus: 0 for `x <= -1`, `(x + 1)**2 / 4` for `-1 < x < 1`, else `x`."""
    x = _tensor(x)
    return torch.where(
        x <= -1,
        torch.zeros_like(x),
        torch.where(x < 1, 0.25 * (x + 1) ** 2, x),
    )


def sparse_sigmoid(x):
    """Sparse sigmoid: 0 for `x <= -1`, `(x + 1) / 2` in between, 1 for `x >= 1`."""
    x = _tensor(x)
    return torch.where(
        x <= -1,
        torch.zeros_like(x),
        torch.where(x >= 1, torch.ones_like(x), 0.5 * (x + 1)),
    )


def silu(x):
    """SiLU (Swish): `x * sigmoid(x)`."""
    return F.silu(_tensor(x))


def squareplus(x, b=4):
    """Squareplus: `(x + sqrt(x**2 + b)) / 2`.

    Args:
        x: Input tensor.
        b: Smoothness, non-negative. Defaults to `4`.
    """
    x = _tensor(x)
    return _keep_dtype((x + torch.sqrt(x**2 + b)) / 2, x)


def gelu(x, approximate=False):
    """Gaussian error linear unit: `x * P(X <= x)` for a standard normal `X`.

    Args:
        x: Input tensor.
        approximate: Use the tanh approximation. Defaults to `False`.
    """
    return F.gelu(_tensor(x), approximate="tanh" if approximate else "none")


def glu(x, axis=-1):
    """Gated linear unit: splits `x` in halves `a, b` along `axis`; `a * sigmoid(b)`.

    Args:
        x: Input tensor; its size along `axis` must be even.
        axis: Axis to split. Defaults to `-1`.
    """
    x = _tensor(x)
    if x.shape[axis] % 2:
        raise ValueError(
            f"glu splits axis {axis} into two halves, so its size must be even; "
            f"got shape {tuple(x.shape)}."
        )
    return F.glu(x, dim=axis)


def tanh_shrink(x):
    """Tanh shrink: `x - tanh(x)`."""
    return F.tanhshrink(_tensor(x))


def hard_tanh(x):
    """Hard tanh: `x` clipped to `[-1, 1]`."""
    return F.hardtanh(_tensor(x), min_val=-1.0, max_val=1.0)


def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`.

    Args:
        x: Input tensor.
        threshold: The cut-off.
        default_value: Value for entries at or below the cut-off.
    """
    return F.threshold(_tensor(x), threshold, default_value)


def exponential(x):
    """Exponential: `exp(x)`."""
    x = _tensor(x)
    return _keep_dtype(torch.exp(x), x)


def hard_sigmoid(x):
    """Piecewise-linear sigmoid (Keras 3): `relu6(x + 3) / 6`."""
    return F.hardsigmoid(_tensor(x))


def hard_silu(x):
    """Hard SiLU (Hard Swish): `x * relu6(x + 3) / 6`."""
    return F.hardswish(_tensor(x))


def log_sigmoid(x):
    """Logarithm of the sigmoid, computed stably: `-softplus(-x)`."""
    return F.logsigmoid(_tensor(x))


def mish(x):
    """Mish: `x * tanh(softplus(x))`."""
    return F.mish(_tensor(x))


def sparsemax(x, axis=-1):
    """Sparsemax: Euclidean projection of `x` onto the probability simplex.

    Like softmax its outputs are non-negative and sum to 1 along `axis`, but
    small entries become exactly zero (Martins & Astudillo, 2016).

    Args:
        x: Input tensor.
        axis: Axis to normalize over. Defaults to `-1`.
    """
    x = _tensor(x)
    ordered, _ = torch.sort(x, dim=axis, descending=True)
    cumulative = torch.cumsum(ordered, dim=axis)
    ranks_shape = [1] * x.ndim
    ranks_shape[axis] = -1
    ranks = torch.arange(1, x.shape[axis] + 1, device=x.device, dtype=x.dtype)
    ranks = ranks.view(ranks_shape)
    support = ordered - (cumulative - 1) / ranks > 0
    k = support.sum(dim=axis, keepdim=True)
    # tau = (sum of the k largest entries - 1) / k. Keras 3.15 sums the running
    # sums over the support instead, which is wrong once k >= 2 (its outputs
    # then do not sum to 1); this is the published formula.
    top_sum = torch.where(support, ordered, torch.zeros_like(ordered))
    tau = (top_sum.sum(dim=axis, keepdim=True) - 1) / k
    return _keep_dtype(torch.clamp(x - tau, min=0.0), x)


# Symbolic inputs. Keras's activations are built from ops, so
# `activations.sigmoid(keras.Input(...))` gives a KerasTensor; here an
# activation called on a KerasTensor becomes the `lamina.ops` op of the same
# name (with this function's defaults, e.g. `approximate=False` for gelu);
# relu, as in Keras, is an op of its own (`ReLU`) that keeps `negative_slope`,
# `max_value` and `threshold` in its config.


def _symbolic_activation(fn, x, args, kwargs):
    import inspect

    from lamina import ops
    from lamina.backend.naming import uniquify
    from lamina.layers.core.op_layer import OpLayer
    from lamina.ops import operation

    if fn.__name__ == "exponential":  # composed of ops, as in Keras
        return ops.exp(x)
    if fn.__name__ == "mish":
        return x * ops.tanh(ops.softplus(x))
    if fn.__name__ == "relu":  # Keras's own ReLU op, arguments in its config
        bound = inspect.signature(fn).bind(x, *args, **kwargs)
        bound.apply_defaults()
        settings = {k: v for k, v in bound.arguments.items() if k != "x"}
        layer = OpLayer(fn, name=uniquify("re_lu"), op_kwargs=settings)
        return layer._symbolic_call((x,), {})
    op_fn = getattr(ops, fn.__name__, None)
    if op_fn is not None and operation.is_op(op_fn):
        bound = inspect.signature(fn).bind(x, *args, **kwargs)
        bound.apply_defaults()
        accepted = inspect.signature(op_fn).parameters
        if all(name in accepted for name in bound.arguments):
            return op_fn(**bound.arguments)
    return OpLayer(fn)._symbolic_call((x, *args), kwargs)


def _accepting_symbolic_inputs(fn):
    from lamina.backend.keras_tensor import KerasTensor

    @functools.wraps(fn)
    def activation(x, *args, **kwargs):
        if isinstance(x, KerasTensor):
            return _symbolic_activation(fn, x, args, kwargs)
        return fn(x, *args, **kwargs)

    return activation


for _fn in (
    celu, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu,
    hard_tanh, leaky_relu, log_sigmoid, log_softmax, mish, relu, relu6, selu,
    sigmoid, silu, soft_shrink, softmax, softplus, softsign, sparse_plus,
    sparse_sigmoid, sparsemax, squareplus, tanh, tanh_shrink, threshold,
):  # fmt: skip
    globals()[_fn.__name__] = _accepting_symbolic_inputs(_fn)
del _fn
