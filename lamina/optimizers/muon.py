"""Muon: orthogonalized momentum for 2-D weights, AdamW for the rest."""

import math
import re

import numpy as np
import torch

from lamina.optimizers import _utils
from lamina.optimizers._utils import _bias_correction, _select
from lamina.optimizers.optimizer import Optimizer


class Muon(Optimizer):
    """Muon (Jordan et al., 2024), with Moonlight's update scaling (Liu et al., 2025).

    A 2-D weight steps along its momentum (`m = momentum * m + g`; with
    `nesterov`, the direction is `g + momentum * m`) made nearly orthogonal by
    `ns_steps` Newton-Schulz iterations, times
    `lr * sqrt(max(rows, cols)) * rms_rate`. Every other weight - not 2-D, a
    path containing "embedding" (with `exclude_embeddings`), or matching one
    of `exclude_layers` - takes an AdamW step at `lr * adam_lr_ratio`.
    Output layers should be excluded too: pass their names in `exclude_layers`.

    Weight decay is decoupled, `w -= w * wd * lr`, with `weight_decay` for the
    Muon weights and `adam_weight_decay` for the AdamW ones.

    Args:
        learning_rate: Defaults to `0.001`.
        adam_beta_1: First-moment decay of the AdamW step. Defaults to `0.9`.
        adam_beta_2: Second-moment decay of the AdamW step. Defaults to `0.999`.
        adam_weight_decay: Weight decay of the AdamW weights. Defaults to
            `0.004`.
        epsilon: AdamW's epsilon, added to the uncorrected root. Defaults to
            `1e-7`.
        weight_decay: Weight decay of the Muon weights. Defaults to `0.004`.
        exclude_layers: Regular expressions; weights whose path matches one
            take the AdamW step. Defaults to none.
        exclude_embeddings: Embedding weights take the AdamW step. Defaults
            to `True`.
        muon_a, muon_b, muon_c: Coefficients of the quintic Newton-Schulz
            iteration. Default to `3.4445`, `-4.7750`, `2.0315`.
        adam_lr_ratio: The AdamW step's rate over `learning_rate`. Defaults
            to `1`.
        momentum: Momentum of the Muon step. Defaults to `0.95`.
        ns_steps: Newton-Schulz iterations. Defaults to `5`.
        nesterov: Use Nesterov momentum. Defaults to `True`.
        rms_rate: Scale of the Muon update per `sqrt(max(rows, cols))`;
            `None` leaves the orthogonalized update unscaled. Defaults to `0.2`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> kernel = torch.nn.Parameter(torch.zeros(2, 2))
    >>> kernel.path = "dense/kernel"
    >>> opt = Muon(learning_rate=0.1, weight_decay=None, rms_rate=None)
    >>> _ = opt.apply_gradients([(torch.eye(2), kernel)])
    >>> round(kernel.detach()[0, 0].item(), 1)  # about lr: Newton-Schulz is approximate
    -0.1
    >>> kernel.detach()[0, 1].item()  # g is already orthogonal: no off-diagonal step
    0.0
    """

    def __init__(
        self,
        learning_rate=0.001,
        adam_beta_1=0.9,
        adam_beta_2=0.999,
        adam_weight_decay=0.004,
        epsilon=1e-7,
        weight_decay=0.004,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        exclude_layers=None,
        exclude_embeddings=True,
        muon_a=3.4445,
        muon_b=-4.7750,
        muon_c=2.0315,
        adam_lr_ratio=1,
        momentum=0.95,
        ns_steps=5,
        nesterov=True,
        rms_rate=0.2,
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
        if adam_weight_decay is not None and not _utils._is_number(adam_weight_decay):
            raise TypeError(
                "Muon expects `adam_weight_decay` to be a number or None; got "
                f"adam_weight_decay={adam_weight_decay!r}."
            )
        if isinstance(exclude_layers, str):
            raise TypeError(
                "Muon expects `exclude_layers` to be a list of strings; got the "
                f"string {exclude_layers!r}. Write exclude_layers=[{exclude_layers!r}]."
            )
        if not _utils._is_int(ns_steps) or ns_steps < 0:
            raise ValueError(
                f"Muon expects `ns_steps` to be an int >= 0; got ns_steps={ns_steps!r}."
            )
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.epsilon = epsilon
        self.muon_a = muon_a
        self.muon_b = muon_b
        self.muon_c = muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = exclude_layers or []
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate

    def _should_use_adamw(self, variable) -> bool:
        """Whether `variable` takes the AdamW step rather than the Muon one."""
        if len(variable.shape) != 2:
            return True
        path = getattr(variable, "path", None) or ""
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        # Keras's order: each variable's momentum, then its velocity if AdamW.
        self._use_adamw = [self._should_use_adamw(v) for v in var_list]
        self.momentums, self.adam_velocities = [], []
        for variable, use_adamw in zip(var_list, self._use_adamw):
            self.momentums.append(
                self.add_variable_from_reference(variable, "momentum")
            )
            self.adam_velocities.append(
                self.add_variable_from_reference(variable, "velocity")
                if use_adamw
                else None
            )

    # Muon decays each group with its own rate, so it replaces the base class's
    # single decay factor: the host numbers are `(lr, adam_alpha)` only.

    def _host_step_scalars(self) -> tuple:
        f = self._scalar
        learning_rate = float(f(self._current_learning_rate()))
        return self._step_scalars(learning_rate, self._local_step())

    def _step_scalars(self, learning_rate, step):
        # AdamW's bias-corrected rate at `lr * adam_lr_ratio`, as in Adam.
        f = self._scalar
        adam_lr = f(learning_rate) * f(self.adam_lr_ratio)
        alpha = (
            adam_lr
            * np.sqrt(_bias_correction(self.adam_beta_2, step, f))
            / _bias_correction(self.adam_beta_1, step, f)
        )
        return (learning_rate, float(alpha))

    def _clip_decay_update(self, grads, variables, indices, scalars) -> None:
        grads = _utils.clip_gradients(
            grads, self.clipnorm, self.clipvalue, self.global_clipnorm
        )
        learning_rate = scalars[0]
        positions = range(len(variables)) if indices is None else indices
        for use_adamw, decay in (
            (True, self.adam_weight_decay),
            (False, self.weight_decay),
        ):
            if decay is None:
                continue
            decayed = [
                v
                for v, i in zip(variables, positions)
                if self._use_adamw[i] is use_adamw and self._decay_mask[i]
            ]
            if decayed:
                # w - w * wd * lr, in Keras's order of operations.
                shrink = torch._foreach_mul(decayed, float(decay))
                torch._foreach_mul_(shrink, learning_rate)
                torch._foreach_sub_(decayed, shrink)
        self._foreach_update(grads, variables, indices, scalars)

    def _foreach_update(self, grads, variables, indices, scalars):
        learning_rate, alpha = scalars
        positions = list(range(len(variables))) if indices is None else indices
        adamw = [k for k, i in enumerate(positions) if self._use_adamw[i]]
        muon = [k for k, i in enumerate(positions) if not self._use_adamw[i]]
        momentums = _select(self.momentums, indices)
        if adamw:
            self._adamw_update(
                [grads[k] for k in adamw],
                [variables[k] for k in adamw],
                [momentums[k] for k in adamw],
                [self.adam_velocities[positions[k]] for k in adamw],
                alpha,
            )
        if muon:
            self._muon_update(
                [grads[k] for k in muon],
                [variables[k] for k in muon],
                [momentums[k] for k in muon],
                learning_rate,
            )

    def _adamw_update(self, grads, variables, momentums, velocities, alpha):
        torch._foreach_lerp_(momentums, grads, 1.0 - self.adam_beta_1)
        torch._foreach_lerp_(
            velocities, torch._foreach_mul(grads, grads), 1.0 - self.adam_beta_2
        )
        denominators = torch._foreach_sqrt(velocities)
        torch._foreach_add_(denominators, float(self.epsilon))
        steps = torch._foreach_mul(momentums, alpha)
        torch._foreach_div_(steps, denominators)
        torch._foreach_sub_(variables, steps)

    def _muon_update(self, grads, variables, momentums, learning_rate):
        # m += g + m * (momentum - 1), i.e. m = momentum * m + g.
        increments = torch._foreach_mul(momentums, self.momentum - 1)
        torch._foreach_add_(increments, grads)
        torch._foreach_add_(momentums, increments)
        if self.nesterov:
            directions = torch._foreach_mul(momentums, self.momentum)
            torch._foreach_add_(directions, grads)
        else:
            directions = momentums
        # Newton-Schulz is per matrix (its matmuls depend on the shape).
        updates = [
            self.zeropower_via_newtonschulz5(d, self.ns_steps) for d in directions
        ]
        torch._foreach_mul_(updates, learning_rate)
        if self.rms_rate is not None:
            # Moonlight's scale `sqrt(max(rows, cols)) * rms_rate`, applied in
            # two roundings as Keras does. Per matrix: inductor's C++ wrapper
            # crashed (torch 2.13, CPU) on a one-entry `_foreach_mul_` scalar list.
            rms_rate = float(self.rms_rate)
            for update, variable in zip(updates, variables):
                rows, columns = variable.shape
                scale = float(np.float32(math.sqrt(max(rows, columns))))
                update.mul_(scale).mul_(rms_rate)
        torch._foreach_sub_(variables, updates)

    def lr_adjust(self, x):
        """`x` (a 2-D update) scaled as Moonlight scales Muon's updates:
        times `sqrt(max(rows, cols)) * rms_rate`, or unchanged when
        `rms_rate` is None.

        Args:
            x: A 2-D tensor (or array).

        Returns:
            The scaled tensor, or `x` itself when `rms_rate` is None.
        """
        if self.rms_rate is None:
            return x
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        scale = math.sqrt(max(x.shape[0], x.shape[1]))
        return x * float(np.float32(scale)) * float(self.rms_rate)

    def zeropower_via_newtonschulz5(self, x, steps: int):
        """`x` made nearly orthogonal (`U S' V^T` with `S'` close to the
        identity) by `steps` quintic Newton-Schulz iterations on its last two
        axes, with Muon's coefficients `muon_a`, `muon_b`, `muon_c`."""
        if x.ndim < 2:
            raise ValueError(
                "Muon's Newton-Schulz iteration expects a gradient or momentum of "
                f"at least 2 dimensions; got shape {tuple(x.shape)}."
            )
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = x.mT
        x = x / (torch.linalg.matrix_norm(x, keepdim=True) + 1e-7)
        for _ in range(steps):
            gram = x @ x.mT
            x = a * x + (b * gram + (c * gram) @ gram) @ x
        return x.mT if tall else x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "adam_beta_1": self.adam_beta_1,
            "adam_beta_2": self.adam_beta_2,
            "epsilon": self.epsilon,
            "exclude_layers": self.exclude_layers,
            "muon_a": self.muon_a,
            "muon_b": self.muon_b,
            "muon_c": self.muon_c,
            "adam_lr_ratio": self.adam_lr_ratio,
            "momentum": self.momentum,
            "ns_steps": self.ns_steps,
            "nesterov": self.nesterov,
            "exclude_embeddings": self.exclude_embeddings,
            "adam_weight_decay": self.adam_weight_decay,
            "rms_rate": self.rms_rate,
        }
