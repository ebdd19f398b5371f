"""Lambda: any function of tensors, used as a layer."""

import inspect
import types

import torch

from lamina import tree
from lamina.backend import shape_inference
from lamina.backend.keras_tensor import KerasTensor, is_shape, specs_from_shapes
from lamina.layers.layer import Layer
from lamina.saving import object_registration, serialization_lib

_UNSAFE_LAMBDA = (
    "Refusing to load the Lambda layer {name!r}: its `{arg}` is a Python lambda "
    "stored as bytecode, and loading it would run code taken from the file (a "
    "risk of arbitrary code execution). If "
    "you trust the file, load it with safe_mode=False (load_model(path, "
    "safe_mode=False), or inside lamina.saving.SafeModeScope(False)). Better: "
    "replace the lambda by a named function registered with "
    "@lamina.saving.register_keras_serializable(), or by a Layer subclass."
)


class Lambda(Layer):
    """Wraps a function of tensors as a layer, e.g. `Lambda(lambda x: x ** 2)`.

    Handy for small steps inside Sequential and functional models; prefer a
    `Layer` subclass for anything with weights or worth reusing. A Python
    lambda is saved as bytecode, which only loads with `safe_mode=False` and
    in the same Python version; a named function is saved by name and loads
    when it is registered, importable from its module, or given in
    `custom_objects`.

    Args:
        function: Called as `function(inputs, **arguments)`; it also receives
            `mask=` and `training=` if it takes arguments of those names.
        output_shape: The output shape without the batch axis (a tuple, or a
            list/dict of tuples for several outputs; the batch size is the
            input's), or a function of the full input shape returning the full
            output shape. Defaults to `None`: inferred by running `function`
            on shape-only tensors.
        mask: `None` (no mask), a function `mask(inputs, previous_mask)`, or a
            tensor returned as the output mask whatever the input. Defaults to
            `None`.
        arguments: Extra keyword arguments for `function`. Defaults to `None`.

    Input and output shapes are whatever `function` takes and returns.

    Example:
    >>> layer = lamina.layers.Lambda(lambda x: x * 2.0)
    >>> layer(np.array([[1.0, 2.0]], "float32")).tolist()
    [[2.0, 4.0]]
    """

    def __init__(
        self, function, output_shape=None, mask=None, arguments=None, **kwargs
    ):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                "Lambda expects `function` to be callable (a function of the "
                f"inputs); got {type(function).__name__}: {function!r:.100}."
            )
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(
                "Lambda expects `arguments` to be a dict of keyword arguments for "
                f"the function; got {type(arguments).__name__}."
            )
        self.arguments = dict(arguments or {})
        self.function = function
        self.supports_masking = mask is not None
        self.mask = mask
        self._output_shape = output_shape
        parameters = _parameter_names(function)
        self._fn_expects_training_arg = "training" in parameters
        self._fn_expects_mask_arg = "mask" in parameters
        self.built = True

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_spec(self, *args, **kwargs):
        if self._output_shape is None:

            def _run(*a, **k):
                # As an eager call: a floating input in the compute dtype.
                if a and isinstance(a[0], torch.Tensor):
                    a = (self._first_input_as_tensors(a[0]),) + a[1:]
                return self.call(*a, **k)

            return shape_inference.compute_output_spec(_run, *args, **kwargs)
        shapes = tree.map_structure(
            lambda t: t.shape if isinstance(t, KerasTensor) else t, args[0]
        )
        return specs_from_shapes(
            self.compute_output_shape(shapes), dtype=self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            try:
                spec = self.compute_output_spec(specs_from_shapes(input_shape))
            except Exception as error:
                raise NotImplementedError(
                    f"Lambda layer '{self.name}' could not infer its output shape "
                    f"for input shape {input_shape} ({error}). Pass "
                    "output_shape=... (without the batch axis) to the Lambda."
                ) from error
            return tree.map_structure(lambda t: tuple(t.shape), spec)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        # Keras: a given shape leaves out the batch axis, taken from the input.
        batch_size = tree.flatten(input_shape)[0] if input_shape else None
        return _add_batch(self._output_shape, batch_size)

    def get_config(self):
        config = {"function": self._serialize_function(self.function, "function")}
        if self._output_shape is not None:
            if callable(self._output_shape):
                config["output_shape"] = self._serialize_function(
                    self._output_shape, "output_shape"
                )
            else:
                config["output_shape"] = serialization_lib.serialize_keras_object(
                    self._output_shape
                )
        if self.mask is not None:
            if callable(self.mask):
                config["mask"] = self._serialize_function(self.mask, "mask")
            else:
                config["mask"] = serialization_lib.serialize_keras_object(self.mask)
        config["arguments"] = serialization_lib.serialize_keras_object(self.arguments)
        return {**super().get_config(), **config}

    def _serialize_function(self, fn, arg):
        if _saved_as_code(fn):
            code, defaults, closure = serialization_lib.dump_function(fn)
            # Keras's Lambda layout (not serialization_lib's {"value": [...]}).
            return {
                "class_name": "__lambda__",
                "config": {"code": code, "defaults": defaults, "closure": closure},
            }
        if isinstance(fn, (types.FunctionType, types.BuiltinFunctionType)) or (
            hasattr(fn, "get_config")
        ):
            return serialization_lib.serialize_keras_object(fn)
        raise TypeError(
            f"Lambda layer '{self.name}' cannot save its `{arg}` {fn!r:.100}: it "
            "is neither a function nor an object with get_config()."
        )

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        # Safe unless safe mode was turned off explicitly, here or by an
        # enclosing SafeModeScope (load_model(..., safe_mode=False)).
        if safe_mode is None:
            safe_mode = serialization_lib.in_safe_mode()
        safe_mode = safe_mode is not False
        config = dict(config)
        name = config.get("name", "lambda")
        for arg in ("function", "output_shape", "mask"):
            if arg not in config:
                continue
            value = config[arg]
            if serialization_lib.is_python_lambda_config(value):
                if safe_mode:
                    raise ValueError(_UNSAFE_LAMBDA.format(name=name, arg=arg))
                with object_registration.CustomObjectScope(custom_objects or {}):
                    config[arg] = serialization_lib.load_lambda_config(
                        value.get("config"), kind=f"Lambda `{arg}`"
                    )
                continue
            value = serialization_lib.deserialize_keras_object(
                value,
                custom_objects=custom_objects,
                safe_mode=safe_mode,
                kind="function" if arg == "function" else f"Lambda {arg}",
            )
            if arg == "output_shape":
                value = _as_shape_structure(value)
            config[arg] = value
        if "arguments" in config:
            config["arguments"] = serialization_lib.deserialize_keras_object(
                config["arguments"],
                custom_objects=custom_objects,
                safe_mode=safe_mode,
                kind="Lambda argument",
            )
        return cls(**config)


def _parameter_names(function):
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()  # some builtins have no signature: pass them nothing extra


def _saved_as_code(fn) -> bool:
    """A Python lambda has no name to be found by when loading, so (unless
    registered) it is saved as bytecode. A named function, even one defined
    inside another function, is saved by name, as Keras does: loading it
    takes `custom_objects={name: fn}`."""
    if not isinstance(fn, types.FunctionType):
        return False
    if fn in object_registration._GLOBAL_CUSTOM_NAMES:
        return False
    return fn.__name__ == "<lambda>"


def _add_batch(shape, batch_size):
    if isinstance(shape, dict):
        return {k: _add_batch(v, batch_size) for k, v in shape.items()}
    if is_shape(shape):
        return (batch_size,) + tuple(shape)
    return [_add_batch(s, batch_size) for s in shape]


def _as_shape_structure(value):
    # JSON turns tuples into lists; shapes are tuples again.
    if isinstance(value, list) and all(isinstance(v, (int, type(None))) for v in value):
        return tuple(value)
    if isinstance(value, list):
        return [_as_shape_structure(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_shape_structure(v) for k, v in value.items()}
    return value
