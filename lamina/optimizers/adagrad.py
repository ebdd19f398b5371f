"""Adagrad: per-coordinate rates from the sum of squared gradients."""

import torch

from lamina.optimizers._utils import _select, addcdiv_scaled_
from lamina.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad as Keras 3 computes it.

    `a += g**2`, then `w -= lr * g / sqrt(a + eps)`, with `a` starting at
    `initial_accumulator_value`. (torch's Adagrad starts at 0, puts eps
    outside the root and defaults to `lr=0.01`.)

    Args:
        learning_rate: Defaults to `0.001`.
        initial_accumulator_value: Starting value of `a`. Defaults to `0.1`.
        epsilon: Defaults to `1e-7`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = Adagrad(learning_rate=0.1, initial_accumulator_value=0.0,
    ...               epsilon=0.0)
    >>> _ = opt.apply_gradients([(torch.tensor([3.0]), w)])
    >>> round(w.detach().item(), 6)  # 1 - 0.1 * 3 / 3
    0.9
    """

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
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
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=float(self.initial_accumulator_value)
        )

    def _foreach_update(self, grads, variables, indices, scalars):
        (learning_rate,) = scalars
        accumulators = _select(self._accumulators, indices)
        torch._foreach_addcmul_(accumulators, grads, grads)
        denominators = torch._foreach_add(accumulators, float(self.epsilon))
        torch._foreach_sqrt_(denominators)
        addcdiv_scaled_(variables, grads, denominators, -learning_rate)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
