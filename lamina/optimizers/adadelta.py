"""Adadelta: steps scaled by running RMS of past steps over that of gradients."""

import torch

from lamina.optimizers._utils import _select, add_scaled_
from lamina.optimizers.optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) as Keras 3 computes it.

    `Eg = rho*Eg + (1-rho)*g**2`; `d = sqrt(Edx + eps) / sqrt(Eg + eps) * g`;
    `Edx = rho*Edx + (1-rho)*d**2`; `w -= lr * d`. Keras's defaults
    (`learning_rate=0.001`, `rho=0.95`, `epsilon=1e-7`) differ from torch's
    (1.0, 0.9, 1e-6).

    Args:
        learning_rate: Defaults to `0.001`.
        rho: Decay of both running averages. Defaults to `0.95`.
        epsilon: Defaults to `1e-7`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = Adadelta(learning_rate=1.0, rho=0.0, epsilon=1.0)
    >>> _ = opt.apply_gradients([(torch.tensor([3.0]), w)])
    >>> round(w.detach().item(), 6)  # 1 - sqrt(1) / sqrt(9 + 1) * 3
    0.051317
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.95,
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
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = (
            self.add_optimizer_variables(
                var_list, ["accumulated_grad", "accumulated_delta_var"]
            )
        )

    def _foreach_update(self, grads, variables, indices, scalars):
        (learning_rate,) = scalars
        rho, eps = float(self.rho), float(self.epsilon)
        mean_sq_grads = _select(self._accumulated_grads, indices)
        mean_sq_deltas = _select(self._accumulated_delta_vars, indices)
        torch._foreach_mul_(mean_sq_grads, rho)
        torch._foreach_addcmul_(mean_sq_grads, grads, grads, value=1.0 - rho)
        delta_rms = torch._foreach_add(mean_sq_deltas, eps)
        torch._foreach_sqrt_(delta_rms)
        grad_rms = torch._foreach_add(mean_sq_grads, eps)
        torch._foreach_sqrt_(grad_rms)
        deltas = torch._foreach_mul(delta_rms, grads)  # the step, before its sign
        torch._foreach_div_(deltas, grad_rms)
        torch._foreach_mul_(mean_sq_deltas, rho)
        torch._foreach_addcmul_(mean_sq_deltas, deltas, deltas, value=1.0 - rho)
        add_scaled_(variables, deltas, -learning_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
