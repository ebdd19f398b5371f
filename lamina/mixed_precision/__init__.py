"""lamina.mixed_precision: compute in bfloat16/float16, keep float32 weights.

`set_global_policy("mixed_bfloat16")` makes layers created afterwards run their
forward pass under `torch.autocast` (matmuls and convolutions in bfloat16, weights
and reductions in float32). With `"mixed_float16"`, `fit` also scales the loss
dynamically so small float16 gradients do not underflow.
"""

from lamina.dtype_policies import DTypePolicy
from lamina.dtype_policies import dtype_policy as _dtype_policy
from lamina.dtype_policies import set_dtype_policy as _set_dtype_policy
from lamina.mixed_precision.loss_scale import DynamicLossScale
from lamina.optimizers.loss_scale_optimizer import LossScaleOptimizer

Policy = DTypePolicy  # Keras 2 name, kept by Keras 3 for compatibility


def set_global_policy(policy) -> None:
    """Policy for layers created from now on: `"float32"`, `"mixed_bfloat16"`,
    `"mixed_float16"`, a DTypePolicy, or None (back to float32)."""
    _set_dtype_policy(policy)


def global_policy() -> DTypePolicy:
    """The policy new layers get."""
    return _dtype_policy()


set_dtype_policy = set_global_policy
dtype_policy = global_policy

__all__ = [
    "DTypePolicy",
    "DynamicLossScale",
    "LossScaleOptimizer",
    "Policy",
    "dtype_policy",
    "global_policy",
    "set_dtype_policy",
    "set_global_policy",
]
