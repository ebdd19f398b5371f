"""TorchModuleWrapper: use any torch.nn.Module as a lamina layer."""

import torch

from lamina.backend.shape_inference import inferring
from lamina.layers._layer_calls import _CALL_CONTEXT
from lamina.layers.layer import Layer, _attribute_layers


class TorchModuleWrapper(Layer):
    """Wraps a `torch.nn.Module` so it can sit in a Sequential or functional model.

    The module's parameters become the layer's weights (trainable ones train with
    `fit`); its buffers stay torch buffers and are saved with the weights. The
    module runs unchanged, so its layouts are torch's (e.g. `nn.Conv2d` wants
    channels-first inputs). Each call sets the module's train/eval mode from
    `training`, as Keras does: `training=False` (evaluate, predict) means
    `module.eval()`, otherwise `module.train()`.

    The parameters stay the module's own objects; they become lamina
    `Variable`s in place (a `torch.nn.Parameter` subclass), named `variable`,
    `variable_1`, ... as Keras names them, so `weights`, `get_weights()`,
    optimizers and saved files treat them like any other weight.

    Args:
        module: The `torch.nn.Module` to wrap. A lazy module (`nn.LazyLinear`)
            must have been called once first, so that its parameters exist.
        output_shape: Optional output shape, batch axis included (e.g.
            `(None, 3)`), as `compute_output_shape` returns it; otherwise it
            is inferred by running the module on shape-only tensors.
        name: The layer's name.

    Example:
    >>> layer = lamina.layers.TorchModuleWrapper(torch.nn.Linear(3, 2))
    >>> tuple(layer(np.ones((4, 3), "float32")).shape)
    (4, 2)
    """

    _wraps_torch_module = True  # Layer.__setattr__ leaves `self.module` as is

    def __init__(self, module, name=None, output_shape=None, **kwargs):
        if "dtype" not in kwargs and isinstance(module, torch.nn.Module):
            # A module whose weights are all of one other float dtype (after
            # `.double()`, say) computes in it: inputs are cast to it, where
            # Keras casts them to floatx and the module fails.
            from lamina.backend import floatx, standardize_dtype

            dtypes = {p.dtype for p in module.parameters() if p.is_floating_point()}
            dtype = standardize_dtype(dtypes.pop()) if len(dtypes) == 1 else None
            if dtype is not None and dtype != floatx():
                kwargs["dtype"] = dtype
        super().__init__(name=name, **kwargs)
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                "TorchModuleWrapper expects a torch.nn.Module; got "
                f"{type(module).__name__}."
            )
        if (
            isinstance(module, torch.nn.modules.lazy.LazyModuleMixin)
            and module.has_uninitialized_params()
        ):
            # Keras refuses them too: the parameters do not exist yet, so they
            # could not become weights (nor reach an optimizer).
            raise ValueError(
                "LazyModules are not supported unless they are already "
                f"initialized. Received uninitialized LazyModule: module={module}. "
                "Call it once on a sample batch first, e.g. module(x[:1])."
            )
        from lamina.backend import get_device

        self.module = module.to(get_device())
        self._call_has_training_arg = False  # read from the call context
        self.output_shape_arg = None if output_shape is None else tuple(output_shape)
        self._track_module_parameters()
        self.built = True

    @property
    def _layers(self):
        # lamina layers inside the torch module (`nn.Sequential(Dense(8),
        # nn.ReLU())`) are sub-layers: their losses, `trainable` and weights
        # count as this layer's.
        # Not `super()._layers`: torch.compile cannot trace it (a loss walk
        # reaches here inside a compiled step).
        return _attribute_layers(self) + self.__dict__["_inner_layers"]

    def _track_module_parameters(self) -> None:
        """Make the module's parameters this layer's weights; again after the
        first call when lamina layers inside it were not built yet."""
        self.__dict__["_inner_layers"] = _outermost_layers(self.module)
        known = {id(v) for v in self._trainable_variables}
        known.update(id(v) for v in self._non_trainable_variables)
        for param in self.module.parameters():
            if id(param) in known:
                continue
            _as_variable(param)
            target = (
                self._trainable_variables
                if param.requires_grad
                else self._non_trainable_variables
            )
            target.append(param)
            param._tracked = True
        self.__dict__["_tracking_pending"] = any(
            isinstance(m, Layer) and not m.built for m in self.module.modules()
        )

    def _parameter_snapshot(self):
        # Its weights are the module's parameters (see Layer._apply).
        from lamina.backend.variables import snapshot_parameters

        return snapshot_parameters(self.module)

    def call(self, *args, training=None, **kwargs):
        # Keras: `training=False` is eval mode, anything else train mode; it
        # never reaches forward(). A `layer(x, training=...)` call leaves it in
        # the call context (no keyword passed per call, see __init__); a
        # direct `call(x, training=...)` gives it here.
        module = self._modules["module"]
        if training is None:
            training = _CALL_CONTEXT.training
        # Shape inference runs it in eval mode: a probe must not move
        # BatchNorm's running statistics or its batch count.
        mode = training is not False and not inferring()
        if module.training is not mode:
            module.train(mode)
        outputs = module(*args, **kwargs)
        if self.__dict__["_tracking_pending"]:
            self._track_module_parameters()
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        if self.output_shape_arg is not None:
            from lamina.backend.keras_tensor import KerasTensor

            return KerasTensor(self.output_shape_arg, dtype=self.compute_dtype)
        return super().compute_output_spec(*args, **kwargs)

    def save_own_variables(self, store):
        """Keras writes a wrapped module's `state_dict()` under its own keys."""
        from lamina.backend import convert_to_numpy

        for key, value in self.module.state_dict().items():
            store[key] = convert_to_numpy(value)

    def load_own_variables(self, store):
        state = {
            (key.decode() if isinstance(key, bytes) else key): torch.as_tensor(
                store[key]
            )
            for key in store.keys()
        }
        self.module.load_state_dict(state)

    def get_config(self):
        raise NotImplementedError(
            f"TorchModuleWrapper '{self.name}' holds an arbitrary torch module, "
            "which lamina cannot write to a config: Keras pickles it there, and "
            "lamina never pickles. Save the weights (save_weights) and rebuild "
            "the module in code."
        )

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        raise ValueError(
            "This TorchModuleWrapper config holds a pickled torch module (Keras "
            "writes one), which lamina never unpickles, even with "
            "safe_mode=False. Rebuild the model in code with the same torch "
            "module, then load the file's weights with model.load_weights(path)."
        )


def _outermost_layers(module) -> list:
    """The lamina layers in a torch module tree that no other one holds."""
    found = []
    for child in module.children():
        if isinstance(child, Layer):
            found.append(child)
        else:
            found.extend(_outermost_layers(child))
    return found


def _as_variable(param) -> None:
    """Make a module's Parameter a lamina Variable in place (its identity, and
    so the module, torch optimizers and user references, unchanged), named as
    Keras names the Variable it wraps each parameter in."""
    from lamina.backend import naming
    from lamina.backend.variables import Variable

    if isinstance(param, Variable):
        return
    param.__class__ = Variable
    param._name = naming.uniquify("variable")
    param.path = naming.join_path(naming.current_path(), param._name)
    param.autocast = True
    param.constraint = None
