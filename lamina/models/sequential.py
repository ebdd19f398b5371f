"""Sequential: a plain stack of layers, each feeding the next."""

import inspect

import torch

from lamina import tree
from lamina.backend.keras_tensor import KerasTensor
from lamina.backend.naming import uniquify
from lamina.layers._layer_calls import _carry_masks
from lamina.layers.core.input_layer import InputLayer
from lamina.layers.layer import Layer
from lamina.models.functional import (
    _as_input_dtype,
    _may_take_text,
    _settle_autocast,
    _torch_dtype_or_none,
)
from lamina.models.model import Model, _LayerList


class Sequential(Model):
    """A model whose layers run one after another.

    Args:
        layers: Optional list of layers; an `Input(shape)` first (or a first layer
            given `input_shape=`) builds the model at once, otherwise it is built
            on the first batch it sees.
        trainable: Defaults to `True`.
        name: Defaults to `sequential`, `sequential_1`, ...

    Example:
    >>> model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(2)])
    >>> model.output_shape
    (None, 2)
    """

    def __init__(self, layers=None, trainable=True, name=None):
        # No **kwargs, as Keras: an unknown argument is a TypeError.
        super().__init__(trainable=trainable, name=name)
        # Registered under "layers" so state_dict() keys read layers.0.kernel.
        self._modules["layers"] = torch.nn.ModuleList()
        self._input_layer = None
        self._call_layers = ()
        self._output_shapes = []
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise TypeError(
                    "Sequential expects a list of layers; got "
                    f"{type(layers).__name__}. Write Sequential([layer1, layer2])."
                )
            for layer in layers:
                self.add(layer, rebuild=False)
            self._maybe_build_graph()

    _layers_hint = "Use `add()` and `pop()` to change the layers in this model."

    @property
    def layers(self) -> list:
        return _LayerList(self._modules["layers"])

    @property
    def _layers(self):
        return list(self._modules["layers"])

    def add(self, layer, rebuild=True):
        """Append a layer (or an `Input(...)` tensor, first only)."""
        if isinstance(layer, KerasTensor):
            history = layer._keras_history
            if history is None or not isinstance(history[0], InputLayer):
                raise ValueError(
                    "Only an Input(...) tensor can be added to a Sequential model as "
                    f"a tensor; got {layer!r}."
                )
            layer = history[0]
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self.layers:
                raise ValueError(
                    f"Sequential model '{self.name}': an Input/InputLayer must be the "
                    "first layer, and there can be only one (this model has already "
                    "been configured with its input)."
                )
            object.__setattr__(self, "_input_layer", layer)
            return
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `keras.Layer` (lamina layers) can be added to "
                f"a Sequential model; got {type(layer).__name__}. Wrap a torch "
                "module in a custom Layer whose call() runs it."
            )
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(
                f"All layers in a Sequential model should have unique names; "
                f"'{layer.name}' is already in model '{self.name}'. Pass name=... "
                "to one of them."
            )
        if (
            not self.layers
            and self._input_layer is None
            and layer._input_shape_arg is not None
        ):
            object.__setattr__(
                self, "_input_layer", InputLayer(shape=layer._input_shape_arg)
            )
        self._modules["layers"].append(layer)
        self._call_layers = tuple(self._modules["layers"])
        self.__dict__.pop("_loss_layers", None)
        self.built = False
        if rebuild:
            self._maybe_build_graph()

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self.layers:
            raise IndexError(f"Sequential model '{self.name}' has no layers to pop.")
        layer = self._modules["layers"][-1]
        del self._modules["layers"][-1]
        self._call_layers = tuple(self._modules["layers"])
        self.__dict__.pop("_loss_layers", None)
        self.built = False
        if rebuild:
            self._maybe_build_graph()
        return layer

    def _maybe_build_graph(self):
        if self._input_layer is not None and self.layers:
            self._build_graph()
        elif len(self._call_layers) > 1 and isinstance(self._call_layers[0], Model):
            # Keras: a built model as the first layer gives its input shape
            # (`Sequential([base_model, GlobalAveragePooling2D(), Dense(10)])`).
            shape = getattr(self._call_layers[0], "input_shape", None)
            if isinstance(shape, tuple) and all(
                d is None or isinstance(d, int) for d in shape
            ):
                self.build(shape)

    def _build_graph(self):
        """Build every layer by passing the symbolic input through the stack."""
        x = self._input_layer.output
        shapes = []
        for layer in self._call_layers:
            _check_one_input(layer)
            x = layer(x)
            shapes.append(tuple(x.shape) if isinstance(x, KerasTensor) else None)
        self._output_shapes = shapes
        self._build_shapes = self._input_layer.batch_shape
        self.built = True
        _settle_autocast(self)
        # Keras runs a built Sequential through an unnamed Functional, which
        # uses up one "functional" name; the next Model(...) is numbered alike.
        uniquify("functional")

    def build(self, input_shape=None):
        if input_shape is None and self._input_layer is not None:
            # Keras: no shape is a no-op; one starting with an Input has its own.
            if not self.built and self.layers:
                self._build_graph()
            return
        if input_shape is None:
            raise ValueError(
                f"Sequential model '{self.name}' cannot be built without an input "
                "shape. Start it with Input(shape=...) or call it on data."
            )
        if not self.layers:
            raise ValueError(
                f"Sequential model '{self.name}' has no layers. Add layers before "
                "calling or building it."
            )
        created = self._input_layer is None
        if created:
            # Keras: the Input takes the first layer's compute dtype.
            dtype = self._call_layers[0].compute_dtype
            object.__setattr__(
                self,
                "_input_layer",
                InputLayer(batch_shape=tuple(input_shape), dtype=dtype),
            )
        else:
            own = tuple(self._input_layer.batch_shape)
            if len(own) != len(input_shape) or any(
                a is not None and b is not None and a != b
                for a, b in zip(own, input_shape)
            ):
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured "
                    f"to use input shape {own}. You cannot build it with input "
                    f"shape {tuple(input_shape)}."
                )
        try:
            self._build_graph()
        except NotImplementedError:
            # Keras: a layer that cannot infer its output shape leaves the
            # model without a graph; its layers then run one after another.
            if created:
                object.__setattr__(self, "_input_layer", None)
            self.built = True

    def _build_on_first_call(self, args, kwargs):
        from lamina.layers._layer_calls import _shape_of

        if not self.layers:
            raise ValueError(
                f"Sequential model '{self.name}' has no layers. Add layers before "
                "calling it."
            )
        if self._input_layer is None and isinstance(args[0], (dict, list, tuple)):
            # Keras: a Sequential first fed a structure (a dict or list of
            # tensors) builds no graph; its layers then run one after another.
            self.built = True
            return
        self.build(_shape_of(args[0]))

    _casts_other_inputs = True  # see Layer._casts_other_inputs

    def _first_input_as_tensors(self, inputs):
        # Keras converts the data to its Input's dtype (built from data: the
        # first layer's compute dtype), as a functional model does; only data
        # that is not a tensor of the compute dtype comes here.
        if self._input_layer is not None:
            like = self._input_layer.output
        elif self._call_layers:
            like = KerasTensor((), dtype=self._call_layers[0].compute_dtype)
        else:
            like = None
        dtype = None if like is None else _torch_dtype_or_none(like)
        if dtype is None or isinstance(inputs, (list, tuple, dict)):
            if isinstance(inputs, dict) and self._input_layer is not None:
                shapes = {k: tuple(getattr(v, "shape", ())) for k, v in inputs.items()}
                raise ValueError(
                    "The structure of `inputs` doesn't match the expected "
                    f"structure: Sequential model '{self.name}' takes one input "
                    f"of shape {tuple(self._input_layer.batch_shape)}; got a dict "
                    f"(shapes {shapes}). Pass the array itself, or build a "
                    "functional Model with one named Input per key."
                )
            if isinstance(inputs, (list, tuple)) and self._input_layer is not None:
                if len(inputs) > 1:
                    self._reject_several_inputs(inputs)
                elif dtype is not None and len(inputs) == 1:  # Keras: [x] is x
                    return _as_input_dtype(inputs[0], dtype, model=self)
            return super()._first_input_as_tensors(inputs)
        return _as_input_dtype(inputs, dtype, model=self)

    def _input_takes_text(self, index) -> bool:
        # Whether text may reach the first layer (asked only for text data).
        return not self._call_layers or _may_take_text(self._call_layers[0])

    def _reject_several_inputs(self, inputs):
        # Keras warns and feeds only the first value, silently dropping the
        # rest; lamina refuses rather than lose data.
        shapes = [tuple(getattr(v, "shape", ())) for v in inputs]
        raise ValueError(
            "The structure of `inputs` doesn't match the expected structure: "
            f"Sequential model '{self.name}' takes one input of shape "
            f"{tuple(self._input_layer.batch_shape)}; got a "
            f"{type(inputs).__name__} of {len(inputs)} values (shapes {shapes}). "
            "Pass one array, or build a functional Model with one Input per "
            "array."
        )

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            flat = _carry_masks(tree.flatten(inputs), mask)
            inputs = tree.pack_sequence_as(inputs, flat)
        start = self._input_layer
        if start is not None and getattr(inputs, "ndim", None) not in (
            None,
            len(start.batch_shape),
        ):
            inputs = _adjust_rank(inputs, start.batch_shape, self.name)
        for layer in self._call_layers:
            inputs = layer(inputs)
        return inputs

    def compute_output_spec(self, inputs, training=None, mask=None, **kwargs):
        x = inputs
        for layer in self._call_layers:
            x = layer(x)
        return x

    @property
    def input_shape(self):
        if self._input_layer is None:
            raise AttributeError(
                f"Sequential model '{self.name}' has no defined input shape yet."
            )
        return self._input_layer.batch_shape

    @property
    def output_shape(self):
        if not self._output_shapes:
            raise AttributeError(
                f"Sequential model '{self.name}' is not built, so it has no output "
                "shape yet."
            )
        return self._output_shapes[-1]

    @property
    def inputs(self):
        # Keras: AttributeError (not None) until the model has an Input.
        if self._input_layer is None:
            raise AttributeError(
                f"Sequential model '{self.name}' has no defined inputs yet."
            )
        return [self._input_layer.output]

    @property
    def outputs(self):
        if self._input_layer is None or not self._call_layers:
            raise AttributeError(
                f"Sequential model '{self.name}' has no defined outputs yet."
            )
        return [self.output]

    @property
    def input(self):
        if self._input_layer is None:
            raise AttributeError(
                f"Sequential model '{self.name}' has no Input yet, so no input "
                "tensor; start it with lamina.Input(shape) or build it."
            )
        return self._input_layer.output

    @property
    def output(self):
        if self._input_layer is None or not self._call_layers:
            raise AttributeError(
                f"Sequential model '{self.name}' has no Input yet, so no output "
                "tensor; start it with lamina.Input(shape) or build it."
            )
        return self._call_layers[-1].output

    @property
    def output_names(self):
        return [self.layers[-1].name] if self.layers else []

    def get_config(self):
        from lamina.saving.serialization_lib import serialize_keras_object

        layer_configs = []
        if self._input_layer is not None:
            layer_configs.append(serialize_keras_object(self._input_layer))
        for layer in self.layers:
            layer_configs.append(serialize_keras_object(layer))
        config = {**Layer.get_config(self), "layers": layer_configs}
        if self._input_layer is not None:
            config["build_input_shape"] = self._input_layer.batch_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from lamina.saving.serialization_lib import deserialize_keras_object

        if not isinstance(config, dict) or "name" not in config:
            # Keras: ValueError for a config without a name, or not a dict.
            raise ValueError(
                "A Sequential model configuration must be a dictionary containing "
                "the 'name' and 'layers' keys (as Sequential.get_config() "
                f"returns); got config={config!r}."
            )
        if any(
            isinstance(entry, dict) and "module" not in entry
            for entry in config.get("layers", [])
        ):
            # Keras's legacy layout (`.h5`, Keras 2 JSON), as Functional reads it.
            from lamina.saving.legacy_config import upgrade_model_config

            config = upgrade_model_config(
                {"class_name": "Sequential", "config": config},
                who=f"{cls.__name__}.from_config()",
            )["config"]
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config.get("layers", []):
            layer = deserialize_keras_object(
                layer_config, custom_objects=custom_objects, kind="layer"
            )
            model.add(layer, rebuild=False)
        if model._input_layer is None and config.get("build_input_shape"):
            model.build(tuple(config["build_input_shape"]))
        else:
            model._maybe_build_graph()
        return model


def _adjust_rank(x, batch_shape, model_name):
    """Keras's one-axis leeway for a Sequential that starts with an `Input`: a
    tensor with one axis fewer than the `Input` whose last axis is 1 gets that
    axis (a column of values), one with an extra last axis of 1 loses it. Any
    other rank is refused, as Keras does (a Dense would otherwise quietly take
    one unbatched sample)."""
    rank = len(batch_shape)
    if x.ndim == rank - 1 and batch_shape[-1] == 1:
        return x.unsqueeze(-1)
    if x.ndim == rank + 1 and x.shape[-1] == 1:
        return x.squeeze(-1)
    raise ValueError(
        f"Invalid input shape for Sequential model '{model_name}'. Expected "
        f"shape {tuple(batch_shape)}, but input has incompatible shape "
        f"{tuple(x.shape)} ({x.ndim} axes where the Input has {rank}; is the "
        "batch axis missing?)."
    )


def _check_one_input(layer):
    """As Keras, refuse a layer whose `call` needs more than the one input
    tensor a Sequential model passes (`call(self, inputs, training)`)."""
    own_call = "call" in layer.__dict__
    if not own_call and type(layer) in _ONE_INPUT_CLASSES:
        return  # a stack is rebuilt on every add(): each class is looked at once
    try:
        params = inspect.signature(layer.call).parameters.values()
    except (TypeError, ValueError):
        return
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p.name for p in positional if p.default is p.empty]
    if not positional and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise ValueError(
            "Layers added to a Sequential model should have a single positional "
            f"argument, the input tensor. Layer {type(layer).__name__} "
            f"('{layer.name}') has no positional arguments."
        )
    if len(required) > 1:
        raise ValueError(
            "Layers added to a Sequential model can only have a single required "
            f"positional argument, the input tensor. Layer {type(layer).__name__} "
            f"('{layer.name}') has multiple required positional arguments: "
            f"{required}. Give the others defaults (e.g. `training=None`)."
        )
    if not own_call:
        _ONE_INPUT_CLASSES.add(type(layer))


_ONE_INPUT_CLASSES = set()
