"""`_OptimizerState`: an optimizer's step count, learning rate, slots, and saving."""

import numpy as np
import torch

from lamina.backend import floatx, get_device, naming, to_torch_dtype
from lamina.backend.stateless_scope import check_matching
from lamina.backend.tensors import copy_into
from lamina.metrics.metric import variable_view
from lamina.optimizers._utils import _f32, _is_number, _scalar_type
from lamina.optimizers.schedules import learning_rate_schedule


class _OptimizerState:
    """The state an optimizer saves: the step count and learning rate (host
    numbers mirrored into scalar tensors), the slot variables subclasses create
    in `build()`, and `save_own_variables` / `load_own_variables`.

    A mixin of `Optimizer` only: it relies on the attributes `Optimizer.__init__`
    sets (`name`, `_variables`, `_step_count`, `_iterations`, the `_lr_*` fields).
    """

    # ------------------------------------------------------------------ state

    def _scalar_variable(self, name: str, dtype, value) -> torch.Tensor:
        # Scalars live on the CPU: reading them never touches the accelerator.
        tensor = torch.full((), value, dtype=dtype)
        tensor.path = f"{self.name}/{name}"
        tensor._owner = self  # see variable_view()
        self._variables.append(tensor)
        return tensor

    def _sync_scalars_to_tensors(self) -> None:
        """Write the Python mirrors into the saved scalar tensors."""
        self._iterations.fill_(self._step_count)
        if self._lr_variable is not None:
            self._lr_variable.fill_(self._lr_value)

    def _sync_scalars_from_tensors(self) -> None:
        """Read the saved scalar tensors back into the Python mirrors."""
        self._step_count = int(self._iterations)
        if self._lr_variable is not None:
            self._lr_value = float(self._lr_variable)

    @property
    def iterations(self) -> torch.Tensor:
        """The step count as an int64 CPU tensor, refreshed on each read.

        With `gradient_accumulation_steps`, the number of real updates.
        """
        self._iterations.fill_(self._step_count)
        if self.gradient_accumulation_steps:
            return torch.tensor(self._step_count // self.gradient_accumulation_steps)
        return variable_view(self._iterations)

    @iterations.setter
    def iterations(self, value) -> None:
        self._step_count = int(value)
        self._iterations.fill_(self._step_count)

    @property
    def variables(self) -> list:
        """All state in Keras's saved order: iteration, learning_rate (unless
        the rate is a schedule), then the slots."""
        self._sync_scalars_to_tensors()
        return [variable_view(tensor) for tensor in self._variables]

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """One update computed from given values, leaving the optimizer's state
        and the model's weights unchanged.

        Args:
            optimizer_variables: Tensors matching `variables` one to one (the
                step count, learning rate and slots to start from).
            grads: One gradient per variable the optimizer was built with.
            trainable_variables: Tensors matching the variables the optimizer
                was built with, one to one: the weights to update.

        Returns:
            `(trainable_variables, optimizer_variables)`: lists of new tensors
            holding the updated weights and the updated optimizer state.

        Raises:
            ValueError: If the optimizer is not built, or a list's length does
                not match.
        """
        owner = f"Optimizer '{self.name}' ({type(self).__name__})"
        if not self.built:
            raise ValueError(
                f"{owner} must be built before stateless_apply(), so that its "
                "variables exist. Call optimizer.build(trainable_variables) first."
            )
        own_state = self.variables
        own_weights = list(self._trainable_variables)
        check_matching(
            f"{owner}.stateless_apply",
            [
                (optimizer_variables, own_state, "optimizer_variables"),
                (trainable_variables, own_weights, "trainable_variables"),
            ],
        )
        variables = own_state + own_weights
        values = [
            torch.as_tensor(value, dtype=v.dtype, device=v.device).detach().clone()
            for v, value in zip(variables, [*optimizer_variables, *trainable_variables])
        ]
        kept = [v.detach().clone() for v in variables]
        try:
            with torch.no_grad():
                for variable, value in zip(variables, values):
                    variable.copy_(value.reshape(variable.shape))
            self._sync_scalars_from_tensors()
            self.apply(grads)
            new_weights = [v.detach().clone() for v in own_weights]
            new_state = [v.detach().clone() for v in self.variables]
        finally:
            with torch.no_grad():
                for variable, value in zip(variables, kept):
                    variable.copy_(value)
            self._sync_scalars_from_tensors()
        return new_weights, new_state

    # ---------------------------------------------------------- learning rate

    def _set_learning_rate(self, learning_rate) -> None:
        owner = type(self).__name__
        if isinstance(learning_rate, learning_rate_schedule.LearningRateSchedule) or (
            callable(learning_rate) and not isinstance(learning_rate, torch.Tensor)
        ):
            self._lr_schedule = learning_rate
            if self._lr_variable is not None:  # Keras untracks the variable
                self._variables = [
                    v for v in self._variables if v is not self._lr_variable
                ]
                self._lr_variable = None
            self._lr_value = None
            return
        if isinstance(learning_rate, torch.Tensor) and learning_rate.numel() == 1:
            learning_rate = float(learning_rate)
        if not _is_number(learning_rate):
            raise ValueError(
                f"{owner} expects `learning_rate` to be a float, a "
                "LearningRateSchedule or a callable returning the rate; got "
                f"learning_rate={learning_rate!r}."
            )
        if self._lr_schedule is not None:
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` as its "
                f"learning rate: optimizer '{self.name}' ({owner}) was created "
                "with a learning rate schedule, so its learning rate cannot be "
                "set to a number "
                f"(got {learning_rate!r}). Create the optimizer with a float "
                "learning_rate if you need to change it during training."
            )
        self._lr_value = _f32(learning_rate)
        if self._lr_variable is None:
            self._lr_variable = self._scalar_variable(
                "learning_rate", to_torch_dtype(floatx()), self._lr_value
            )
            # Keep Keras's order: iteration first, learning_rate second. (By
            # identity: list.remove compares tensors by value, and a rate of 0
            # would match the iteration counter.)
            self._variables = [v for v in self._variables if v is not self._lr_variable]
            self._variables.insert(1, self._lr_variable)
        else:
            self._lr_variable.fill_(self._lr_value)

    def _current_learning_rate(self) -> float:
        if self._lr_schedule is None:
            return self._lr_value
        if isinstance(self._lr_schedule, learning_rate_schedule.LearningRateSchedule):
            value = self._lr_schedule(self._step_count)
        else:
            value = self._lr_schedule()
        # Built-in schedules return Python floats for an int step. A custom one
        # returning a device tensor costs one host sync here, its author's choice.
        return float(value)

    @property
    def learning_rate(self) -> float:
        """The learning rate at the current step, as a Python float.

        Assign a float (e.g. from `ReduceLROnPlateau`) or a
        `LearningRateSchedule` to change it.
        """
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._set_learning_rate(value)

    @property
    def lr(self) -> float:
        """Alias of `learning_rate` (the Keras 2 name)."""
        return self.learning_rate

    @lr.setter
    def lr(self, value) -> None:
        self.learning_rate = value

    # --------------------------------------------------------- slot variables

    def add_variable(
        self,
        shape,
        initializer="zeros",
        dtype=None,
        aggregation="none",
        layout=None,
        name=None,
    ) -> torch.Tensor:
        """A new state tensor of `shape` on lamina's device, saved with the
        optimizer. `initializer` is `"zeros"`, `"ones"`, a number, or an
        initializer (`initializer(shape, dtype)`)."""
        del aggregation, layout  # accepted for Keras compatibility
        dtype = to_torch_dtype(dtype if dtype is not None else floatx())
        value = self._initial_value(initializer, tuple(shape), dtype)
        tensor = value.to(device=get_device(), dtype=dtype)
        tensor.path = f"{self.name}/{name or naming.uniquify('variable')}"
        self._variables.append(tensor)
        return tensor

    def _add_placed(self, shape, dtype, reference_variable, name=None, follow=True):
        """`add_variable(shape, dtype=dtype, name=name)` (zeros), placed on
        `reference_variable`'s device rather than lamina's, and with `follow`
        moved with it as the slots made from a reference are (see
        `_follow_variables`): a slot of another shape updated with its weight
        (Adafactor's row and column factors)."""
        tensor = torch.zeros(
            tuple(shape), dtype=to_torch_dtype(dtype), device=reference_variable.device
        )
        tensor.path = f"{self.name}/{name or naming.uniquify('variable')}"
        if follow:
            tensor._reference = reference_variable
        self._variables.append(tensor)
        return tensor

    def add_variable_from_reference(
        self, reference_variable, name=None, initializer="zeros"
    ) -> torch.Tensor:
        """A state tensor shaped, typed and placed like `reference_variable`."""
        name = name or "var"
        path = getattr(reference_variable, "path", None)
        if path is None:
            path = str(getattr(reference_variable, "name", "variable"))
        if initializer in ("zeros", 0, 0.0):
            tensor = torch.zeros_like(reference_variable, requires_grad=False)
        elif _is_number(initializer):
            tensor = torch.full_like(
                reference_variable, float(initializer), requires_grad=False
            )
        else:
            value = self._initial_value(
                initializer, tuple(reference_variable.shape), reference_variable.dtype
            )
            tensor = value.to(
                device=reference_variable.device, dtype=reference_variable.dtype
            )
        tensor.path = f"{self.name}/{path.replace('/', '_')}_{name}"
        tensor._reference = reference_variable  # see _follow_variables()
        self._variables.append(tensor)
        return tensor

    def _follow_variables(self) -> None:
        """Move each slot made from a reference variable to that variable's
        current dtype and device, in place (the slot lists keep their
        tensors): after `model.double()` or `model.to(device)` on a trained
        model, the next step updates without a compile()."""
        for slot in self._variables:
            reference = getattr(slot, "_reference", None)
            if reference is not None and (
                slot.dtype != reference.dtype or slot.device != reference.device
            ):
                slot.data = slot.data.to(device=reference.device, dtype=reference.dtype)
                view = slot.__dict__.get("_variable")
                if view is not None:  # `variables` keeps returning the same one
                    view.data = slot.data
        if getattr(self, "_trainable_variables", None):
            self._scalar = _scalar_type(self._trainable_variables)

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One slot per variable for each name in `name`, created interleaved
        (all slots of the first variable, then the second, ...) as Keras does.

        Returns a list for a single name, a tuple of lists for several.
        """
        names = [name] if isinstance(name, str) else list(name)
        inits = (
            list(initializer)
            if isinstance(initializer, (list, tuple))
            else [initializer] * len(names)
        )
        if len(inits) != len(names):
            raise ValueError(
                f"add_optimizer_variables got {len(names)} names and "
                f"{len(inits)} initializers; give one initializer, or one per name."
            )
        slots = tuple([] for _ in names)
        for variable in trainable_variables:
            for k, (slot_name, init) in enumerate(zip(names, inits)):
                slots[k].append(
                    self.add_variable_from_reference(variable, slot_name, init)
                )
        return slots[0] if isinstance(name, str) else slots

    @staticmethod
    def _initial_value(initializer, shape, dtype) -> torch.Tensor:
        if initializer == "zeros":
            return torch.zeros(shape, dtype=dtype)
        if initializer == "ones":
            return torch.ones(shape, dtype=dtype)
        if _is_number(initializer):
            return torch.full(shape, float(initializer), dtype=dtype)
        if isinstance(initializer, str):
            from lamina import initializers

            initializer = initializers.get(initializer)
        return torch.as_tensor(initializer(shape, dtype=dtype))

    def _get_variable_index(self, variable) -> int:
        return self._trainable_variables_indices[id(variable)]

    # ------------------------------------------------------------- saving

    def save_own_variables(self, store) -> None:
        """Write `variables` into `store` as NumPy arrays under "0", "1", ..."""
        from lamina.backend import convert_to_numpy  # gathers sharded (FSDP) state

        for i, variable in enumerate(self.variables):
            store[str(i)] = convert_to_numpy(variable)

    @torch.no_grad()
    def load_own_variables(self, store) -> None:
        """Read what `save_own_variables` (or Keras 3) wrote back into `variables`."""
        variables = self.variables
        if len(store.keys()) != len(variables):
            hint = (
                ""
                if self.built
                else " The optimizer is not built yet: call "
                "optimizer.build(model.trainable_weights) before loading."
            )
            raise ValueError(
                f"Cannot load the state of optimizer '{self.name}' "
                f"({type(self).__name__}): it has {len(variables)} variables but "
                f"the saved optimizer has {len(store.keys())}. The optimizer "
                "type, its options (momentum, amsgrad, centered, a schedule "
                "instead of a float learning rate) and the model must match the "
                f"saved ones.{hint}"
            )
        for i, variable in enumerate(variables):
            value = np.asarray(store[str(i)])
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"Cannot load optimizer '{self.name}' variable {i} "
                    f"({getattr(variable, 'path', '')}): expected shape "
                    f"{tuple(variable.shape)}, the file has {tuple(value.shape)}."
                )
            copy_into(variable, value)  # also a sharded (FSDP) slot
        self._sync_scalars_from_tensors()

    @torch.no_grad()
    def set_weights(self, weights) -> None:
        """Assign arrays to `variables`, in order (Keras `set_weights`)."""
        if not self.built:
            raise ValueError(
                f"You are calling set_weights() on optimizer '{self.name}', "
                "which is not built yet; call optimizer.build(trainable_variables) "
                "first to create its variables."
            )
        self.load_own_variables({str(i): w for i, w in enumerate(weights)})
