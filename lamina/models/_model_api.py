"""`_ModelAPI`: Keras's step-function attributes, state trees and
`stateless_compute_loss` for `Model`, built on the trainer's own steps."""

import torch

from lamina import backend
from lamina.backend.stateless_scope import StatelessScope, check_matching
from lamina.backend.tensors import copy_into
from lamina.trainers.trainer_utils import set_mode

_STATE_KEYS = (
    "trainable_variables",
    "non_trainable_variables",
    "optimizer_variables",
    "metrics_variables",
)


class _ModelAPI:
    """A mixin of `Model` only: it relies on the `Trainer` methods
    (`train_step`, `compute_loss`, ...) and the `Layer` variable lists."""

    # Keras: set by make_*_function(), reset to None by compile().
    train_function = None
    test_function = None
    predict_function = None

    # --- step functions ----------------------------------------------------------

    def make_train_function(self, force=False):
        """Create (or reuse) `self.train_function`: a callable that runs
        `train_step` on each batch of a list of batches and returns the logs
        of the last one, as Keras's torch backend does.

        `fit()` does not go through it; it is for code that drives training
        itself (`model.make_train_function()(iterator_batches)`).

        Args:
            force: Make a new function even if one exists. Defaults to `False`.

        Returns:
            The function, taking a list (or other iterable) of batches
            `(x, y[, sample_weight])` as NumPy arrays or tensors.
        """
        if self.train_function is not None and not force:
            return self.train_function
        self._assert_compiled("make_train_function()")

        def train(batch):
            self._prepare_train_step(batch)
            return self.train_step(batch)

        self.train_function = self._step_function(train, training=True)
        return self.train_function

    def make_test_function(self, force=False):
        """Create (or reuse) `self.test_function`: a callable that runs
        `test_step` on each batch of a list of batches (no gradients) and
        returns the logs of the last one.

        Args:
            force: Make a new function even if one exists. Defaults to `False`.

        Returns:
            The function, taking a list of batches `(x, y[, sample_weight])`.
        """
        if self.test_function is not None and not force:
            return self.test_function
        self._assert_compiled("make_test_function()")

        def test(batch):
            self._prepare_test_step(batch)
            return self.test_step(batch)

        self.test_function = self._step_function(test, training=False)
        return self.test_function

    def make_predict_function(self, force=False):
        """Create (or reuse) `self.predict_function`: a callable that runs
        `predict_step` on each batch of a list of batches (no gradients) and
        returns the outputs of the last one, as tensors.

        Args:
            force: Make a new function even if one exists. Defaults to `False`.

        Returns:
            The function, taking a list of batches `(x,)` (or `x`).
        """
        if self.predict_function is not None and not force:
            return self.predict_function
        self.predict_function = self._step_function(self.predict_step, training=False)
        return self.predict_function

    def _step_function(self, step, training):
        """A callable running `step` on each batch of a list of batches (in
        train mode or not; without gradients when not training), returning
        what the last one returned."""

        def one_step_on_data(data):
            result = None
            for batch in _batches(data):
                batch = self._single_batch(*_unpacked(batch))
                was_training = self.training
                set_mode(self, training)
                try:
                    with torch.set_grad_enabled(training and torch.is_grad_enabled()):
                        result = step(batch)
                finally:
                    set_mode(self, was_training)
            return result

        return one_step_on_data

    # --- state trees -------------------------------------------------------------

    def get_state_tree(self, value_format="backend_tensor"):
        """Every variable of the model, nested by path.

        Args:
            value_format: `"backend_tensor"` (the torch tensors themselves) or
                `"numpy_array"` (NumPy copies). Defaults to `"backend_tensor"`.

        Returns:
            A dict with the keys `"trainable_variables"`,
            `"non_trainable_variables"`, `"optimizer_variables"` and
            `"metrics_variables"`, each a dict nested by the parts of the
            variables' paths (`{"dense": {"kernel": ..., "bias": ...}}`).

        Raises:
            ValueError: For another `value_format`, or when two variables share
                a path.
        """
        if value_format not in ("backend_tensor", "numpy_array"):
            raise ValueError(
                "get_state_tree expects `value_format` to be 'backend_tensor' or "
                f"'numpy_array'; got value_format={value_format!r}."
            )
        optimizer = self.optimizer
        groups = (
            self.trainable_variables,
            self.non_trainable_variables,
            optimizer.variables if optimizer is not None else [],
            self.metrics_variables,
        )
        return {
            key: _nested(variables, value_format)
            for key, variables in zip(_STATE_KEYS, groups)
        }

    def set_state_tree(self, state_tree):
        """Assign values to the model's variables from a `get_state_tree()`-
        shaped dict; variables whose path is absent keep their values.

        Args:
            state_tree: Dict with any of the keys `"trainable_variables"`,
                `"non_trainable_variables"`, `"optimizer_variables"` and
                `"metrics_variables"`, each nested by path.

        Raises:
            ValueError: For another key, or a value of the wrong shape.
        """
        for key, nested in state_tree.items():
            if key not in _STATE_KEYS:
                raise ValueError(
                    f"set_state_tree got the unknown key {key!r}; expected keys "
                    f"among {list(_STATE_KEYS)}."
                )
            if key == "trainable_variables":
                variables = self.trainable_variables
            elif key == "non_trainable_variables":
                variables = self.non_trainable_variables
            elif key == "optimizer_variables":
                if self.optimizer is None:
                    continue
                variables = self.optimizer.variables
            else:
                variables = self.metrics_variables
            by_path = {}
            for variable in variables:
                by_path.setdefault(variable.path, []).append(variable)
            for path, value in _flattened(nested).items():
                for variable in by_path.get(path, ()):
                    _assign(variable, value)
            if key == "optimizer_variables":
                self.optimizer._sync_scalars_from_tensors()

    # --- stateless loss ----------------------------------------------------------

    def stateless_compute_loss(
        self,
        trainable_variables,
        non_trainable_variables,
        metrics_variables,
        x=None,
        y=None,
        y_pred=None,
        sample_weight=None,
        training=True,
    ):
        """`compute_loss` with the model's variables taken from the given
        lists; the model's own variables are left unchanged.

        Args:
            trainable_variables: Tensors matching `trainable_variables`.
            non_trainable_variables: Tensors matching
                `non_trainable_variables`.
            metrics_variables: Tensors matching `metrics_variables`.
            x: The inputs.
            y: The targets.
            y_pred: The model's outputs for `x`.
            sample_weight: Per-sample weights.
            training: Whether the loss is for training. Defaults to `True`.

        Returns:
            `(loss, (trainable_variables, non_trainable_variables,
            metrics_variables))` with the new state of the last two.

        Raises:
            ValueError: If a list's length does not match the model's.
        """
        from lamina.layers._layer_calls import _weights_swapped
        from lamina.metrics.metric import state_swapped

        own_trainable = self.trainable_variables
        own_state = self.non_trainable_variables
        check_matching(
            f"Model '{self.name}'.stateless_compute_loss",
            [
                (trainable_variables, own_trainable, "trainable_variables"),
                (non_trainable_variables, own_state, "non_trainable_variables"),
            ],
        )
        scope = StatelessScope(
            list(zip(own_trainable, trainable_variables)), collect_losses=True
        )
        for variable, value in zip(own_state, non_trainable_variables):
            scope._add_private_copy(variable, value)
        with state_swapped(self.metrics_variables, metrics_variables, self) as new_m:
            with scope, _weights_swapped(self, scope.state_mapping):
                loss = self.compute_loss(
                    x=x,
                    y=y,
                    y_pred=y_pred,
                    sample_weight=sample_weight,
                    training=training,
                )
        new_state = [scope._value_out(v) for v in own_state]
        return loss, (list(trainable_variables), new_state, new_m)


def _batches(data):
    """The batches of `data`: a list of batches (what Keras's torch backend
    passes), an iterator of batches, or else one batch."""
    if isinstance(data, list) or hasattr(data, "__next__"):
        return data
    return [data]


def _unpacked(batch):
    """`(x, y, sample_weight)` of one batch."""
    if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
        return tuple(batch) + (None,) * (3 - len(batch)) + (None,)
    return (batch, None, None, None)


def _value(variable, value_format):
    if value_format == "numpy_array":
        return backend.convert_to_numpy(variable.detach())
    return variable


def _nested(variables, value_format) -> dict:
    flat = {}
    for variable in variables:
        path = variable.path
        if path in flat:
            raise ValueError(
                "The following variable path is found twice in the model: "
                f"{path!r}. get_state_tree() needs unique paths. Give the layers "
                "(and other objects) unique names."
            )
        flat[path] = _value(variable, value_format)
    nested = {}
    for path, value in flat.items():
        *parents, leaf = path.split("/")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _flattened(nested, prefix="") -> dict:
    flat = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat.update(_flattened(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _assign(variable, value) -> None:
    value = torch.as_tensor(
        backend.convert_to_numpy(value)
        if not isinstance(value, torch.Tensor)
        else value,
        dtype=variable.dtype,
        device=variable.device,
    )
    if tuple(value.shape) != tuple(variable.shape):
        raise ValueError(
            f"set_state_tree: the value for '{variable.path}' must have shape "
            f"{tuple(variable.shape)}; got {tuple(value.shape)}."
        )
    copy_into(variable, value)  # a sharded (FSDP) weight keeps its slice
