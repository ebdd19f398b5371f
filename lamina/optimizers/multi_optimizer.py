"""MultiOptimizer and OptimizerMap: different optimizers for different weights."""

import re
from collections.abc import MutableMapping

import torch

from lamina.optimizers._optimizer_state import _OptimizerState
from lamina.optimizers.loss_scale_optimizer import LossScaleOptimizer
from lamina.optimizers.optimizer import Optimizer
from lamina.saving.serialization_lib import serialize_keras_object


def _check_inner(optimizer, key=None, variable=None) -> None:
    """Refuse what cannot be an inner optimizer (ValueError, as Keras), either
    when set on an OptimizerMap under `key` or when returned for `variable`."""
    if variable is None:
        subject = f"OptimizerMap[{key!r}]"
        if not isinstance(optimizer, Optimizer):
            raise ValueError(
                f"{subject} must be an Optimizer instance such as Adam(); got "
                f"{optimizer!r} of type {type(optimizer).__name__}."
            )
    else:
        subject = f"Optimizer for variable {variable}"
        if not isinstance(optimizer, Optimizer):
            raise ValueError(
                f"{subject} is not an Optimizer instance: the optimizer_map "
                f"returned {optimizer!r} of type {type(optimizer).__name__}."
            )
    for kind in (LossScaleOptimizer, MultiOptimizer):
        if isinstance(optimizer, kind):
            name = kind.__name__
            raise ValueError(
                f"{subject} cannot be a {name}: {name} cannot be used inside a "
                "MultiOptimizer. Pass plain optimizers (wrap the "
                "MultiOptimizer's inner optimizers, not the other way)."
            )


class OptimizerMap(MutableMapping):
    """Optimizers by variable path, with a default for unmatched variables.

    A key is first looked up as is; otherwise every key is tried as a regular
    expression that must match the whole path (`re.fullmatch`), so
    `"encoder/.*"` covers every weight under `encoder`. More than one match
    is an error. Calling the map on a variable looks up its `path`.

    Args:
        default_optimizer: The optimizer for variables no key matches.
        optimizer_map: A dict `{path or pattern: optimizer}`. Defaults to `{}`.

    Example:
    >>> from lamina import optimizers
    >>> table = OptimizerMap(optimizers.RMSprop(), {"encoder/.*": optimizers.SGD()})
    >>> type(table["encoder/dense/kernel"]).__name__, type(table["head"]).__name__
    ('SGD', 'RMSprop')
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(
                "OptimizerMap expects `default_optimizer` to be an Optimizer "
                f"instance; got {default_optimizer!r} of type "
                f"{type(default_optimizer).__name__}."
            )
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(
                "OptimizerMap expects `optimizer_map` to be a dict {path or "
                f"pattern: optimizer}}; got {type(optimizer_map).__name__}."
            )
        self._default_optimizer = default_optimizer
        self._optimizer_map = {}
        for key, optimizer in (optimizer_map or {}).items():
            self[key] = optimizer

    @property
    def default_optimizer(self) -> Optimizer:
        return self._default_optimizer

    def __getitem__(self, key: str) -> Optimizer:
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matches = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matches) > 1:
            raise ValueError(
                f"Multiple optimizers assigned to variable {key!r}: the patterns "
                f"{matches} all match it. Make the patterns exclusive."
            )
        if matches:
            return self._optimizer_map[matches[0]]
        return self._default_optimizer

    def __setitem__(self, key: str, optimizer) -> None:
        if not isinstance(key, str):
            raise ValueError(
                "OptimizerMap key must be a string (a variable path or pattern); "
                f"got {key!r}."
            )
        if key in self._optimizer_map:
            raise ValueError(
                f"{key!r} already exists in the OptimizerMap with value "
                f"{self._optimizer_map[key]}. Use each key once."
            )
        _check_inner(optimizer, key=key)
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable) -> Optimizer:
        return self[getattr(variable, "path", None) or ""]

    def get_config(self) -> dict:
        return {
            "default_optimizer": serialize_keras_object(self._default_optimizer),
            "optimizer_map": serialize_keras_object(self._optimizer_map),
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from lamina.optimizers import deserialize

        default = deserialize(config["default_optimizer"], custom_objects)
        table = {
            key: deserialize(value, custom_objects)
            for key, value in (config.get("optimizer_map") or {}).items()
        }
        return cls(default, table)


class MultiOptimizer(Optimizer):
    """Update each weight with the optimizer `optimizer_map` picks for it.

    Args:
        optimizer_map: An `OptimizerMap`, or a callable taking a variable and
            returning its optimizer.
        loss_scale_factor: Set on every inner optimizer (it replaces theirs).
            Defaults to `None`.
        name: Defaults to `"multi_optimizer"`.

    Each inner optimizer keeps its own state, learning rate and step count
    (`optimizers` lists them); the MultiOptimizer has no learning rate of its
    own. Its `variables` are its `iteration` and `learning_rate` (Keras keeps
    a placeholder 0), then each inner optimizer's, in `optimizers` order: the
    map's values, then the default, then any the callable returned first.

    Example:
    >>> from lamina import optimizers
    >>> opt = MultiOptimizer(
    ...     OptimizerMap(optimizers.SGD(0.1), {"bias": optimizers.SGD(1.0)})
    ... )
    >>> kernel = torch.nn.Parameter(torch.ones(2))
    >>> bias = torch.nn.Parameter(torch.ones(2))
    >>> kernel.path, bias.path = "kernel", "bias"
    >>> opt.apply([torch.ones(2), torch.ones(2)], [kernel, bias])
    >>> kernel.tolist(), bias.tolist()
    ([0.8999999761581421, 0.8999999761581421], [0.0, 0.0])
    """

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not callable(optimizer_map):
            raise TypeError(
                "MultiOptimizer expects `optimizer_map` to be an OptimizerMap or a "
                "callable taking a variable and returning its optimizer; got "
                f"{optimizer_map!r} of type {type(optimizer_map).__name__}."
            )
        # Created at 1 and set to 0 (Keras's placeholder): see LossScaleOptimizer.
        super().__init__(
            learning_rate=1.0, loss_scale_factor=loss_scale_factor, name=name
        )
        self._set_learning_rate(0.0)
        self._optimizer_map = optimizer_map
        self._inner_optimizers = []
        inner = list(optimizer_map.values()) if hasattr(optimizer_map, "values") else []
        default = getattr(optimizer_map, "default_optimizer", None)
        for optimizer in inner + ([default] if default is not None else []):
            self._add_inner(optimizer)

    def _add_inner(self, optimizer) -> int:
        for i, known in enumerate(self._inner_optimizers):
            if known is optimizer:
                return i
        optimizer.loss_scale_factor = self.loss_scale_factor
        self._inner_optimizers.append(optimizer)
        return len(self._inner_optimizers) - 1

    def build(self, var_list) -> None:
        if self.built:
            return
        var_list = list(var_list)
        self._group_of = []  # the inner optimizer of each variable, by position
        for variable in var_list:
            optimizer = self._optimizer_map(variable)
            _check_inner(optimizer, variable=getattr(variable, "path", "?"))
            self._group_of.append(self._add_inner(optimizer))
        super().build(var_list)
        for k, optimizer in enumerate(self._inner_optimizers):
            group = [v for v, g in zip(var_list, self._group_of) if g == k]
            if group:
                optimizer.build(group)

    # ------------------------------------------------------------------ state

    @property
    def optimizers(self) -> list:
        """The inner optimizers."""
        return self._inner_optimizers

    @property
    def variables(self) -> list:
        state = _OptimizerState.variables.fget(self)
        for optimizer in self._inner_optimizers:
            state.extend(optimizer.variables)
        return state

    def _sync_scalars_from_tensors(self) -> None:
        super()._sync_scalars_from_tensors()
        for optimizer in self._inner_optimizers:
            optimizer._sync_scalars_from_tensors()

    @property
    def learning_rate(self):
        raise AttributeError(
            "Learning rate cannot be accessed on a MultiOptimizer: it has no "
            "learning rate of its own. Read it on its inner optimizers "
            "(`optimizer.optimizers`) instead."
        )

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        raise AttributeError(
            "Learning rate cannot be set on a MultiOptimizer: it has no "
            "learning rate of its own. Set it on its inner optimizers "
            "(`optimizer.optimizers`) instead."
        )

    @property
    def loss_scale_factor(self):
        return self.__dict__.get("_loss_scale_factor")

    @loss_scale_factor.setter
    def loss_scale_factor(self, value) -> None:
        self._loss_scale_factor = value
        for optimizer in self.__dict__.get("_inner_optimizers", ()):
            optimizer.loss_scale_factor = value

    # ------------------------------------------------------------- the update

    def apply(self, grads, trainable_variables=None) -> None:
        """Hand each inner optimizer the gradients of its own variables."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    f"must already be built: MultiOptimizer '{self.name}' is "
                    "not. Call optimizer.build(trainable_variables) first, or "
                    "pass the variables."
                )
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        if len(grads) != len(self._trainable_variables) or len(grads) != len(
            trainable_variables
        ):
            raise ValueError(
                "Gradients must match trainable variables one-to-one: "
                f"MultiOptimizer '{self.name}' was built with "
                f"{len(self._trainable_variables)} variables but got "
                f"{len(grads)} gradients for {len(trainable_variables)} variables."
            )
        for k, optimizer in enumerate(self._inner_optimizers):
            pairs = [
                (g, v)
                for g, v in zip(grads, trainable_variables)
                if self._group_of[self._get_variable_index(v)] == k
            ]
            if pairs:
                optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        self._step_count += 1

    @torch.no_grad()
    def step(self, closure=None):
        """`apply` from each built variable's `.grad`, like torch.optim."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not self.built:
            raise ValueError(
                f"Optimizer '{self.name}' (MultiOptimizer) is not built. Call "
                "optimizer.build(model.trainable_weights) once before step()."
            )
        self.apply([v.grad for v in self._trainable_variables])
        return loss

    def _compiled_update_supported(self) -> bool:
        # The inner optimizers update eagerly, each with its own host numbers.
        return False

    def finalize_variable_values(self, var_list) -> None:
        var_list = list(var_list)
        for k, optimizer in enumerate(self._inner_optimizers):
            group = [
                v for v in var_list if self._group_of[self._get_variable_index(v)] == k
            ]
            if group:
                optimizer.finalize_variable_values(group)

    # ----------------------------------------------------------------- config

    def get_config(self) -> dict:
        return {
            "optimizer_map": serialize_keras_object(self._optimizer_map),
            "loss_scale_factor": self.loss_scale_factor,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from lamina.optimizers import deserialize

        config = dict(config)
        config["optimizer_map"] = deserialize(config["optimizer_map"], custom_objects)
        return cls(**config)
