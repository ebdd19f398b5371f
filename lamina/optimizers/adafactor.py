"""Adafactor: Adam-like steps with a factored second moment (Shazeer & Stern, 2018)."""

import math

import torch

from lamina.optimizers._utils import _select
from lamina.optimizers.lamb import _norms
from lamina.optimizers.optimizer import Optimizer


class Adafactor(Optimizer):
    """Adafactor, as Keras 3 computes it.

    For a weight of 2 or more dimensions the second moment is kept as its row
    means `r` (shape `w.shape[:-1]`) and column means `c` (shape
    `w.shape[:-2] + w.shape[-1:]`), rebuilt as `v = r / mean(r) (x) c`: memory
    grows with rows plus columns, not their product. Smaller weights keep a
    full `v`. With `t` the step number:

    - `rho = min(lr, 1 / sqrt(t))`, `alpha = max(epsilon_2, rms(w)) * rho`
    - `b = 1 - t**beta_2_decay`; the moments move to `g**2 + epsilon_1` by `b`
    - `u = g / sqrt(v)`, clipped to `u / max(1, rms(u) / clip_threshold)`
    - `w -= alpha * u`

    Args:
        learning_rate: Defaults to `0.001`.
        beta_2_decay: Exponent of the second-moment decay schedule. Defaults
            to `-0.8`.
        epsilon_1: Added to the squared gradients. Defaults to `1e-30`.
        epsilon_2: Lower bound of the weights' RMS in the step size. Defaults
            to `1e-3`.
        clip_threshold: Largest RMS of an update. Defaults to `1.0`.
        relative_step: Accepted and saved for Keras compatibility. Keras caps
            the rate at `1 / sqrt(t)` whether or not it is set, and so does
            lamina. Defaults to `True`.
        **kwargs: The common optimizer arguments (see `Optimizer`).

    Example:
    >>> w = torch.nn.Parameter(torch.ones(2, 3))
    >>> opt = Adafactor(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(torch.ones(2, 3), w)])
    >>> [round(x, 4) for x in w.detach()[0].tolist()]  # rms(w) * lr * u, u = 1
    [0.9, 0.9, 0.9]
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
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
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        # Keras's order per variable: r, c, then the velocity. A weight under
        # 2-D gets two unused int scalars for r and c, saved all the same.
        self._r, self._c, self._v = [], [], []
        for variable in var_list:
            path = getattr(variable, "path", None) or "variable"
            name = path.rsplit("/", 1)[-1]
            shape = tuple(variable.shape)
            if len(shape) < 2:
                for slots in (self._r, self._c):
                    slots.append(
                        self._add_placed((), "int32", variable, name, follow=False)
                    )
            else:
                row_shape, column_shape = shape[:-1], shape[:-2] + shape[-1:]
                for slots, slot_shape in (
                    (self._r, row_shape),
                    (self._c, column_shape),
                ):
                    # On the weight's device (a model kept on the CPU of a
                    # GPU machine), not lamina's.
                    slots.append(
                        self._add_placed(slot_shape, variable.dtype, variable, name)
                    )
            self._v.append(self.add_variable_from_reference(variable, "velocity"))
        self._factored = [len(v.shape) >= 2 for v in var_list]
        self._root_sizes = torch.tensor(
            [math.sqrt(v.numel()) for v in var_list],
            dtype=var_list[0].dtype if var_list else torch.float32,
            device=var_list[0].device if var_list else None,
        )

    def _step_scalars(self, learning_rate, step):
        f = self._scalar
        rho = min(f(learning_rate), f(1) / f(math.sqrt(step)))
        decay = f(1) - f(step) ** f(self.beta_2_decay)
        return (float(rho), float(decay), float(f(1) - decay))

    def _foreach_update(self, grads, variables, indices, scalars):
        rho, decay, one_minus_decay = scalars
        factored = _select(self._factored, indices)
        velocities = _select(self._v, indices)
        # alpha = max(epsilon_2, rms(w)) * rho, one 0-d tensor per variable.
        root_sizes = self._root_sizes if indices is None else self._root_sizes[indices]
        alphas = self._rms(variables, root_sizes).clamp_min(float(self.epsilon_2))
        alphas = (alphas * rho).unbind()
        squares = torch._foreach_mul(grads, grads)
        torch._foreach_add_(squares, float(self.epsilon_1))
        # 1. Full second moments (weights under 2-D).
        full = [i for i, is_factored in enumerate(factored) if not is_factored]
        if full:
            moments = [velocities[i] for i in full]
            torch._foreach_mul_(moments, decay)
            torch._foreach_add_(
                moments, torch._foreach_mul([squares[i] for i in full], one_minus_decay)
            )
        # 2. Factored ones: row and column means, then their outer product.
        parts = [i for i, is_factored in enumerate(factored) if is_factored]
        if parts:
            positions = parts if indices is None else [indices[i] for i in parts]
            rows = [self._r[i] for i in positions]
            columns = [self._c[i] for i in positions]
            torch._foreach_mul_(rows, decay)
            torch._foreach_add_(
                rows,
                torch._foreach_mul(
                    [squares[i].mean(-1) for i in parts], one_minus_decay
                ),
            )
            torch._foreach_mul_(columns, decay)
            torch._foreach_add_(
                columns,
                torch._foreach_mul(
                    [squares[i].mean(-2) for i in parts], one_minus_decay
                ),
            )
            for i, row, column in zip(parts, rows, columns):
                normalized = row / row.mean(-1, keepdim=True)
                velocities[i].copy_(normalized.unsqueeze(-1) * column.unsqueeze(-2))
        # 3. u = g / sqrt(v), its RMS clipped, then w -= alpha * u.
        updates = torch._foreach_div(grads, torch._foreach_sqrt(velocities))
        limits = self._rms(updates, root_sizes) / float(self.clip_threshold)
        torch._foreach_div_(updates, limits.clamp_min(1.0).unbind())
        torch._foreach_mul_(updates, alphas)
        torch._foreach_sub_(variables, updates)

    @staticmethod
    def _rms(tensors: list, root_sizes: torch.Tensor) -> torch.Tensor:
        """`sqrt(mean(x**2))` of each tensor, as one vector: their norms over
        `root_sizes`, the square roots of their sizes."""
        # One vector, not a `_foreach_div_` by a list of numbers: inductor's
        # C++ wrapper crashes on that op (torch 2.13, CPU).
        return torch.stack(_norms(tensors)) / root_sizes

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }
