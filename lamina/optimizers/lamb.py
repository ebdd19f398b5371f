"""Lamb: Adam with a layer-wise trust ratio (You et al., 2019)."""

import torch

from lamina.optimizers._utils import _bias_correction, _select
from lamina.optimizers.optimizer import Optimizer


def _norms(tensors: list) -> list:
    """`torch._foreach_norm(tensors)`, except for a single tensor: inductor's
    C++ wrapper (torch 2.13, CPU) crashes on a one-tensor `_foreach_norm`."""
    if len(tensors) == 1:
        return [torch.linalg.vector_norm(tensors[0])]
    return torch._foreach_norm(tensors)


class Lamb(Optimizer):
    """Lamb, layer-wise adaptive moments for large batches.

    The Adam direction `u = (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)`
    is rescaled per variable by the trust ratio `||w|| / ||u||` (1 when either
    norm is zero): `w -= ratio * lr * u`. Each layer then moves by about `lr`
    times its own norm, whatever the scale of its gradients.

    Args:
        learning_rate: Defaults to `0.001`.
        beta_1: Decay of the first moment. Defaults to `0.9`.
        beta_2: Decay of the second moment. Defaults to `0.999`.
        epsilon: Added to the bias-corrected root. Defaults to `1e-7`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    >>> opt = Lamb(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(torch.tensor([1.0, 1.0]), w)])
    >>> [round(x, 4) for x in w.detach().tolist()]  # moved by 0.1 * ||w|| = 0.5
    [2.6464, 3.6464]
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
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def _step_scalars(self, learning_rate, step):
        f = self._scalar
        return (
            learning_rate,
            float(_bias_correction(self.beta_1, step, f)),
            float(_bias_correction(self.beta_2, step, f)),
        )

    def _foreach_update(self, grads, variables, indices, scalars):
        learning_rate, correction_1, correction_2 = scalars
        momentums = _select(self._momentums, indices)
        velocities = _select(self._velocities, indices)
        # m + (g - m) * (1 - b1): lerp computes exactly this for weights < 0.5.
        torch._foreach_lerp_(momentums, grads, 1.0 - self.beta_1)
        torch._foreach_lerp_(
            velocities, torch._foreach_mul(grads, grads), 1.0 - self.beta_2
        )
        denominators = torch._foreach_div(velocities, correction_2)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, float(self.epsilon))
        updates = torch._foreach_div(momentums, correction_1)
        torch._foreach_div_(updates, denominators)
        # The trust ratio, for all variables at once: no host sync.
        weight_norms = torch.stack(_norms(variables))
        update_norms = torch.stack(_norms(updates))
        ratios = torch.where(
            (weight_norms > 0) & (update_norms > 0), weight_norms / update_norms, 1.0
        )
        torch._foreach_mul_(updates, (ratios * learning_rate).unbind())
        torch._foreach_sub_(variables, updates)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
