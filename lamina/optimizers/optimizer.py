"""Optimizer: the Keras 3 optimizer contract, run with multi-tensor torch kernels.

One step does what Keras's `BaseOptimizer.apply` does, in Keras's order: drop
variables without a gradient, divide by `loss_scale_factor`, clip (`clipnorm`,
`clipvalue` or `global_clipnorm`), apply decoupled weight decay
`var -= var * weight_decay * lr`, run the optimizer's update, update the EMA of the
weights, apply weight constraints, and count the step.

Every stage works on whole lists of tensors with `torch._foreach_*` kernels. The
step count, learning rate and bias corrections are host-side numbers (computed in
the weights' precision, as Keras computes them on the device), mirrored into the
saved `iteration` / `learning_rate` tensors only when someone reads them, so a step
never waits on the device.

An update is split in three: `_host_step_scalars` (those numbers, on the host),
`_apply_tensors` (all tensor work, taking the numbers as floats or as 0-d tensors,
so `torch.compile` can trace it once for every step) and `_finish_update` (count
the step). Eager `apply` and a compiled train step run the same three pieces.
"""

import re
import warnings

import numpy as np
import torch

from lamina.backend.naming import to_snake_case, uniquify
from lamina.optimizers import _utils
from lamina.optimizers._optimizer_state import _OptimizerState
from lamina.optimizers._utils import _scalar_type, _select
from lamina.saving.serialization_lib import (
    deserialize_keras_object,
    serialize_keras_object,
)


def _native_foreach_update(cls):
    """The built-in `_foreach_update` that `cls` inherits, or None."""
    for klass in cls.__mro__:
        update = klass.__dict__.get("_foreach_update")
        if update is not None and update is not Optimizer._foreach_update_step:
            if klass.__module__.startswith("lamina.optimizers.") and (
                klass.__name__ != "Optimizer"
            ):
                return update
            return None
    return None


class Optimizer(_OptimizerState):
    """Base class of lamina optimizers (`keras.optimizers.Optimizer`).

    Args:
        learning_rate: A float, a `LearningRateSchedule` evaluated at the current
            step, or a callable taking no arguments that returns the rate.
            `lr=` is accepted as an alias, as in Keras 2 tutorials.
        weight_decay: If set, every step first shrinks each variable by
            `var * weight_decay * learning_rate` (decoupled weight decay, as
            Keras does for every optimizer).
        clipnorm: If set, each gradient is rescaled so its norm is at most this.
        clipvalue: If set, each gradient entry is clipped to `[-v, v]`.
        global_clipnorm: If set, all gradients are rescaled together so their
            joint norm is at most this. At most one of the three clip arguments
            may be set.
        use_ema: Keep an exponential moving average of the weights. Defaults to
            `False`.
        ema_momentum: Momentum of that average. Defaults to `0.99`.
        ema_overwrite_frequency: Copy the average into the weights every this
            many steps; `None` leaves it to `finalize_variable_values()`.
        loss_scale_factor: Gradients are divided by this before use (use
            `scale_loss()` on the loss to multiply it in).
        gradient_accumulation_steps: Update only every this many steps, with
            the mean of the gradients received since the last update.
        name: Defaults to the snake-cased class name (`"adam"`, `"adam_w"`).

    Use in a PyTorch loop: `optimizer.build(model.trainable_weights)` once,
    then `loss.backward(); optimizer.step()` per batch. Or, as in Keras,
    `optimizer.apply_gradients(zip(grads, variables))`.

    Subclasses create their slots in `build()` with `add_optimizer_variables`
    and implement `_foreach_update(grads, variables, indices, scalars)` over
    whole lists of tensors, with `_step_scalars(learning_rate, step)` returning
    the step-dependent numbers it needs; a Keras-style per-variable
    `update_step(gradient, variable, learning_rate)` also works, more slowly.
    """

    # Set per class by `__init_subclass__`, so built-in optimizers pay nothing.
    _user_apply = False  # a user subclass overrides `apply`
    _native_update = None  # the built-in `_foreach_update` a subclass inherits

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Keras's fit calls `optimizer.apply(grads, variables)`, which calls
        # `update_step` per variable; lamina's fast path calls neither. A user
        # subclass of a built-in optimizer that overrides them (gradient
        # centralization, say) gets them called, as in Keras.
        cls._user_apply = not cls.apply.__module__.startswith("lamina.")
        cls._native_update = _native_foreach_update(cls)
        if (
            cls._native_update is not None
            and not cls.update_step.__module__.startswith("lamina.")
            and "_foreach_update" not in cls.__dict__
        ):
            cls._foreach_update = Optimizer._foreach_update_step

    def __init__(
        self,
        learning_rate,
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
        owner = type(self).__name__
        learning_rate = _utils.pop_legacy_arguments(type(self), learning_rate, kwargs)
        _utils.check_common_arguments(
            owner,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
        )
        self.name = name if name is not None else uniquify(to_snake_case(owner))
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._scalar = np.float32  # precision of per-step scalars, see build()
        self._trainable_variables = []
        self._trainable_variables_indices = {}
        self._exclude_from_weight_decay_ids = set()
        self._exclude_from_weight_decay_pattern = None
        self._missing_gradient_warned = set()
        self._overwritten = frozenset()  # see build()
        # Keras order of `variables`: iteration, learning_rate, then slots.
        self._variables = []
        self._step_count = 0  # the truth; `_iterations` mirrors it when read
        self._iterations = self._scalar_variable("iteration", torch.int32, 0)
        self._lr_schedule = None
        self._lr_value = None
        self._lr_variable = None
        self._set_learning_rate(learning_rate)

    # ----------------------- build (state, slots, saving: in _OptimizerState)

    def build(self, variables) -> None:
        """Create the optimizer's state for `variables` (the trainable weights).

        Subclasses call `super().build(variables)` first, then create their
        slots. (Keras names this argument `variables` here and in `SGD`, but
        `var_list` in its other optimizers; each lamina class follows suit.)
        """
        var_list = list(variables)
        for i, variable in enumerate(var_list):
            if not isinstance(variable, torch.Tensor):
                raise TypeError(
                    f"Optimizer '{self.name}' ({type(self).__name__}) can only "
                    "optimize torch tensors (e.g. model.trainable_weights); item "
                    f"{i} of `variables` is a {type(variable).__name__}."
                )
        self._trainable_variables = var_list
        self._scalar = _scalar_type(var_list)
        self._trainable_variables_indices = {id(v): i for i, v in enumerate(var_list)}
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                var_list, "average"
            )
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = [
                self.add_variable_from_reference(v, "gradient_accumulator")
                for v in var_list
            ]
        self._constrained = [
            (i, v, v.constraint)
            for i, v in enumerate(var_list)
            if getattr(v, "constraint", None) is not None
        ]
        # Keras: a variable with `overwrite_with_gradient` (float8 scales) is
        # set to its gradient instead of being updated.
        self._overwritten = frozenset(
            i
            for i, v in enumerate(var_list)
            if getattr(v, "overwrite_with_gradient", False)
        )
        self._refresh_weight_decay_mask()
        self.built = True

    # ----------------------------------------------------------- weight decay

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exempt variables from `weight_decay`.

        Args:
            var_list: Variables to exempt.
            var_names: Strings (regular expressions, as in Keras); a variable
                whose `path` (e.g. `"dense/bias"`) contains any of them is exempt.
        """
        self._exclude_from_weight_decay_ids = {id(v) for v in var_list or ()}
        self._exclude_from_weight_decay_pattern = (
            re.compile("|".join(sorted(set(var_names)))) if var_names else None
        )
        self._refresh_weight_decay_mask()

    def _use_weight_decay(self, variable) -> bool:
        if id(variable) in self._exclude_from_weight_decay_ids:
            return False
        pattern = self._exclude_from_weight_decay_pattern
        if pattern is not None:
            path = getattr(variable, "path", None) or str(getattr(variable, "name", ""))
            if pattern.search(path) is not None:
                return False
        return True

    def _refresh_weight_decay_mask(self) -> None:
        self._decay_mask = [
            self._use_weight_decay(v) for v in self._trainable_variables
        ]
        self._decayed = [
            v for v, m in zip(self._trainable_variables, self._decay_mask) if m
        ]

    # ------------------------------------------------------------- the update

    @torch.no_grad()
    def step(self, closure=None):
        """Apply one update from each built variable's `.grad`, like torch.optim.

        Variables whose `.grad` is None are skipped this step.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not self.built:
            raise ValueError(
                f"Optimizer '{self.name}' ({type(self).__name__}) is not built. "
                "Call optimizer.build(model.trainable_weights) once before step()."
            )
        grads = [v.grad for v in self._trainable_variables]
        if self._user_apply:
            self.apply(grads, self._trainable_variables)
        else:
            self._apply_internal(grads, None)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the `.grad` of every built variable, like torch.optim."""
        for variable in self._trainable_variables:
            if set_to_none:
                variable.grad = None
            elif variable.grad is not None:
                variable.grad.zero_()

    def apply_gradients(self, grads_and_vars):
        """Keras API: update each variable from `(gradient, variable)` pairs."""
        grads, variables = zip(*grads_and_vars)
        self.apply(grads, variables)
        return self.iterations

    def apply(self, grads, trainable_variables=None) -> None:
        """Keras API: update `trainable_variables` (default: the built ones)
        from `grads`, building the optimizer on first use."""
        grads = list(grads)
        if not grads:
            return
        owner = f"Optimizer '{self.name}' ({type(self).__name__})"
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{owner} got gradients without variables before being "
                    "built. Call optimizer.build(trainable_variables) first, or "
                    "pass the variables: optimizer.apply(grads, variables)."
                )
            if len(grads) != len(self._trainable_variables):
                raise ValueError(
                    f"{owner} tracks {len(self._trainable_variables)} variables "
                    f"but got {len(grads)} gradients. Pass one gradient per "
                    "variable, in the order the optimizer was built with."
                )
            indices = None
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if len(variables) != len(grads):
                raise ValueError(
                    f"{owner} got {len(grads)} gradients for {len(variables)} "
                    "variables; pass one gradient per variable."
                )
            if not self.built:
                self.build(variables)
            indices = []
            for v in variables:
                index = self._trainable_variables_indices.get(id(v))
                if index is None:
                    raise ValueError(
                        f"{owner} was built for other variables than "
                        f"{getattr(v, 'path', tuple(v.shape))}. Create a new "
                        "optimizer to train a new set of variables."
                    )
                indices.append(index)
            if indices == list(range(len(self._trainable_variables))):
                indices = None
        grads = [
            g
            if g is None or isinstance(g, torch.Tensor)
            else torch.as_tensor(g, dtype=v.dtype, device=v.device)
            for g, v in zip(grads, variables)
        ]
        with torch.no_grad():
            self._apply_internal(grads, indices)

    def _apply_internal(self, grads: list, indices) -> None:
        # 1. Drop variables without a gradient (rare: keep the common path lean).
        if any(g is None for g in grads):
            grads, indices = self._filter_missing(grads, indices)
        if self._overwritten:
            grads, indices = self._overwrite_with_gradients(grads, indices)
            if not grads:
                self._finish_update()
                return
        variables = _select(self._trainable_variables, indices)
        accumulate = self.gradient_accumulation_steps
        # 2. The common case: the same three pieces a compiled train step runs.
        if not accumulate and not self.use_ema:
            scalars = self._host_step_scalars()
            self._apply_tensors(grads, variables, indices, scalars)
            self._finish_update()
            return
        # 3. Otherwise the same pieces, with accumulation and EMA between them.
        grads = self._unscale(grads)
        if not accumulate:
            scalars = self._host_step_scalars()
            self._clip_decay_update(grads, variables, indices, scalars)
        else:
            accumulators = _select(self._accumulated_gradients, indices)
            if (self._step_count + 1) % accumulate == 0:
                grads = torch._foreach_add(grads, accumulators)
                torch._foreach_div_(grads, float(accumulate))
                scalars = self._host_step_scalars()
                self._clip_decay_update(grads, variables, indices, scalars)
                torch._foreach_zero_(self._accumulated_gradients)
            else:
                torch._foreach_add_(accumulators, grads)
        if self.use_ema:
            self._update_moving_average()
        self._apply_constraints(indices)
        self._finish_update()

    def _overwrite_with_gradients(self, grads, indices):
        """Set each `overwrite_with_gradient` variable to its gradient (with
        `gradient_accumulation_steps`: to the largest gradient of the
        accumulation window, on the step that updates); returns the other
        gradients and their indices."""
        indices = list(range(len(grads))) if indices is None else indices
        accumulate = self.gradient_accumulation_steps
        kept_grads, kept_indices = [], []
        for grad, i in zip(grads, indices):
            if i not in self._overwritten:
                kept_grads.append(grad)
                kept_indices.append(i)
                continue
            variable = self._trainable_variables[i]
            if not accumulate:
                variable.copy_(grad)
                continue
            accumulator = self._accumulated_gradients[i]
            largest = torch.maximum(grad.to(accumulator.dtype), accumulator)
            if (self._step_count + 1) % accumulate == 0:
                variable.copy_(largest)
                accumulator.zero_()
            else:
                accumulator.copy_(largest)
        return kept_grads, kept_indices

    def _filter_missing(self, grads, indices):
        indices = list(range(len(grads))) if indices is None else indices
        kept = [(g, i) for g, i in zip(grads, indices) if g is not None]
        if not kept:
            raise ValueError(
                "No gradients provided for any variable. Optimizer "
                f"'{self.name}': check that the loss depends on the trainable "
                "weights and that backward() ran before step()."
            )
        # Frozen weights (requires_grad=False) are expected to have no gradient.
        missing = tuple(
            i
            for g, i in zip(grads, indices)
            if g is None
            and self._trainable_variables[i].requires_grad
            # float8 scales: written by the backward pass itself, as Keras's
            # optimizer writes them from their "gradient".
            and not getattr(
                self._trainable_variables[i], "overwrite_with_gradient", False
            )
        )
        if missing and missing not in self._missing_gradient_warned:
            self._missing_gradient_warned.add(missing)
            names = [
                getattr(self._trainable_variables[i], "path", f"variable {i}")
                for i in missing
            ]
            warnings.warn(
                f"Gradients do not exist for variables {names} when minimizing "
                "the loss; they are left unchanged. If using `model.compile()`, "
                "did you forget to provide a `loss` argument?",
                stacklevel=4,
            )
        return [g for g, _ in kept], [i for _, i in kept]

    def _local_step(self) -> int:
        """The 1-based number of the update being made (for bias corrections)."""
        if self.gradient_accumulation_steps:
            return self._step_count // self.gradient_accumulation_steps + 1
        return self._step_count + 1

    # One update is three pieces: host numbers, tensor math, host bookkeeping.
    # Eager `apply` runs them in turn; a compiled train step runs the middle one
    # inside its graph, with the host numbers passed in as 0-d tensors.

    def _host_step_scalars(self) -> tuple:
        """Everything one update needs from the host, as a flat tuple of floats.

        The weight-decay factor `1 - weight_decay * lr` (when `weight_decay` is
        set), then `_step_scalars(lr, step)`, all in the weights' precision as
        Keras computes them. Call once per update, before `_apply_tensors`:
        it reads the learning rate (schedules included) and may advance host
        state (Nadam's momentum product).
        """
        f = self._scalar
        learning_rate = float(f(self._current_learning_rate()))
        scalars = tuple(self._step_scalars(learning_rate, self._local_step()))
        if self.weight_decay is not None:
            decay = float(f(1) - f(self.weight_decay) * f(learning_rate))
            return (decay, *scalars)
        return scalars

    def _step_scalars(self, learning_rate: float, step: int) -> tuple:
        """The step-dependent numbers `_foreach_update` needs, as Python floats.

        `step` is the 1-based update number. Constants (betas, epsilon) stay out:
        only numbers that change between steps go here, so that a compiled step
        can take them as tensor inputs. Defaults to `(learning_rate,)`.
        """
        return (learning_rate,)

    def _apply_tensors(self, grads, variables, indices, scalars) -> None:
        """The tensor part of one update: unscale, clip, decay, update, constrain.

        `scalars` is what `_host_step_scalars` returned, as floats or as 0-d
        tensors. No host sync, no Python state changes and no branching on
        tensor values, so a compiled train step can trace it into its graph.
        Run it under `torch.no_grad()` (`apply` and `step` do; a decorator
        here would cost eager steps 1.4 us each).
        """
        grads = self._unscale(grads)
        self._clip_decay_update(grads, variables, indices, scalars)
        self._apply_constraints(indices)

    def _finish_update(self) -> None:
        """Host bookkeeping after the tensor part of an update: count the step."""
        self._step_count += 1

    def _compiled_update_supported(self) -> bool:
        """Whether `_apply_tensors` may run inside a compiled train step.

        True for the built-in update rules (a class whose `_foreach_update`
        comes from lamina), which take their step-dependent numbers as floats
        or 0-d tensors alike. False for a user optimizer written with
        `update_step` (or its own `_foreach_update`): it may turn the learning
        rate into a Python number or branch on it. False with
        `gradient_accumulation_steps` or `use_ema`: whether a step updates the
        weights, or copies rather than averages them, is decided on the host
        from the step count. Those run eagerly.
        """
        update = type(self)._foreach_update
        native = (
            update is not Optimizer._foreach_update
            and update is not Optimizer._foreach_update_step
            and not self._user_apply
            and update.__module__.startswith("lamina.optimizers.")
        )
        return (
            native
            and not self.gradient_accumulation_steps
            and not self.use_ema
            and not self._overwritten
        )

    def _unscale(self, grads: list) -> list:
        if self.loss_scale_factor is None:
            return grads
        return torch._foreach_div(grads, float(self.loss_scale_factor))

    def _clip_gradients(self, grads) -> list:
        """`grads` clipped by this optimizer's `clipnorm`, `clipvalue` or
        `global_clipnorm`, as in its update (Keras's method of that name;
        arrays are taken as tensors, None entries kept)."""
        given = [g for g in grads if g is not None]
        tensors = [torch.as_tensor(g) for g in given]
        clipped = iter(
            _utils.clip_gradients(
                tensors, self.clipnorm, self.clipvalue, self.global_clipnorm
            )
        )
        return [None if g is None else next(clipped) for g in grads]

    def _clip_decay_update(self, grads, variables, indices, scalars) -> None:
        grads = _utils.clip_gradients(
            grads, self.clipnorm, self.clipvalue, self.global_clipnorm
        )
        if self.weight_decay is not None:
            decay, scalars = scalars[0], scalars[1:]
            decayed = (
                self._decayed
                if indices is None
                else [v for v, i in zip(variables, indices) if self._decay_mask[i]]
            )
            if decayed:
                # var - var * wd * lr, as one multiply (Keras's torch backend too).
                torch._foreach_mul_(decayed, decay)
        self._foreach_update(grads, variables, indices, scalars)

    def _apply_constraints(self, indices) -> None:
        """Apply weight constraints to the variables that were updated."""
        if self._constrained:
            used = None if indices is None else set(indices)
            for i, variable, constraint in self._constrained:
                if used is None or i in used:
                    variable.copy_(constraint(variable))

    def _foreach_update(self, grads, variables, indices, scalars) -> None:
        """Update `variables` in place from `grads` (lists of equal length).

        `indices` says which built variables these are (None: all, in order),
        for selecting slots; `scalars` is what `_step_scalars` returned, each a
        float (eager) or a 0-d tensor (compiled). The default runs a
        Keras-style `update_step` per variable with `scalars[0]`, the rate.
        """
        for grad, variable in zip(grads, variables):
            self.update_step(grad, variable, scalars[0])

    def _foreach_update_step(self, grads, variables, indices, scalars) -> None:
        # A user `update_step` over a built-in rule: it gets the current rate,
        # and its `super().update_step(...)` runs the rule with this step's
        # numbers (kept here for it).
        rate = float(self._scalar(self._current_learning_rate()))
        self._update_step_numbers = (rate, scalars)
        for grad, variable in zip(grads, variables):
            self.update_step(grad, variable, rate)

    def update_step(self, gradient, variable, learning_rate) -> None:
        """Update one variable from its gradient (Keras's per-variable API).

        Built-in optimizers update all variables at once; this runs their rule
        for one variable, so a subclass may override `update_step` to change a
        gradient and then call `super().update_step(...)`. A new optimizer
        implements it (or `_foreach_update`).
        """
        native = type(self)._native_update
        if native is not None:
            # Within a step, a user `update_step` override's `super()` call
            # reuses the step's numbers; a direct call (Keras allows one on a
            # built optimizer) computes them for `learning_rate`. Neither
            # counts a step, decays the weight or clips the gradient.
            numbers = self.__dict__.get("_update_step_numbers")
            rate = float(learning_rate)
            if numbers is not None and numbers[0] == rate:
                scalars = numbers[1]
            else:
                scalars = tuple(self._step_scalars(rate, self._local_step()))
            index = self._trainable_variables_indices.get(id(variable))
            if index is None:
                raise ValueError(
                    f"Optimizer '{self.name}' ({type(self).__name__}) was not "
                    f"built with {getattr(variable, 'path', tuple(variable.shape))}"
                    "; call optimizer.build(variables) before update_step()."
                )
            if not isinstance(gradient, torch.Tensor):
                gradient = torch.as_tensor(
                    gradient, dtype=variable.dtype, device=variable.device
                )
            with torch.no_grad():
                native(self, [gradient], [variable], [index], scalars)
            return
        raise NotImplementedError(
            f"{type(self).__name__} must implement `_foreach_update` (fast, over "
            "lists of tensors) or `update_step(gradient, variable, "
            "learning_rate)` (Keras style, one variable at a time)."
        )

    # Keras-style helpers for `update_step` implementations.
    def assign(self, variable, value) -> None:
        variable.copy_(value)

    def assign_add(self, variable, value) -> None:
        variable.add_(value)

    def assign_sub(self, variable, value) -> None:
        variable.sub_(value)

    # --------------------------------------------------- EMA and loss scaling

    def _update_moving_average(self) -> None:
        averages = self._model_variables_moving_average
        variables = self._trainable_variables
        updates = self._step_count // (self.gradient_accumulation_steps or 1)
        if updates == 0:
            torch._foreach_copy_(averages, variables)  # Keras: momentum 0 at first
        else:
            momentum = self._scalar(self.ema_momentum)
            torch._foreach_mul_(averages, float(momentum))
            torch._foreach_add_(
                averages, variables, alpha=float(self._scalar(1) - momentum)
            )
        frequency = self.ema_overwrite_frequency
        if frequency and (updates + 1) % frequency == 0:
            torch._foreach_copy_(variables, averages)

    @torch.no_grad()
    def finalize_variable_values(self, var_list) -> None:
        """With `use_ema`, copy the moving averages into `var_list` (fit's end)."""
        if not self.use_ema or not self.built:
            return
        var_list = list(var_list)
        averages = self._model_variables_moving_average
        if len(var_list) != len(averages):
            raise ValueError(
                f"Optimizer '{self.name}' holds moving averages for "
                f"{len(averages)} variables but got {len(var_list)} to overwrite. "
                "Pass the variables the optimizer was built with."
            )
        torch._foreach_copy_(var_list, averages)

    def scale_loss(self, loss):
        """`loss * loss_scale_factor` (or `loss` when no factor is set)."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    # ----------------------------------------------------------------- config

    def get_config(self) -> dict:
        """Constructor arguments under their Keras names (`from_config` inverts)."""
        if self._lr_schedule is None:
            learning_rate = self._lr_value
        else:
            learning_rate = serialize_keras_object(self._lr_schedule)
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            from lamina.optimizers import schedules

            config["learning_rate"] = deserialize_keras_object(
                config["learning_rate"],
                module_objects=schedules.ALL_OBJECTS_DICT,
                custom_objects=custom_objects,
                kind="learning rate schedule",
            )
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"
