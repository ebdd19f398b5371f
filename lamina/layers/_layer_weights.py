"""`_LayerWeights`: the weight and loss methods of `Layer` (add_weight ... losses)."""

import sys

import numpy as np
import torch

from lamina import backend
from lamina.backend import naming, shape_inference, stateless_scope
from lamina.backend.tensors import copy_into
from lamina.backend.variables import Variable
from lamina.layers._layer_build import _unset_fake_mode
from lamina.layers._layer_calls import _ADD_LOSS_USED


def forgot_super_init_message(layer, what: str) -> str:
    """The error for a Layer subclass whose __init__ did not run Layer's."""
    return (
        f"In layer '{type(layer).__name__}', you forgot to call "
        "`super().__init__()` as the first statement in the `__init__()` "
        f"method: {what} needs the state it sets up. Go add it!"
    )


class _LayerWeights:
    """Creating, listing, freezing, reading and assigning a layer's weights, and
    the losses its calls and weight regularizers add.

    A mixin of `Layer` only: it relies on the attributes `Layer.__init__` sets
    (`name`, `_trainable_variables`, `_non_trainable_variables`, `_regularized`,
    `_losses`) and on `_layers` / `_flatten_layers`.
    """

    # Keras: Dense, EinsumDense, Embedding and Conv1D/2D/3D save only these
    # variables, by attribute name and in this order (a subclass's extra
    # variables stay out of the file, and loading then finds too few). None:
    # every own variable, trainable ones first, in creation order.
    _keras_saved_variables = None

    # --- weights --------------------------------------------------------------

    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        autocast=True,
        regularizer=None,
        constraint=None,
        aggregation="none",
        overwrite_with_gradient=False,
        name=None,
    ):
        """Create a weight, track it, and return it as an `nn.Parameter`.

        Args:
            shape: Tuple of ints. Defaults to `()` (a scalar).
            initializer: Name or callable. Defaults to `"glorot_uniform"` for
                float weights and `"zeros"` otherwise.
            dtype: Defaults to the layer's variable dtype.
            trainable: Whether training updates it (`requires_grad`).
            regularizer: Penalty added to the loss (see `losses`).
            constraint: Projection applied after each optimizer update.
            name: Weight name (`"kernel"`), used in `path` and `state_dict()`.
                Defaults to a unique `"variable"`, `"variable_1"`, ... as in Keras.
        """
        from lamina import constraints, initializers, regularizers

        if "_modules" not in self.__dict__:
            raise RuntimeError(forgot_super_init_message(self, "add_weight()"))
        if self.__dict__.get("built") and _inside_own_call(self):
            # Keras locks a built layer's state; a weight made in call() would
            # be made again at every call.
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) cannot add new "
                f"elements of state (here add_weight(name={name!r})) from its "
                "call() once it is built: create weights in build() or "
                "__init__()."
            )
        if isinstance(shape, str):
            # Keras 2 order: add_weight("kernel", (3, 4), ...).
            name, shape, initializer = shape, initializer, None
        shape = () if shape is None else tuple(shape)
        for dim in shape:
            if dim is None or (not isinstance(dim, (int, np.integer))) or dim < 0:
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): add_weight("
                    f"name={name!r}) needs a shape of non-negative ints; got "
                    f"shape={shape}. Create weights in build(input_shape) where the "
                    "input sizes are known."
                )
        dtype = backend.standardize_dtype(dtype or self.variable_dtype)
        if initializer is None:
            initializer = "glorot_uniform" if backend.is_float_dtype(dtype) else "zeros"
        initializer = initializers.get(initializer)
        key = name or "variable"
        name = name or naming.uniquify("variable")
        # Real (not fake) tensors, and ordinary ones even when the first call
        # happens inside predict()'s inference mode, so fit() can update them.
        with _unset_fake_mode(), torch.inference_mode(False):
            value = initializer(shape, dtype=dtype)
            value = backend.convert_to_tensor(value, dtype=dtype).reshape(shape)
            param = Variable(
                value, requires_grad=bool(trainable) and backend.is_float_dtype(dtype)
            )
        # Keras: a weight's path is its layer's scope path, then its name.
        parent = self.__dict__.get("_parent_path")
        if parent is None:
            parent = naming.current_path(exclude=self)
        param.path = naming.join_path(parent, self.name, name)
        param._name = name
        param.constraint = constraints.get(constraint)
        param.autocast = autocast
        shape_inference.variable_made(param)
        key = key.replace(".", "_")
        if key in self.__dict__ and self.__dict__[key] is None:
            # `self.kernel = None` in __init__, then `self.kernel =
            # self.add_weight(name="kernel")` in build, as Keras code does.
            del self.__dict__[key]
        if (
            key in self._parameters
            or key in self.__dict__
            or hasattr(type(self), key)
            or key in self._modules
        ):
            suffix = 1
            while f"{key}_{suffix}" in self._parameters:
                suffix += 1
            key = f"{key}_{suffix}"
        self.register_parameter(key, param)
        self.__dict__.setdefault("_add_weight_keys", set()).add(key)
        param._tracked = True
        if trainable:
            self._trainable_variables.append(param)
        else:
            self._non_trainable_variables.append(param)
        if not self.__dict__.get("_trainable", True):
            # Keras: the weights a frozen layer creates are frozen too.
            param.requires_grad_(False)
        regularizer = regularizers.get(regularizer)
        param.regularizer = regularizer
        if overwrite_with_gradient:
            param.overwrite_with_gradient = True
        if regularizer is not None:
            self._regularized.append((param, regularizer))
        return param

    def _track_variable(self, variable) -> None:
        """Track a `Variable` assigned to an attribute (`self.w = Variable(...)`)
        as a weight of this layer, as Keras does: it joins `trainable_weights`
        or `non_trainable_weights` (by its `trainable`) and is saved with the
        layer. One owned by another layer already (from `add_weight`, or
        assigned to that layer first: tied weights) is listed and saved here
        too, as in Keras (`weights` of a model holding both layers has it
        once); its owner keeps its gradient flag and regularizer."""
        if not isinstance(variable, Variable):
            return
        if "_trainable_variables" not in self.__dict__:
            return  # assigned before Layer.__init__ ran
        owned = self._trainable_variables + self._non_trainable_variables
        if any(v is variable for v in owned):
            return
        if variable.trainable:
            self._trainable_variables.append(variable)
        else:
            self._non_trainable_variables.append(variable)
        if variable.__dict__.get("_tracked"):
            self.__dict__.setdefault("_shared_variable_ids", set()).add(id(variable))
            return
        variable._tracked = True
        if not self.__dict__.get("_trainable", True):
            variable.requires_grad_(False)

    def __delattr__(self, name):
        # Keras: `del self.kernel` also stops tracking the weight, so it leaves
        # `weights`, the saved file and the optimizer (quantize() hooks in custom
        # layers delete the float kernel before adding the quantized one).
        variable = self.__dict__.get("_parameters", {}).get(name)
        super().__delattr__(name)
        owned = self.__dict__.get("_trainable_variables", []) + self.__dict__.get(
            "_non_trainable_variables", []
        )
        if (
            variable is None
            or all(v is not variable for v in owned)
            or any(v is variable for v in self._parameters.values())
        ):
            return  # not an own weight (tied), or still held under another name
        self._untrack_variable(variable)

    def _untrack_variable(self, variable) -> None:
        """Forget `variable` as a weight of this layer (weights, regularizers,
        saved files); it stays wherever else it is referenced."""
        self._trainable_variables = [
            v for v in self._trainable_variables if v is not variable
        ]
        self._non_trainable_variables = [
            v for v in self._non_trainable_variables if v is not variable
        ]
        self._regularized = [(v, r) for v, r in self._regularized if v is not variable]
        self.__dict__.pop("_device_probe", None)
        shared = self.__dict__.get("_shared_variable_ids")
        if shared and id(variable) in shared:
            shared.discard(id(variable))  # another layer's: it stays tracked there
        else:
            variable._tracked = False

    @property
    def path(self):
        """Where the layer sits: the names of the layers (and `name_scope`s)
        whose call or build first built it, then its own name, e.g.
        `"sequential/dense"`. `None` until the layer is built."""
        path = self.__dict__.get("_path")
        if path is None and self.__dict__.get("built") and _is_functional(self):
            # Keras fixes a functional model's path when it is built, at
            # construction: outside any scope that is its name. Fixed at the
            # first read, so a later call inside another layer does not move it.
            parent = self.__dict__.get("_parent_path") or ""
            path = self.__dict__["_path"] = naming.join_path(parent, self.name)
        return path

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freeze or unfreeze this layer and every layer inside it, as Keras does."""
        value = bool(value)
        for layer in self._flatten_layers():
            layer._trainable = value
            for param in layer._trainable_variables:
                param.requires_grad_(value)

    @property
    def trainable_weights(self) -> list:
        """The weights a step updates: none if this layer is frozen, else every
        weight (own or a sub-layer's) whose `trainable` is set, as Keras; so a
        sub-layer unfrozen inside a frozen one trains (LoRA's pattern)."""
        if not self.trainable:
            return []
        return [v for v in self.weights if v.requires_grad]

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return [v for v in self.weights if not v.requires_grad]

    @property
    def weights(self) -> list:
        """Own weights (trainable first, in creation order), then sub-layers'."""
        result = self._trainable_variables + self._non_trainable_variables
        for layer in self._layers:
            result = result + layer.weights
        return _dedupe(result)

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self) -> list:
        """The weights as NumPy arrays, in `weights` order."""
        return [backend.convert_to_numpy(w) for w in self.weights]

    def set_weights(self, weights) -> None:
        """Assign NumPy arrays (in `get_weights()` order) to the weights."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) has {len(params)} "
                f"weights, but set_weights() got a list of {len(weights)} arrays. "
                f"Expected shapes: {[tuple(p.shape) for p in params]}."
            )
        for param, value in zip(params, weights):
            value = np.asarray(value)
            if value.dtype.kind == "V":
                # ml_dtypes' bfloat16 (what Keras's get_weights() returns for
                # bfloat16 weights) has no torch equivalent: widen it exactly.
                value = value.astype(np.float32)
            if tuple(value.shape) != tuple(param.shape):
                raise ValueError(
                    f"Layer '{self.name}': weight '{param.path}' has shape "
                    f"{tuple(param.shape)}, but set_weights() got an array of shape "
                    f"{value.shape}."
                )
            # A sharded (FSDP) weight keeps this rank's slice.
            copy_into(param, torch.as_tensor(value, dtype=param.dtype))

    def save_own_variables(self, store) -> None:
        """Write this layer's own variables into `store` when the model is saved.

        The default writes them under "0", "1", ... (trainable ones first);
        Dense, EinsumDense, Embedding and Conv1D/2D/3D write only their own
        Keras variables (kernel and bias, or embeddings), as Keras does, so a
        subclass adding variables overrides this and `load_own_variables`.

        Args:
            store: Dict-like object taking NumPy arrays or tensors by key.
        """
        for i, variable in enumerate(saved_variables(self)):
            store[str(i)] = variable

    def load_own_variables(self, store) -> None:
        """Assign this layer's own variables from `store` when a model loads.

        Args:
            store: Dict-like object holding the arrays `save_own_variables`
                wrote.

        Raises:
            ValueError: when `store` holds another number of variables, or a
                variable of another shape.
        """
        from lamina.saving.weights_file import _load_layer_variables

        _load_layer_variables(self, store, None)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) is not built yet, so "
                "it has no weights to count. Call it on data (or build it) first."
            )
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # --- losses ---------------------------------------------------------------

    def add_loss(self, loss) -> None:
        """Add a scalar tensor to the training loss for the current call.

        Inside a `lamina.StatelessScope` the loss goes to the scope instead:
        to `scope.losses` when the scope collects losses, nowhere otherwise,
        as in Keras.
        """
        _ADD_LOSS_USED[0] = True
        scope = stateless_scope.get_stateless_scope()
        if scope is None:
            self._losses.append(loss)
        elif scope.collect_losses:
            scope.add_loss(loss)
            self.__dict__.setdefault("_loss_ids", set()).add(id(loss))

    @property
    def losses(self) -> list:
        """Losses added in the last call and weight-regularization penalties.

        As in Keras, only trainable weights contribute a penalty: a frozen
        layer's (or a `trainable=False` weight's) regularizer adds nothing.
        Inside a `lamina.StatelessScope`: the losses the layers added to the
        scope, and the penalties of the weights' values in the scope.
        """
        scope = stateless_scope.get_stateless_scope()
        result = []
        for layer in self.__dict__.get("_loss_layers") or self._flatten_layers():
            if scope is None:
                result.extend(layer._losses)
            else:
                ids = layer.__dict__.get("_loss_ids") or ()
                result.extend(loss for loss in scope.losses if id(loss) in ids)
            if not layer._trainable:
                continue
            for param, regularizer in layer._regularized:
                if not param.requires_grad:
                    continue
                value = None if scope is None else scope.get_current_value(param)
                result.append(regularizer(param if value is None else value))
        return result

    def _clear_losses(self):
        for layer in self._flatten_layers():
            layer._losses = []
            if layer.__dict__.get("_loss_ids"):
                # Not `__dict__.pop`: torch 2.11's dynamo breaks the graph there.
                layer.__dict__["_loss_ids"] = set()


def _inside_own_call(layer) -> bool:
    """Whether `layer.call` (or a method it calls) is running: its `call` is
    on the stack with `self` bound to `layer`."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "call" and frame.f_locals.get("self") is layer:
            return True
        frame = frame.f_back
    return False


def _is_functional(layer) -> bool:
    from lamina.models.functional import Functional  # lazy: models import layers

    return isinstance(layer, Functional)


def _dedupe(items):
    seen, result = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            result.append(item)
    return result


def saved_variables(layer) -> list:
    """The own variables of `layer` that `save_own_variables` writes, in order
    (see `_keras_saved_variables`)."""
    own = list(layer._trainable_variables) + list(layer._non_trainable_variables)
    names = type(layer)._keras_saved_variables
    if names is None:
        return own
    owned = {id(v) for v in own}
    result = []
    for name in names:
        # `_kernel` where `kernel` is a property (LoRA, quantization).
        for attr in ("_" + name, name):
            variable = getattr(layer, attr, None)
            if id(variable) in owned:
                result.append(variable)
                break
    return result
