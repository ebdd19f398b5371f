"""Helpers shared by the optimizers: argument checks, gradient clipping, the
host-side pieces of the update rules, and multi-tensor updates whose step-dependent
scale is either a Python number (eager) or a 0-d tensor (inside torch.compile)."""

import inspect
import warnings

import numpy as np
import torch

_COMMON_ARGS = (
    "learning_rate",
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
    "name",
)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _f32(value) -> float:
    """`value` rounded to float32, as Keras stores its learning-rate variable."""
    return float(np.float32(value))


def _select(values: list, indices):
    """`values`, or the entries at `indices` (the variables that have gradients)."""
    return values if indices is None else [values[i] for i in indices]


def _scalar_type(var_list):
    """The NumPy float type Keras would compute per-step scalars in.

    Keras casts bias corrections and the learning rate to the variables' dtype
    and computes them on the device. We compute the same numbers on the host in
    that precision (float32, or float64 for float64 weights), which keeps the
    trajectories bit-close to Keras's without a device round trip.
    """
    if var_list and var_list[0].dtype == torch.float64:
        return np.float64
    return np.float32


def _bias_correction(beta, step: int, scalar=np.float32):
    """`1 - beta ** step`, computed in `scalar` precision as Keras does."""
    return scalar(1) - scalar(beta) ** scalar(step)


def pop_legacy_arguments(cls, learning_rate, kwargs: dict):
    """Handle Keras 2 spellings in `kwargs` and reject anything else unknown.

    `lr=` replaces `learning_rate` (an error if both were given); `decay=` is
    ignored with a warning, as Keras 3 does. Returns the learning rate.
    """
    owner = cls.__name__
    if "lr" in kwargs:
        lr = kwargs.pop("lr")
        parameter = inspect.signature(cls.__init__).parameters.get("learning_rate")
        if (
            parameter is not None
            and learning_rate is not parameter.default
            and learning_rate != parameter.default
        ):
            raise ValueError(
                f"{owner} got both `learning_rate={learning_rate!r}` and "
                f"`lr={lr!r}`. `lr` is the old name of `learning_rate`; pass only "
                "learning_rate."
            )
        learning_rate = lr
    if kwargs.pop("decay", None) is not None:
        warnings.warn(
            "Argument `decay` is no longer supported and will be ignored. "
            "Use a LearningRateSchedule instead.",
            stacklevel=4,
        )
    if kwargs:
        raise ValueError(
            f"{owner} got unknown argument(s) {sorted(kwargs)}. Valid arguments are "
            f"those of {owner}.__init__, including the common "
            f"{', '.join(_COMMON_ARGS)}."
        )
    return learning_rate


def check_common_arguments(
    owner: str,
    *,
    weight_decay,
    clipnorm,
    clipvalue,
    global_clipnorm,
    use_ema,
    ema_momentum,
    ema_overwrite_frequency,
    loss_scale_factor,
    gradient_accumulation_steps,
) -> None:
    """Raise for bad values of the arguments every optimizer takes."""
    for arg, value in (
        ("weight_decay", weight_decay),
        ("clipnorm", clipnorm),
        ("clipvalue", clipvalue),
        ("global_clipnorm", global_clipnorm),
        ("loss_scale_factor", loss_scale_factor),
    ):
        if value is not None and not _is_number(value):
            raise TypeError(
                f"{owner} expects `{arg}` to be a number or None; got "
                f"{arg}={value!r} of type {type(value).__name__}."
            )
    if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
        raise ValueError(
            "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
            f"set on {owner}; got clipnorm={clipnorm}, clipvalue={clipvalue}, "
            f"global_clipnorm={global_clipnorm}. Keep one and drop the others."
        )
    if gradient_accumulation_steps is not None and (
        not _is_int(gradient_accumulation_steps) or gradient_accumulation_steps < 2
    ):
        raise ValueError(
            f"{owner} expects `gradient_accumulation_steps` to be an integer >= 2 "
            f"(or None); got gradient_accumulation_steps="
            f"{gradient_accumulation_steps!r}."
        )
    if use_ema:
        if not _is_number(ema_momentum) or not 0 <= ema_momentum <= 1:
            raise ValueError(
                f"{owner} expects `ema_momentum` in [0, 1]; got "
                f"ema_momentum={ema_momentum!r}."
            )
        if ema_overwrite_frequency is not None and (
            not _is_int(ema_overwrite_frequency) or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                f"{owner} expects `ema_overwrite_frequency` to be an integer >= 1 "
                f"or None; got ema_overwrite_frequency={ema_overwrite_frequency!r}."
            )


def clip_gradients(grads: list, clipnorm, clipvalue, global_clipnorm) -> list:
    """Keras's gradient clipping, as multi-tensor kernels with no host sync.

    `clipnorm`: each `g * c / max(||g||, c)`; `global_clipnorm`: all gradients
    times `c / max(||all||, c)` (NaN everywhere if that norm is not finite, as
    in Keras); `clipvalue`: each entry clamped to `[-c, c]`. A missing or
    non-positive setting does nothing. Returns new tensors; `grads` is untouched.
    """
    if clipnorm and clipnorm > 0:
        clip = float(clipnorm)
        factors = _norms(grads)
        torch._foreach_maximum_(factors, clip)
        torch._foreach_reciprocal_(factors)
        torch._foreach_mul_(factors, clip)
        return torch._foreach_mul(grads, factors)
    if global_clipnorm and global_clipnorm > 0:
        clip = float(global_clipnorm)
        norm = torch.linalg.vector_norm(torch.stack(_norms(grads)))
        scale = clip * torch.clamp(1.0 / norm, max=1.0 / clip) + (norm - norm)
        return torch._foreach_mul(grads, scale)
    if clipvalue and clipvalue > 0:
        value = float(clipvalue)
        clipped = torch._foreach_clamp_min(grads, -value)
        torch._foreach_clamp_max_(clipped, value)
        return clipped
    return grads


def _norms(grads: list) -> list:
    """Each gradient's L2 norm: one multi-tensor kernel when eager; inside a
    compiled step per-tensor norms, which inductor fuses itself (its C++
    wrapper has no kernel for a one-tensor `_foreach_norm` and crashed)."""
    if torch.compiler.is_compiling():
        return [torch.linalg.vector_norm(g) for g in grads]
    return list(torch._foreach_norm(grads))


# Step-dependent scales (learning rate, bias corrections) reach the update rules
# as Python numbers when eager, so the fused `alpha=` / `value=` kernels run as
# before, and as 0-d tensors inside a compiled train step, where a number would
# be burned into the graph as a constant and force a recompile every step.
# `torch._foreach_mul_` / `_foreach_div_` take either kind directly.


def add_scaled_(tensors: list, others: list, scale) -> None:
    """`tensors += scale * others`, in place; `scale` a number or a 0-d tensor."""
    if isinstance(scale, torch.Tensor):
        torch._foreach_add_(tensors, torch._foreach_mul(others, scale))
    else:
        torch._foreach_add_(tensors, others, alpha=scale)


def addcdiv_scaled_(tensors: list, numerators: list, denominators: list, scale) -> None:
    """`tensors += scale * numerators / denominators`, in place; `scale` a number
    or a 0-d tensor."""
    if isinstance(scale, torch.Tensor):
        quotients = torch._foreach_div(numerators, denominators)
        torch._foreach_mul_(quotients, scale)
        torch._foreach_add_(tensors, quotients)
    else:
        torch._foreach_addcdiv_(tensors, numerators, denominators, value=scale)
