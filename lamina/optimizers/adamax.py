"""Adamax: Adam with the infinity norm in place of the second moment."""

import torch

from lamina.optimizers._utils import _bias_correction, _select, addcdiv_scaled_
from lamina.optimizers.optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax as Keras 3 computes it.

    `m = b1*m + (1-b1)*g`, `u = max(b2*u, |g|)`, then
    `w -= lr * m / ((1 - b1**t) * (u + eps))`. (torch adds eps inside the max
    and defaults to `lr=0.002`, `eps=1e-8`.)

    Args:
        learning_rate: Defaults to `0.001`.
        beta_1: Decay of the first moment. Defaults to `0.9`.
        beta_2: Decay of the infinity norm. Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = Adamax(learning_rate=0.1, epsilon=0.0)
    >>> _ = opt.apply_gradients([(torch.tensor([-2.0]), w)])
    >>> round(w.detach().item(), 6)  # the first step moves by lr against the gradient
    1.1
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
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

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def _step_scalars(self, learning_rate, step):
        # The rate and the first moment's bias correction `1 - b1**t`.
        correction = _bias_correction(self.beta_1, step, self._scalar)
        return (learning_rate, float(correction))

    def _foreach_update(self, grads, variables, indices, scalars):
        learning_rate, correction = scalars
        beta_1 = float(self.beta_1)
        momentums = _select(self._m, indices)
        norms = _select(self._u, indices)
        torch._foreach_lerp_(momentums, grads, 1.0 - beta_1)
        torch._foreach_mul_(norms, float(self.beta_2))
        torch._foreach_maximum_(norms, torch._foreach_abs(grads))
        denominators = torch._foreach_add(norms, float(self.epsilon))
        torch._foreach_mul_(denominators, correction)  # a number or a 0-d tensor
        addcdiv_scaled_(variables, momentums, denominators, -learning_rate)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
