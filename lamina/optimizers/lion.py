"""Lion: sign of an interpolated momentum (Chen et al., 2023)."""

import torch

from lamina.optimizers._utils import _is_number, _select, add_scaled_
from lamina.optimizers.optimizer import Optimizer


class Lion(Optimizer):
    """Lion, evolved sign momentum.

    `w -= lr * sign(b1*m + (1-b1)*g)`, then `m = b2*m + (1-b2)*g`. Every
    coordinate moves by exactly `lr`, so Lion wants a smaller learning rate
    than Adam (3-10x).

    Args:
        learning_rate: Defaults to `0.001`.
        beta_1: Interpolation used for the step, in `(0, 1]`. Defaults to `0.9`.
        beta_2: Decay of the momentum. Defaults to `0.99`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    >>> opt = Lion(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(torch.tensor([5.0, -0.01]), w)])
    >>> [round(x, 6) for x in w.detach().tolist()]
    [0.9, 1.1]
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.99,
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
        if not _is_number(beta_1) or not 0 < beta_1 <= 1:
            raise ValueError(
                "Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                f"optimizer degenerates to SignSGD. Received: beta_1={beta_1!r}. "
                "(Lion needs 0 < beta_1 <= 1; the default is 0.9.)"
            )
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def _foreach_update(self, grads, variables, indices, scalars):
        (learning_rate,) = scalars
        beta_1, beta_2 = float(self.beta_1), float(self.beta_2)
        momentums = _select(self._momentums, indices)
        directions = torch._foreach_mul(momentums, beta_1)
        torch._foreach_add_(directions, grads, alpha=1.0 - beta_1)
        torch._foreach_sign_(directions)
        add_scaled_(variables, directions, -learning_rate)
        torch._foreach_mul_(momentums, beta_2)
        torch._foreach_add_(momentums, grads, alpha=1.0 - beta_2)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
