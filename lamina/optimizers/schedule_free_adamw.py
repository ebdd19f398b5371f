"""ScheduleFreeAdamW: AdamW without a learning-rate schedule (Defazio et al., 2024)."""

import torch

from lamina.optimizers._utils import _bias_correction, _select
from lamina.optimizers.optimizer import Optimizer


class ScheduleFreeAdamW(Optimizer):
    """Schedule-Free AdamW: interpolate between a fast and an averaged sequence.

    The `momentum` slot holds the fast sequence `z` (it starts as a copy of the
    weights); the weights hold `y`, from which the running average `x` is
    recovered. Per step `t`, with `lr` ramped up over `warmup_steps`:

    - `v += (g**2 - v) * (1 - b2)`, `z -= lr * g / (sqrt(v / (1 - b2**t)) + eps)`
    - `x = (1 - 1/t) * x_old + (1/t) * z`, where `x_old = (y - (1 - b1) * z_old) / b1`
    - `y = (1 - b1) * z + b1 * x`

    `z_old` is `z` before this step's update, as the algorithm (and Keras on
    the JAX, TensorFlow and NumPy backends) has it. Keras's torch backend
    reads `z` after the update instead, because it updates the slot in place.

    Args:
        learning_rate: Defaults to `0.0025`.
        beta_1: Interpolation between `z` and `x`. Defaults to `0.9`.
        beta_2: Decay of the second moment. Defaults to `0.999`.
        epsilon: Defaults to `1e-8`.
        warmup_steps: The rate grows linearly to `learning_rate` over this
            many steps. Defaults to `0`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    >>> opt = ScheduleFreeAdamW(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(torch.tensor([0.5, -1.0]), w)])
    >>> [round(x, 4) for x in w.detach().tolist()]  # the first step is Adam's
    [0.9, 2.1]
    """

    def __init__(
        self,
        learning_rate=0.0025,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warmup_steps=0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.warmup_steps = warmup_steps

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        with torch.no_grad():
            torch._foreach_copy_(self._momentums, list(var_list))

    def _step_scalars(self, learning_rate, step):
        f = self._scalar
        learning_rate = f(learning_rate)
        if self.warmup_steps > 0:
            learning_rate = learning_rate * min(f(step) / f(self.warmup_steps), f(1))
        weight = f(1) / f(step)
        return (
            float(learning_rate),
            float(_bias_correction(self.beta_2, step, f)),
            float(weight),
            float(f(1) - weight),
        )

    def _foreach_update(self, grads, variables, indices, scalars):
        learning_rate, correction_2, weight, one_minus_weight = scalars
        # Keras casts the betas to the weights' dtype before `1 - beta`.
        f = self._scalar
        beta_1, beta_2 = f(self.beta_1), f(self.beta_2)
        momentums = _select(self._momentums, indices)
        velocities = _select(self._velocities, indices)
        # x_old from y and z_old, before z moves.
        averages = torch._foreach_mul(momentums, float(f(1) - beta_1))
        averages = torch._foreach_sub(variables, averages)
        torch._foreach_div_(averages, float(beta_1))
        torch._foreach_lerp_(
            velocities, torch._foreach_mul(grads, grads), float(f(1) - beta_2)
        )
        denominators = torch._foreach_div(velocities, correction_2)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, float(f(self.epsilon)))
        steps = torch._foreach_mul(grads, learning_rate)
        torch._foreach_div_(steps, denominators)
        torch._foreach_sub_(momentums, steps)
        # x = (1 - w) x_old + w z, then y = (1 - b1) z + b1 x.
        torch._foreach_mul_(averages, one_minus_weight)
        torch._foreach_add_(averages, torch._foreach_mul(momentums, weight))
        torch._foreach_mul_(averages, float(beta_1))
        torch._foreach_add_(
            averages, torch._foreach_mul(momentums, float(f(1) - beta_1))
        )
        torch._foreach_copy_(variables, averages)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "warmup_steps": self.warmup_steps,
        }
