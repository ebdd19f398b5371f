"""Ftrl: Follow The Regularized Leader (McMahan et al., 2013)."""

import torch

from lamina.optimizers._utils import _is_number, _select
from lamina.optimizers.optimizer import Optimizer


class Ftrl(Optimizer):
    """FTRL-Proximal, with online L1/L2 and shrinkage-type L2 regularization.

    Per weight, with accumulator `n` and linear term `z`:
    `g' = g + 2 * l2_shrinkage * w`, `n_new = n + g**2`,
    `z += g' - (n_new**-p - n**-p) / lr * w`, then
    `w = (clip(z, -l1, l1) - z) / (n_new**-p / lr + 2 * (l2 + beta / (2 * lr)))`
    and `n = n_new`, where `p` is `learning_rate_power`. A weight whose `|z|`
    stays below `l1` is exactly zero, which is what FTRL is used for: sparse
    linear models over many features.

    Args:
        learning_rate: Defaults to `0.001`.
        learning_rate_power: `<= 0`; how fast the per-weight rate decays with the
            accumulated squared gradients (`0` keeps it fixed). Defaults to
            `-0.5`.
        initial_accumulator_value: Starting value of `n`, `>= 0`. Defaults to
            `0.1`.
        l1_regularization_strength: `>= 0`. Defaults to `0.0`.
        l2_regularization_strength: `>= 0`, the stabilizing L2 term. Defaults
            to `0.0`.
        l2_shrinkage_regularization_strength: `>= 0`, an L2 penalty on the
            weights' magnitude added to the gradient. Defaults to `0.0`.
        beta: The paper's `beta`, added to the L2 term as
            `beta / (2 * learning_rate)`. Defaults to `0.0`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([0.5, 0.5]))
    >>> opt = Ftrl(learning_rate=0.1, l1_regularization_strength=0.2)
    >>> _ = opt.apply_gradients([(torch.tensor([1.0, 0.01]), w)])
    >>> w.detach().tolist()[1]  # |z| below l1: the weight is exactly zero
    0.0
    """

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
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
        for arg, value, sign in (
            ("initial_accumulator_value", initial_accumulator_value, 1),
            ("learning_rate_power", learning_rate_power, -1),
            ("l1_regularization_strength", l1_regularization_strength, 1),
            ("l2_regularization_strength", l2_regularization_strength, 1),
            (
                "l2_shrinkage_regularization_strength",
                l2_shrinkage_regularization_strength,
                1,
            ),
        ):
            wanted = "positive or zero" if sign > 0 else "negative or zero"
            if not _is_number(value):
                raise ValueError(
                    f"Ftrl expects `{arg}` to be a number, {wanted}; got "
                    f"{arg}={value!r}."
                )
            if sign * value < 0:  # Keras's exact words
                raise ValueError(
                    f"`{arg}` needs to be {wanted}. Received: {arg}={value}."
                )
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list,
            ["accumulator", "linear"],
            initializer=[float(self.initial_accumulator_value), "zeros"],
        )

    def _step_scalars(self, learning_rate, step):
        # The L2 term depends on the rate through `beta`: `2 * (l2 + beta/(2 lr))`,
        # in float32 as Keras computes it on the device.
        f = self._scalar
        l2 = f(self.l2_regularization_strength) + f(self.beta) / (
            f(2) * f(learning_rate)
        )
        return (learning_rate, float(f(2) * l2))

    def _foreach_update(self, grads, variables, indices, scalars):
        learning_rate, two_l2 = scalars
        power = -float(self.learning_rate_power)
        l1 = float(self.l1_regularization_strength)
        shrinkage = float(self.l2_shrinkage_regularization_strength)
        accumulators = _select(self._accumulators, indices)
        linears = _select(self._linears, indices)
        new_accumulators = torch._foreach_add(
            accumulators, torch._foreach_mul(grads, grads)
        )
        new_powers = torch._foreach_pow(new_accumulators, power)
        # sigma * w = (n_new**-p - n**-p) / lr * w
        sigma_w = torch._foreach_sub(
            new_powers, torch._foreach_pow(accumulators, power)
        )
        torch._foreach_div_(sigma_w, learning_rate)
        torch._foreach_mul_(sigma_w, variables)
        if shrinkage:
            grads = torch._foreach_add(
                grads, torch._foreach_mul(variables, 2 * shrinkage)
            )
        torch._foreach_add_(linears, torch._foreach_sub(grads, sigma_w))
        quadratics = torch._foreach_div(new_powers, learning_rate)
        if isinstance(two_l2, torch.Tensor):
            # One 0-d tensor per entry: adding a tensor scalar directly would
            # read it on the host inside a compiled step.
            torch._foreach_add_(quadratics, [two_l2] * len(quadratics))
        else:
            torch._foreach_add_(quadratics, two_l2)
        numerators = torch._foreach_clamp_min(linears, -l1)
        torch._foreach_clamp_max_(numerators, l1)
        torch._foreach_sub_(numerators, linears)
        torch._foreach_div_(numerators, quadratics)
        torch._foreach_copy_(variables, numerators)
        torch._foreach_copy_(accumulators, new_accumulators)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": (
                self.l2_shrinkage_regularization_strength
            ),
            "beta": self.beta,
        }
