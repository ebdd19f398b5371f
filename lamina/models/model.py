"""Model: a Layer with the training API (compile/fit/evaluate/predict) and summary."""

import torch

from lamina import backend
from lamina.backend.keras_tensor import specs_from_shapes
from lamina.layers.layer import Layer
from lamina.models._model_api import _ModelAPI
from lamina.trainers.trainer import Trainer


class _LayerList(list, torch.nn.Module):
    """`model.layers` of a Sequential or functional model: a new list (Keras),
    which torch can also walk as the model's `layers` submodule.

    Those models register their layers under `layers` (state_dict keys read
    `layers.0.kernel`), and torch resolves such names with `getattr`
    (`get_submodule`, `torch.func.functional_call`, `torch.export`), so the
    list answers `layers.0` with the model's own layer.
    """

    __hash__ = torch.nn.Module.__hash__

    def __init__(self, module_list):
        list.__init__(self, module_list)
        torch.nn.Module.__init__(self)
        self._modules.update(module_list._modules)


class Model(_ModelAPI, Trainer, Layer):
    """A layer that can be trained: group layers and give them `fit()`.

    Three ways to make one, as in Keras:
    `Sequential([...])`; the functional API `Model(inputs, outputs)`; or
    subclassing `Model`, creating layers in `__init__` and using them in `call()`.

    Example:
    >>> class TwoLayers(lamina.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = lamina.layers.Dense(8, activation="relu")
    ...         self.out = lamina.layers.Dense(1)
    ...     def call(self, x):
    ...         return self.out(self.hidden(x))
    >>> tuple(TwoLayers()(np.ones((4, 3), "float32")).shape)
    (4, 1)
    """

    def __new__(cls, *args, **kwargs):
        # Keras: Model(inputs, outputs) builds a functional model.
        if cls is Model and (len(args) >= 2 or "outputs" in kwargs):
            from lamina.models.functional import Functional

            return Functional.__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, trainable=True, name=None, dtype=None, **kwargs):
        if _functional_arguments(args, kwargs):
            # Keras: a subclass passing (inputs, outputs) on to Model.__init__
            # becomes a functional model of its own class.
            from lamina.models.functional import Functional

            if not isinstance(self, Functional):
                _inject_functional(type(self))
            Functional.__init__(
                self, *args, trainable=trainable, name=name, dtype=dtype, **kwargs
            )
            return
        if args:
            raise TypeError(
                f"{type(self).__name__}() takes keyword arguments only (or inputs "
                f"and outputs for a functional model); got {len(args)} positional "
                "arguments."
            )
        Layer.__init__(self, trainable=trainable, name=name, dtype=dtype, **kwargs)
        self._init_trainer()

    _layers_hint = "Please use another name (e.g. `self.blocks = [...]`)."

    @property
    def layers(self) -> list:
        """The model's direct sub-layers, in the order they were created."""
        return list(self._layers)

    def __setattr__(self, name, value):
        # Keras reserves `layers`; torch would otherwise store a list of layers
        # under it as a ModuleList and replace a Sequential's own layers.
        if name == "layers":
            raise AttributeError(
                f"Model '{self.name}' ({type(self).__name__}): the `Model.layers` "
                "attribute is reserved and should not be used. "
                f"{self._layers_hint}"
            )
        super().__setattr__(name, value)

    def get_layer(self, name=None, index=None):
        """A sub-layer by `name` or by `index` into `layers`."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"get_layer(index={index}) is out of range: model "
                    f"'{self.name}' has {len(self.layers)} layers."
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self.layers]
        raise ValueError(
            f"No layer named {name!r} in model '{self.name}'. Layers: {names}."
        )

    def _apply(self, fn, recurse=True):
        # torch's `.double()`, `.half()`, `.bfloat16()`, `.to(dtype)` convert the
        # weights in place; the layers then also compute in (and the inputs
        # take) that dtype, so the model runs as a torch user expects.
        dtypes = [(p, p.dtype) for p in self.parameters() if p.is_floating_point()]
        result = super()._apply(fn, recurse)
        changed = next((p.dtype for p, d in dtypes if p.dtype != d), None)
        if changed is not None and changed.is_floating_point:
            _take_float_dtype(self, backend.standardize_dtype(changed))
        # A trained model's optimizer slots follow their weights.
        optimizer = self.__dict__.get("optimizer")
        if getattr(optimizer, "built", False) and hasattr(
            optimizer, "_follow_variables"
        ):
            optimizer._follow_variables()
        return result

    def _build_on_first_call(self, args, kwargs):
        if type(self).build is Model.build:
            # Sub-layers build themselves as call() reaches them.
            from lamina import tree
            from lamina.layers._layer_calls import _shape_of

            self._build_shapes = (
                tree.map_structure(_shape_of, args[0]) if args else None
            )
            self.built = True
            return
        super()._build_on_first_call(args, kwargs)

    def build(self, input_shape=None):
        """Build a subclassed model for inputs of `input_shape` by tracing `call`
        on shape-only tensors, so `summary()` works before any data is seen."""
        if input_shape is None:
            raise ValueError(
                f"Model '{self.name}'.build() needs an input shape, e.g. "
                "model.build((None, 32))."
            )
        if not self._call_is_default:
            required = _required_call_inputs(self)
            if len(required) > 1:
                raise ValueError(
                    f"Model '{self.name}' ({type(self).__name__}): call() takes "
                    f"{len(required)} inputs ({', '.join(required)}), but build() "
                    f"got one input shape, {input_shape!r}. A .keras file written "
                    "by Keras records only the first input of such a model (Keras "
                    "then loads it unbuilt, without its weights). Build the model "
                    "by calling it on data, then use load_weights()."
                )
            self.compute_output_spec(specs_from_shapes(input_shape))
        self._build_shapes = input_shape
        self.built = True

    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ):
        """Print a table of the layers: name (type), output shape, parameters.

        Args:
            line_length: The table's width in characters. Defaults to Keras's
                (88, or 108 with a "Connected to" column, 12 more with
                `show_trainable`), at most the terminal's width less 4.
            positions: The columns' right edges as fractions of `line_length`,
                one per column (defaults `[0.45, 0.8, 1.0]`, or
                `[0.3, 0.56, 0.74, 1.0]` with "Connected to"; scaled by 0.9
                when `show_trainable` adds its column).
            print_fn: Called with each line instead of printing it.
            expand_nested: Whether to list the layers of nested models too.
            show_trainable: Whether to add a "Trainable" column: "Y" or "N"
                for a layer with weights, "-" for one without.
            layer_range: `(first, last)` layer names (inclusive) to list.

        Raises:
            ValueError: If a column would be narrower than 4 characters.
        """
        from lamina.utils.summary_utils import print_summary

        print_summary(
            self,
            line_length=line_length,
            positions=positions,
            print_fn=print_fn,
            expand_nested=expand_nested,
            show_trainable=show_trainable,
            layer_range=layer_range,
        )

    def get_config(self):
        return Layer.get_config(self)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # --- saving (lamina/saving) -------------------------------------------------

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save the whole model: architecture, weights, compile config and
        optimizer state, to a `.keras` file or, with a warning that the format
        is legacy, to an `.h5` / `.hdf5` file in Keras's legacy layout (see
        `lamina.saving.save_model`)."""
        from lamina.saving import saving_api

        saving_api.save_model(
            self, filepath, overwrite=overwrite, zipped=zipped, **kwargs
        )

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Save the weights (and optimizer state) to a `.weights.h5` file in
        Keras 3's layout; `max_shard_size` (GB) splits them over several files
        indexed by a `.weights.json`."""
        from lamina.saving import saving_api

        saving_api.save_weights(
            self, filepath, overwrite=overwrite, max_shard_size=max_shard_size
        )

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Load weights from `.weights.h5`, `.weights.json`, `.keras`, or a
        legacy Keras 2 `.h5` file (`by_name=True` matches layers by name)."""
        from lamina.saving import saving_api

        saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs) -> str:
        """The model's config as a JSON string (`json.dumps` kwargs accepted);
        `lamina.models.model_from_json` rebuilds it with fresh weights."""
        from lamina.saving import saving_api

        return saving_api.model_to_json(self, **kwargs)

    def to_yaml(self, **kwargs) -> str:
        """The model's config as YAML (needs PyYAML: `pip install "lamina[yaml]"`)."""
        from lamina.saving import saving_api

        return saving_api.model_to_yaml(self, **kwargs)

    def compile_from_config(self, config):
        """Compile the model from a `get_compile_config()` dict (used on load)."""
        from lamina.saving import saving_api

        saving_api.compile_from_config(self, config)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a model: a functional model's config (`layers`,
        `input_layers`, `output_layers`) as a graph, as Keras does for `Model`
        and for subclasses whose `__init__` takes `(*args, **kwargs)`; else a
        subclassed model as `cls(**config)`."""
        if _is_functional_config(config) and _revivable_as_functional(cls):
            from lamina.models.functional import Functional

            return Functional.from_config.__func__(cls, config, custom_objects)
        try:
            return cls(**config)
        except TypeError as error:
            raise TypeError(
                f"Could not rebuild model class {cls.__name__} from its config "
                f"(keys {sorted(config)}): {error}. A subclassed Model is saved "
                "and loaded whole only if get_config() returns its constructor "
                "arguments (merged with super().get_config()) and __init__ "
                "accepts them, plus **kwargs for name/trainable/dtype; define "
                "from_config() too if they need converting. Register the class "
                "with @lamina.saving.register_keras_serializable(), or pass it "
                "in custom_objects. Its weights can always be saved with "
                "save_weights() and loaded into a model built in code."
            ) from error

    def export(
        self, filepath, format="torch", verbose=None, input_signature=None, **kwargs
    ):
        """Export the model for inference: `format="torch"` writes a
        `torch.export` program (`.pt2`, load with `torch.export.load`),
        `format="onnx"` an ONNX file (needs `pip install "lamina[onnx]"`).
        Unknown input axes, the batch axis included, stay dynamic where the
        model allows. See `lamina.saving.export.export_model`."""
        from lamina.saving import export

        export.export_model(
            self,
            filepath,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )

    def get_quantization_layer_structure(self, mode=None):
        """The layers GPTQ calibration walks, for models that do not give
        them in `GPTQConfig(quantization_layer_structure=...)`.

        Override it to return `{"pre_block_layers": [...],
        "sequential_blocks": [...]}`: the calibration tokens go through the
        pre-block layers (an embedding, say), then each block in turn is
        calibrated and quantized and its outputs feed the next block.

        Args:
            mode: The quantization mode asking, e.g. `"gptq"`.

        Returns:
            The structure dict, or `None` (the default: no structure known).
        """
        del mode
        return None

    def quantize(self, mode=None, config=None, filters=None, **kwargs):
        """Quantize the weights of every layer that supports it (Dense,
        EinsumDense and Embedding implement `"int8"` and `"int4"`, Dense and
        EinsumDense also `"float8"`, `"gptq"` and `"awq"`), as Keras does.

        `"gptq"` and `"awq"` need a `lamina.quantizers.GPTQConfig` /
        `AWQConfig` holding the calibration data; the layers are then
        calibrated block by block along the config's
        `quantization_layer_structure` (or this model's
        `get_quantization_layer_structure(mode)`).

        Only layers without sub-layers are quantized; a layer whose `quantize`
        raises NotImplementedError (a subclass of Dense, say) is skipped with a
        warning. Compile again before training the quantized model.

        Args:
            mode: `"int8"`, `"int4"`, `"float8"`, `"gptq"` or `"awq"`;
                optional when `config` is given.
            config: A `lamina.quantizers.QuantizationConfig` of the mode
                (required for `"gptq"` and `"awq"`). Defaults to `None` (Keras's defaults
                for the mode).
            filters: Only quantize layers whose name matches this regex (or
                any of a list of regexes), or for which this callable returns
                True. Defaults to `None` (all layers).
            **kwargs: `type_check` (default `True`), passed to each layer.

        Raises:
            ValueError: for an unbuilt model, bad arguments, or `"gptq"` /
                `"awq"` without a structure, dataset or tokenizer.
        """
        from lamina.layers.core import _quantized

        _quantized.quantize_model(self, mode, config, filters, **kwargs)


def _is_functional_config(config):
    return isinstance(config, dict) and all(
        key in config for key in ("name", "layers", "input_layers", "output_layers")
    )


def _revivable_as_functional(cls):
    """Keras's rule: `Model` or `Functional` itself, or a class whose constructor
    takes a functional model's arguments (see `functional_like_constructor`)."""
    from lamina.models.functional import Functional

    if cls is Model or cls is Functional:
        return True
    # A Functional subclass with its own constructor (`__init__(self, **kwargs)`
    # building the graph itself) is rebuilt by calling it, as in Keras.
    return functional_like_constructor(cls)


def functional_like_constructor(cls):
    """Whether `cls.__init__` takes a functional model's arguments (`inputs,
    outputs, name` or `*args, **kwargs`), so that a graph config can rebuild it;
    Keras also writes only a plain layer config for classes that do not."""
    import inspect

    spec = inspect.getfullargspec(inspect.unwrap(cls.__init__))
    if spec.args[1:] in (
        ["inputs", "outputs", "name"],
        ["inputs", "outputs", "name", "trainable"],
    ):
        return True
    return spec.varargs is not None and spec.varkw is not None


def _functional_arguments(args, kwargs):
    return len(args) >= 2 or (
        "outputs" in kwargs and (len(args) == 1 or "inputs" in kwargs)
    )


def _inject_functional(cls):
    """Put `Functional` in place of `Model` among `cls`'s bases, as Keras does
    for a Model subclass built from inputs and outputs."""
    from lamina.models.functional import Functional

    if cls is Model:
        return Functional
    if cls is object or not issubclass(cls, Model):
        return cls
    cls.__bases__ = tuple(_inject_functional(base) for base in cls.__bases__)
    return cls


def _take_float_dtype(model, dtype):
    """After `model.to(dtype)`: each layer with a float dtype policy (and each
    float `Input`) takes `dtype`; integer inputs and policies stay as they are."""
    from lamina.backend.dtypes import is_float_dtype
    from lamina.layers.core.input_layer import InputLayer

    for module in model.modules():
        if isinstance(module, InputLayer):
            if is_float_dtype(module._dtype):
                module._dtype = dtype
                module.output._dtype = dtype
        elif isinstance(module, Layer) and is_float_dtype(module.compute_dtype):
            if module.quantization_mode is None:
                module.dtype_policy = dtype
    if hasattr(model, "_input_torch_dtypes"):  # a functional model's input casts
        from lamina.models.functional import _torch_dtype_or_none

        model._input_torch_dtypes = [
            _torch_dtype_or_none(t) for t in model._flat_inputs
        ]


def _required_call_inputs(model) -> list:
    """The names of `call`'s positional parameters without defaults (the
    inputs it cannot run without)."""
    import inspect

    try:
        parameters = inspect.signature(model.call).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is p.empty
        and p.name not in ("training", "mask")  # Keras fills these in
    ]
