"""SGD: gradient descent, optionally with (Nesterov) momentum."""

import torch

from lamina.optimizers._utils import _is_number, _select, add_scaled_
from lamina.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with Keras 3's momentum rule.

    Without momentum: `w -= lr * g`. With momentum `mu`, a velocity that already
    includes the learning rate: `v = mu * v - lr * g`, then `w += v`, or with
    `nesterov=True`, `w += mu * v - lr * g`. (torch's SGD keeps the learning
    rate out of its buffer, which differs once the rate changes.)

    Args:
        learning_rate: Defaults to `0.01`.
        momentum: A float in `[0, 1]`. Defaults to `0.0`.
        nesterov: Use Nesterov momentum. Defaults to `False`.
        **kwargs: The common optimizer arguments (`weight_decay`, `clipnorm`,
            `name`, ...; see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    >>> opt = SGD(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(torch.tensor([1.0, 1.0]), w)])
    >>> w.detach().tolist()
    [0.8999999761581421, 1.899999976158142]
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
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
        if not _is_number(momentum) or not 0 <= momentum <= 1:
            raise ValueError(
                "`momentum` must be a float between [0, 1]. SGD got "
                f"momentum={momentum!r}; a common choice is momentum=0.9."
            )
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, variables) -> None:
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def _foreach_update(self, grads, variables, indices, scalars):
        (learning_rate,) = scalars
        if self.momentum == 0:
            add_scaled_(variables, grads, -learning_rate)
            return
        mu = float(self.momentum)
        velocities = _select(self.momentums, indices)
        torch._foreach_mul_(velocities, mu)
        add_scaled_(velocities, grads, -learning_rate)
        if self.nesterov:
            add_scaled_(variables, grads, -learning_rate)
            torch._foreach_add_(variables, velocities, alpha=mu)
        else:
            torch._foreach_add_(variables, velocities)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
        }
