"""RMSprop: divide by a running root mean square of the gradients."""

import torch

from lamina.optimizers._utils import _select, addcdiv_scaled_
from lamina.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop with Keras 3's epsilon placement (inside the square root).

    `v = rho * v + (1 - rho) * g**2`; the step is `lr * g / sqrt(v + eps)`, or
    with `centered=True` `lr * g / sqrt(v - a**2 + eps)` where `a` is the running
    mean gradient. With `momentum > 0` a buffer `b = momentum * b + step` is
    subtracted instead of the step. (torch's RMSprop puts eps outside the root
    and defaults to `alpha=0.99`, `lr=0.01`.)

    Args:
        learning_rate: Defaults to `0.001`.
        rho: Decay of the running mean square. Defaults to `0.9`.
        momentum: Defaults to `0.0`.
        epsilon: Defaults to `1e-7`.
        centered: Normalize by the gradient's estimated variance instead of
            its second moment. Defaults to `False`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = RMSprop(learning_rate=0.1, epsilon=0.0)
    >>> _ = opt.apply_gradients([(torch.tensor([2.0]), w)])
    >>> round(w.detach().item(), 4)  # 1 - 0.1 * 2 / sqrt(0.1 * 4)
    0.6838
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
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
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        # Keras: three separate loops, so the slot kinds are not interleaved.
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(
                var_list, "average_gradient"
            )

    def _foreach_update(self, grads, variables, indices, scalars):
        (learning_rate,) = scalars
        rho = float(self.rho)
        velocities = _select(self._velocities, indices)
        torch._foreach_mul_(velocities, rho)
        torch._foreach_addcmul_(velocities, grads, grads, value=1.0 - rho)
        denominators = torch._foreach_add(velocities, float(self.epsilon))
        if self.centered:
            averages = _select(self._average_gradients, indices)
            torch._foreach_mul_(averages, rho)
            torch._foreach_add_(averages, grads, alpha=1.0 - rho)
            torch._foreach_addcmul_(denominators, averages, averages, value=-1.0)
        torch._foreach_sqrt_(denominators)
        if self.momentum > 0:
            buffers = _select(self._momentums, indices)
            torch._foreach_mul_(buffers, float(self.momentum))
            addcdiv_scaled_(buffers, grads, denominators, learning_rate)
            torch._foreach_sub_(variables, buffers)
        else:
            addcdiv_scaled_(variables, grads, denominators, -learning_rate)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
