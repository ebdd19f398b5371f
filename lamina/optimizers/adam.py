"""Adam: adaptive moment estimation, with Keras 3's epsilon placement."""

import numpy as np
import torch

from lamina.optimizers._utils import _bias_correction, _select, addcdiv_scaled_
from lamina.optimizers.optimizer import Optimizer


class Adam(Optimizer):
    """Adam as Keras 3 computes it.

    `m = b1*m + (1-b1)*g`, `v = b2*v + (1-b2)*g**2`, then
    `w -= alpha * m / (sqrt(v) + eps)` with
    `alpha = lr * sqrt(1 - b2**t) / (1 - b1**t)`: epsilon is added to the
    *uncorrected* root ("epsilon hat"). torch's Adam adds it to the corrected
    root and defaults to `eps=1e-8`, so the two differ while `v` is small.

    Args:
        learning_rate: Defaults to `0.001`.
        beta_1: Decay of the first moment. Defaults to `0.9`.
        beta_2: Decay of the second moment. Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
        amsgrad: Use the running maximum of `v` (AMSGrad). Defaults to `False`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = Adam(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(torch.tensor([0.5]), w)])
    >>> round(w.detach().item(), 5)  # the first Adam step moves by about lr
    0.9
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
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
        self.amsgrad = amsgrad

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def _step_scalars(self, learning_rate, step):
        # The bias-corrected rate `lr * sqrt(1 - b2**t) / (1 - b1**t)`.
        beta_1, beta_2, f = float(self.beta_1), float(self.beta_2), self._scalar
        alpha = (
            f(learning_rate)
            * np.sqrt(_bias_correction(beta_2, step, f))
            / _bias_correction(beta_1, step, f)
        )
        return (float(alpha),)

    def _foreach_update(self, grads, variables, indices, scalars):
        (alpha,) = scalars
        beta_1, beta_2 = float(self.beta_1), float(self.beta_2)
        momentums = _select(self._momentums, indices)
        velocities = _select(self._velocities, indices)
        torch._foreach_lerp_(momentums, grads, 1.0 - beta_1)
        torch._foreach_mul_(velocities, beta_2)
        torch._foreach_addcmul_(velocities, grads, grads, value=1.0 - beta_2)
        if self.amsgrad:
            velocity_hats = _select(self._velocity_hats, indices)
            torch._foreach_maximum_(velocity_hats, velocities)
            velocities = velocity_hats
        denominators = torch._foreach_sqrt(velocities)
        torch._foreach_add_(denominators, float(self.epsilon))
        addcdiv_scaled_(variables, momentums, denominators, -alpha)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }
