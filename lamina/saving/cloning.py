"""clone_model: the same architecture with fresh weights."""

import warnings


def _clone_layer(layer):
    return layer.__class__.from_config(layer.get_config())


def clone_model(
    model,
    input_tensors=None,
    clone_function=None,
    call_function=None,
    recursive=False,
    **kwargs,
):
    """A new model with the same architecture and newly initialized weights.

    Sequential and functional models are rebuilt layer by layer, each layer
    from `clone_function(layer)` (by default `layer.__class__.from_config(
    layer.get_config())`, so custom layers need not be registered); a layer
    used twice is cloned once. Other models are rebuilt from their config. A
    compiled model's clone is compiled with the same settings (and a new
    optimizer).

    Args:
        model: A Sequential, functional, or subclassed model (the latter needs a
            `get_config()` that `from_config()` can rebuild it from).
        input_tensors: A KerasTensor (Sequential) or a structure of them like
            `model.input` (functional) to build the clone on, instead of new
            `Input`s.
        clone_function: `layer -> layer` for each layer (not the `Input`s);
            `lambda layer: layer` reuses the layers, weights included.
        call_function: Functional models only: `(layer, *args, **kwargs) ->
            outputs`, called in place of each layer call while the clone's
            graph is built (to insert layers, for example).
        recursive: Whether a Sequential or functional model used as a layer
            is itself cloned with `clone_function` applied to its layers;
            otherwise `clone_function` is applied to it as a whole.

    Returns:
        The new model.

    Raises:
        ValueError: For unexpected keyword arguments, `call_function` with a
            Sequential model, `clone_function`, `input_tensors` or
            `call_function` with a subclassed model, or input tensors that do
            not match the model's inputs.

    Example:
    >>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    >>> clone = lamina.saving.clone_model(model)
    >>> clone.output_shape, clone.layers[0] is model.layers[0]
    ((None, 2), False)
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(
            f"clone_model() got unexpected keyword arguments {sorted(kwargs)}."
        )
    from lamina.models.functional import Functional
    from lamina.models.sequential import Sequential

    if isinstance(model, (Sequential, Functional)):
        clone_function = _wrap_clone_function(
            clone_function, call_function, recursive, {} if cache is None else cache
        )
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "clone_model(call_function=...) works with functional models only: "
                "a Sequential model's layers are listed, not called, when it is "
                "built. Convert it to a functional model first."
            )
        return _compiled_like(
            model, _clone_sequential(model, clone_function, input_tensors)
        )
    if isinstance(model, Functional) and (
        type(model).get_config is Functional.get_config
        or clone_function is not None
        or input_tensors is not None
    ):
        clone = _clone_functional(model, clone_function, input_tensors, call_function)
        return _compiled_like(model, clone)
    if clone_function is not None or input_tensors is not None:
        raise ValueError(
            "clone_model(): clone_function and input_tensors work with Sequential "
            f"and functional models only; got a {type(model).__name__}. Clone it "
            "without them (it is rebuilt from its config)."
        )
    if call_function is not None:
        raise ValueError(
            "clone_model(call_function=...) works with functional models only; "
            f"got a {type(model).__name__}."
        )
    from lamina.saving.serialization_lib import (
        deserialize_keras_object,
        serialize_keras_object,
    )

    config = serialize_keras_object(model)
    config.pop("compile_config", None)
    return deserialize_keras_object(
        config, custom_objects={type(model).__name__: type(model)}, kind="model"
    )


def _wrap_clone_function(clone_function, call_function, recursive, cache):
    """`clone_function` that clones each layer once (shared layers stay shared)
    and, with `recursive`, clones nested Sequential/functional models layer by
    layer."""
    from lamina.models.functional import Functional
    from lamina.models.sequential import Sequential

    clone_function = clone_function or _clone_layer

    def wrapped(layer):
        if id(layer) in cache:
            return cache[id(layer)]
        if recursive and isinstance(layer, (Sequential, Functional)):
            clone = clone_model(
                layer,
                clone_function=clone_function,
                call_function=None if isinstance(layer, Sequential) else call_function,
                recursive=True,
                cache=cache,
            )
        else:
            clone = clone_function(layer)
        cache[id(layer)] = clone
        return clone

    return wrapped


def _compiled_like(model, clone):
    """Keras compiles the clone of a compiled model with the same settings."""
    if getattr(model, "compiled", False):
        try:
            clone.compile_from_config(model.get_compile_config())
        except Exception as error:  # noqa: BLE001 - e.g. an unregistered loss
            warnings.warn(
                f"clone_model(): the clone of '{model.name}' is not compiled: its "
                f"compile settings could not be rebuilt ({error}). Call compile() "
                "on it.",
                stacklevel=3,
            )
    return clone


def _clone_sequential(model, clone_function, input_tensors):
    from lamina.backend.keras_tensor import KerasTensor
    from lamina.layers.core.input_layer import Input
    from lamina.models.sequential import Sequential

    layers = [clone_function(layer) for layer in model.layers]
    reference = model._input_layer
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError(
                    "clone_model(): a Sequential model takes one input tensor; got "
                    f"{len(input_tensors)}."
                )
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, KerasTensor):
            raise ValueError(
                "clone_model(): input_tensors must be a KerasTensor (from "
                f"lamina.Input); got {type(input_tensors).__name__}."
            )
        layers = [input_tensors, *layers]
    elif reference is not None:
        start = Input(
            batch_shape=tuple(reference.batch_shape),
            dtype=reference.dtype,
            name=reference.name,
        )
        layers = [start, *layers]
    return Sequential(layers, name=model.name, trainable=model.trainable)


def _clone_functional(model, clone_function, input_tensors, call_function):
    """Replay `model`'s layer calls on new `Input`s (or `input_tensors`) with
    `clone_function(layer)` for each layer (op nodes, which hold no weights,
    are reused), through `call_function` if given."""
    from lamina import tree
    from lamina.backend.keras_tensor import KerasTensor
    from lamina.layers.core.input_layer import Input
    from lamina.layers.core.op_layer import OpLayer
    from lamina.models.functional import Functional, _fill
    from lamina.models.model import functional_like_constructor

    if input_tensors is None:
        flat_inputs = [
            Input(batch_shape=t.shape, dtype=t.dtype, name=t.name)
            for t in model._flat_inputs
        ]
        inputs = tree.pack_sequence_as(model._inputs_struct, flat_inputs)
    else:
        flat_inputs = tree.flatten(input_tensors)
        if not all(isinstance(t, KerasTensor) for t in flat_inputs):
            raise ValueError(
                "clone_model(): all entries in `input_tensors` must be "
                f"KerasTensors (from lamina.Input); got {input_tensors}."
            )
        # As in Keras, the structure must be model.input's (a model built on
        # `[x]` takes `[tensor]`, one built on `x` a tensor).
        try:
            tree.assert_same_structure(input_tensors, model._inputs_struct)
        except ValueError as error:
            raise ValueError(
                "clone_model(): `input_tensors` must have the same structure as "
                "model.input (the structure of the model's inputs: the same "
                "containers, lengths and dict keys).\n"
                f"Reference structure: {model.input}\n"
                f"Received structure: {input_tensors}"
            ) from error
        inputs = input_tensors
    values = dict(zip(map(id, model._flat_inputs), flat_inputs))
    for layer, _, _, args, kwargs, outputs in model._plan:
        new_layer = layer if isinstance(layer, OpLayer) else clone_function(layer)
        args, kwargs = _fill(args, values), _fill(kwargs, values)
        if call_function is None:
            result = new_layer(*args, **kwargs)
        else:
            result = call_function(new_layer, *args, **kwargs)
        for key, value in zip(outputs, tree.flatten(result)):
            values[key] = value
    outputs = tree.pack_sequence_as(
        model._outputs_struct, [values[id(t)] for t in model._flat_outputs]
    )
    if functional_like_constructor(type(model)):
        return type(model)(inputs, outputs, name=model.name)
    return Functional(inputs, outputs, name=model.name, trainable=model.trainable)
