"""DynamicLossScale: float16 loss scaling, as Keras's LossScaleOptimizer does it."""

import torch


class DynamicLossScale:
    """Multiply the loss by `scale` before backward; divide the gradients after.

    If any gradient is inf/NaN the step is skipped and the scale halves; after
    `growth_interval` good steps it doubles (Keras's defaults: initial scale 2**15,
    growth interval 2000). Reading the inf/NaN flag costs one device sync per step,
    as in `torch.amp.GradScaler`.
    """

    def __init__(self, initial_scale=2.0**15, growth_interval=2000):
        self.scale = float(initial_scale)
        self.growth_interval = int(growth_interval)
        self._good_steps = 0

    def unscale_and_check(self, params) -> bool:
        """Divide the gradients by the scale; True if they are all finite."""
        return self.unscale_grads_and_check([p.grad for p in params])

    def unscale_grads_and_check(self, grads) -> bool:
        """`unscale_and_check` for a list of gradient tensors (None skipped),
        divided in place."""
        grads = [g for g in grads if g is not None]
        if not grads:
            return True
        found_inf = torch.zeros((), device=grads[0].device)
        inv_scale = torch.full((), 1.0 / self.scale, device=grads[0].device)
        torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale)
        finite = not bool(found_inf.item())
        if finite:
            self._good_steps += 1
            if self._good_steps >= self.growth_interval:
                self.scale *= 2.0
                self._good_steps = 0
        else:
            self.scale /= 2.0
            self._good_steps = 0
        return finite
