"""LossScaleOptimizer: dynamic loss scaling around another optimizer (float16)."""

import torch

from lamina.metrics.metric import variable_view
from lamina.optimizers._optimizer_state import _OptimizerState
from lamina.optimizers.optimizer import Optimizer
from lamina.saving.serialization_lib import serialize_keras_object

# Keras accepts the common optimizer arguments only at their defaults: they
# belong on the inner optimizer.
_BASE_DEFAULTS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}

# step() reads `.grad`, which a loop may fill without scale_loss(): lamina's
# `fit` does (it scales float16 losses with its own DynamicLossScale).
_UNSCALED_LOSS = (
    "LossScaleOptimizer.step() was called without scale_loss() since the last "
    "step, so the gradients were not multiplied by the loss scale ({scale}) and "
    "dividing them by it would shrink the update by that factor. Call "
    "optimizer.scale_loss(loss).backward() before step(). Under model.fit, "
    "compile with the inner optimizer: fit scales float16 losses itself."
)


class LossScaleOptimizer(Optimizer):
    """Wrap `inner_optimizer` with dynamic loss scaling, as float16 needs.

    Multiply the loss by `scale_loss()` before backward so small float16
    gradients do not underflow; `apply` (or `step`) then divides the gradients
    by the same scale and hands them to the inner optimizer. A step whose
    gradients hold an inf or NaN is skipped and halves the scale; after
    `dynamic_growth_steps` good steps in a row the scale doubles. The scale
    lives in `lamina.mixed_precision.DynamicLossScale`, the mechanism `fit`
    uses under the `"mixed_float16"` policy.

    Args:
        inner_optimizer: The `Optimizer` that makes the updates.
        initial_scale: The first loss scale; best large, since a scale too
            high falls much faster than one too low rises. Defaults to
            `2.0**15`.
        dynamic_growth_steps: Good steps before the scale doubles. Defaults
            to `2000`.
        name: Defaults to `"loss_scale_optimizer"`.

    Its `variables` are its own (`iteration`, `learning_rate`, then
    `step_counter` and `dynamic_scale` once built) followed by the inner
    optimizer's, as Keras saves them. `iterations` and `learning_rate` are the
    inner optimizer's.

    Example:
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = LossScaleOptimizer(lamina.optimizers.SGD(0.1), initial_scale=8.0)
    >>> loss = opt.scale_loss((2.0 * w).sum())  # 8 * 2w
    >>> loss.backward()
    >>> opt.apply([w.grad], [w])  # the step sees 16 / 8 = 2
    >>> round(w.item(), 4)
    0.8
    >>> opt.apply([torch.tensor([float("inf")])], [w])  # skipped, scale halved
    >>> round(w.item(), 4), float(opt.dynamic_scale)
    (0.8, 4.0)
    """

    def __init__(
        self,
        inner_optimizer,
        initial_scale=2.0**15,
        dynamic_growth_steps=2000,
        name=None,
        **kwargs,
    ):
        # Imported here: lamina.mixed_precision exports this class, so a
        # module-level import would be circular.
        from lamina.mixed_precision.loss_scale import DynamicLossScale

        if not kwargs.pop("dynamic", True):
            raise ValueError(
                "LossScaleOptimizer no longer supports `dynamic=False`. For a "
                "fixed scale, set `loss_scale_factor` on the inner optimizer "
                "instead."
            )
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(
                    f"LossScaleOptimizer does not support `{arg}`. Instead, set "
                    f"`{arg}` on the `inner_optimizer`."
                )
        if kwargs:
            raise ValueError(
                "LossScaleOptimizer does not support arguments: "
                f"{', '.join(f'`{k}`' for k in kwargs)}. It takes inner_optimizer, "
                "initial_scale, dynamic_growth_steps and name."
            )
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(
                "LossScaleOptimizer expects `inner_optimizer` to be an Optimizer "
                f"instance such as Adam(); got {inner_optimizer!r} of type "
                f"{type(inner_optimizer).__name__}."
            )
        if isinstance(inner_optimizer, LossScaleOptimizer):
            raise TypeError(
                "LossScaleOptimizer cannot wrap another LossScaleOptimizer; pass "
                "its inner optimizer instead."
            )
        if isinstance(initial_scale, bool) or not isinstance(
            initial_scale, (int, float)
        ):
            raise TypeError(
                "LossScaleOptimizer expects `initial_scale` to be a number; got "
                f"initial_scale={initial_scale!r}."
            )
        if (
            isinstance(dynamic_growth_steps, bool)
            or not isinstance(dynamic_growth_steps, int)
            or dynamic_growth_steps < 1
        ):
            raise ValueError(
                "LossScaleOptimizer expects `dynamic_growth_steps` to be an int "
                f">= 1; got dynamic_growth_steps={dynamic_growth_steps!r}."
            )
        # Keras gives the wrapper its own learning_rate variable, 0. Created at 1
        # and then set: `_OptimizerState._set_learning_rate` finds its new
        # variable with `list.remove`, which compares by value and, for a rate
        # equal to the step count 0, removes the `iteration` tensor instead.
        super().__init__(learning_rate=1.0, name=name)
        self._set_learning_rate(0.0)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        self.inner_optimizer.loss_scale_factor = None
        self._loss_scale = DynamicLossScale(initial_scale, dynamic_growth_steps)
        self._step_counter = None
        self._dynamic_scale = None
        self._loss_was_scaled = False  # scale_loss() called since the last step()

    def build(self, var_list) -> None:
        if self.built:
            return
        var_list = list(var_list)
        # Host scalars like `iteration`; mirrored from `_loss_scale` when read.
        self._step_counter = self._scalar_variable("step_counter", torch.int32, 0)
        self._dynamic_scale = self._scalar_variable(
            "dynamic_scale", torch.float32, float(self.initial_scale)
        )
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    # ------------------------------------------------------------------ state

    @property
    def step_counter(self) -> torch.Tensor:
        """Good steps since the scale last changed (an int32 variable)."""
        self._sync_scalars_to_tensors()
        return variable_view(self._step_counter)

    @property
    def dynamic_scale(self) -> torch.Tensor:
        """The current loss scale (a float32 variable)."""
        self._sync_scalars_to_tensors()
        return variable_view(self._dynamic_scale)

    @property
    def variables(self) -> list:
        return _OptimizerState.variables.fget(self) + self.inner_optimizer.variables

    def _sync_scalars_to_tensors(self) -> None:
        super()._sync_scalars_to_tensors()
        if self._step_counter is not None:
            self._step_counter.fill_(self._loss_scale._good_steps)
            self._dynamic_scale.fill_(self._loss_scale.scale)

    def _sync_scalars_from_tensors(self) -> None:
        super()._sync_scalars_from_tensors()
        self.inner_optimizer._sync_scalars_from_tensors()
        if self._step_counter is not None:
            self._loss_scale._good_steps = int(self._step_counter)
            self._loss_scale.scale = float(self._dynamic_scale)

    @property
    def iterations(self) -> torch.Tensor:
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self) -> float:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.inner_optimizer.learning_rate = value

    # ------------------------------------------------------------- the update

    def scale_loss(self, loss):
        """`loss` times the current loss scale: call before backward."""
        self._loss_was_scaled = True
        return loss * self._loss_scale.scale

    def apply(self, grads, trainable_variables=None) -> None:
        """Unscale `grads` and apply them with the inner optimizer, unless one
        is not finite (then skip the step and halve the scale). The tensors
        passed in are left as they are."""
        grads = list(grads)
        if not grads:
            return
        if not self.built:
            if trainable_variables is None:
                raise ValueError(
                    f"Optimizer '{self.name}' (LossScaleOptimizer) got gradients "
                    "without variables before being built. Call "
                    "optimizer.build(trainable_variables) first, or pass the "
                    "variables: optimizer.apply(grads, variables)."
                )
            self.build(trainable_variables)
        # Copies: the unscaling below works in place.
        grads = [
            g.clone()
            if isinstance(g, torch.Tensor)
            else None
            if g is None
            else torch.tensor(g)
            for g in grads
        ]
        if self._unscale_and_check(grads, trainable_variables):
            self.inner_optimizer.apply(grads, trainable_variables)

    def _unscale_and_check(self, grads, variables=None) -> bool:
        """Divide `grads` by the scale in place, except those of
        `overwrite_with_gradient` variables (their "gradient" is the new value,
        which the loss scale never multiplied; Keras leaves them too); True
        when every gradient is finite. Advances the dynamic scale."""
        if not self.inner_optimizer._overwritten:
            return self._loss_scale.unscale_grads_and_check(grads)
        variables = self._trainable_variables if variables is None else variables
        scaled, kept = [], []
        for grad, variable in zip(grads, variables):
            if grad is not None:
                overwrite = getattr(variable, "overwrite_with_gradient", False)
                (kept if overwrite else scaled).append(grad)
        if not all(bool(torch.isfinite(grad).all()) for grad in kept):
            # A non-finite new value also skips the step and halves the scale.
            scaled.append(torch.full((), float("nan"), device=kept[0].device))
        return self._loss_scale.unscale_grads_and_check(scaled)

    @torch.no_grad()
    def step(self, closure=None):
        """`apply` from each built variable's `.grad`, unscaled in place.

        The loss must have gone through `scale_loss()` since the last step:
        otherwise the gradients are not scaled and dividing them would shrink
        the update by the scale, so this raises instead.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not self.built:
            raise ValueError(
                f"Optimizer '{self.name}' (LossScaleOptimizer) is not built. Call "
                "optimizer.build(model.trainable_weights) once before step()."
            )
        if not self._loss_was_scaled:
            raise ValueError(_UNSCALED_LOSS.format(scale=self._loss_scale.scale))
        self._loss_was_scaled = False
        grads = [variable.grad for variable in self._trainable_variables]
        if self._unscale_and_check(grads):
            self.inner_optimizer.step()
        return loss

    def _compiled_update_supported(self) -> bool:
        # Whether a step happens is decided on the host from the finite check.
        return False

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    # ----------------------------------------------------------------- config

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "inner_optimizer": serialize_keras_object(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from lamina.optimizers import deserialize

        config = dict(config)
        inner = deserialize(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)
