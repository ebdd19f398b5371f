"""Nadam: Adam with Nesterov momentum and Keras's momentum schedule."""

import torch

from lamina.optimizers._utils import _bias_correction, _select, addcdiv_scaled_
from lamina.optimizers.optimizer import Optimizer


class Nadam(Optimizer):
    """Nadam (Dozat, 2016) as Keras 3 computes it.

    With `u_t = b1 * (1 - 0.5 * 0.96**t)` and `P_t = u_1 * ... * u_t` (kept in
    a saved scalar variable), the step is
    `m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t)`,
    `v_hat = v / (1 - b2**t)`, `w -= lr * m_hat / (sqrt(v_hat) + eps)`.
    torch's NAdam scales the exponent by `momentum_decay=0.004`, so its
    momentum schedule differs.

    Args:
        learning_rate: Defaults to `0.001`.
        beta_1: Defaults to `0.9`.
        beta_2: Defaults to `0.999`.
        epsilon: Defaults to `1e-7`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> opt = Nadam()
    >>> opt.build([w])
    >>> [tuple(v.shape) for v in opt.variables]  # iteration, lr, m, v, u_product
    [(), (), (3,), (3,), ()]
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
        self._u_product_value = 1.0

    def build(self, var_list) -> None:
        if self.built:
            return
        var_list = list(var_list)
        dtype = var_list[0].dtype if var_list else None
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        # Keras saves the running product as the last variable, named "variable".
        self._u_product = self._scalar_variable(
            "variable",
            dtype if dtype is not None and dtype.is_floating_point else torch.float32,
            1.0,
        )

    def _sync_scalars_to_tensors(self) -> None:
        super()._sync_scalars_to_tensors()
        if self.built:
            self._u_product.fill_(self._u_product_value)

    def _sync_scalars_from_tensors(self) -> None:
        super()._sync_scalars_from_tensors()
        if self.built:
            self._u_product_value = float(self._u_product)

    def _step_scalars(self, learning_rate, step):
        # Advances the running product P_t: call once per update (the base does).
        beta_1, f = float(self.beta_1), self._scalar
        u_t = f(beta_1) * (f(1) - f(0.5) * f(0.96) ** f(step))
        u_next = f(beta_1) * (f(1) - f(0.5) * f(0.96) ** f(step + 1))
        u_product = f(self._u_product_value) * u_t
        self._u_product_value = float(u_product)
        return (
            learning_rate,
            float(u_next),
            float(f(1) - u_product * u_next),
            float(f(1) - u_t),
            float(f(1) - u_product),
            float(_bias_correction(self.beta_2, step, f)),
        )

    def _foreach_update(self, grads, variables, indices, scalars):
        learning_rate, u_next, m_divisor, g_scale, g_divisor, v_correction = scalars
        beta_1, beta_2 = float(self.beta_1), float(self.beta_2)
        momentums = _select(self._momentums, indices)
        velocities = _select(self._velocities, indices)
        torch._foreach_lerp_(momentums, grads, 1.0 - beta_1)
        torch._foreach_mul_(velocities, beta_2)
        torch._foreach_addcmul_(velocities, grads, grads, value=1.0 - beta_2)
        # foreach mul/div take the numbers as floats or 0-d tensors alike.
        m_hat = torch._foreach_mul(momentums, u_next)
        torch._foreach_div_(m_hat, m_divisor)
        g_part = torch._foreach_mul(grads, g_scale)
        torch._foreach_div_(g_part, g_divisor)
        torch._foreach_add_(m_hat, g_part)
        denominators = torch._foreach_div(velocities, v_correction)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, float(self.epsilon))
        addcdiv_scaled_(variables, m_hat, denominators, -learning_rate)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
