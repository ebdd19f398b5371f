"""clone_model: the same architecture with fresh weights."""


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

    Args:
        model: A Sequential, functional, or subclassed model (the latter needs a
            `get_config()` that `from_config()` can rebuild it from).
        input_tensors: Sequential only: an `Input(...)` tensor to start the clone
            from instead of the original input shape.
        clone_function: Sequential only: `layer -> new layer` applied to each
            layer. Defaults to rebuilding each layer from its config.
        call_function: Not supported (Keras uses it to re-wire functional
            graphs).
        recursive: Accepted for compatibility; nested models are always
            rebuilt from their configs.

    Example:
    >>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    >>> clone = lamina.saving.clone_model(model)
    >>> clone.output_shape, clone.layers[0] is model.layers[0]
    ((None, 2), False)
    """
    del recursive
    if kwargs:
        raise TypeError(
            f"clone_model() got unexpected keyword arguments {sorted(kwargs)}."
        )
    if call_function is not None:
        raise NotImplementedError(
            "clone_model(call_function=...) is not supported by lamina; clone the "
            "model, then call its layers yourself to build a new functional model."
        )
    from lamina.models.sequential import Sequential
    from lamina.saving.serialization_lib import (
        deserialize_keras_object,
        serialize_keras_object,
    )

    if isinstance(model, Sequential):
        clone_function = clone_function or _clone_layer
        layers = [clone_function(layer) for layer in model.layers]
        if input_tensors is not None:
            layers = [input_tensors, *layers]
        elif model._input_layer is not None:
            from lamina.layers.core.input_layer import Input

            layers = [
                Input(
                    batch_shape=tuple(model._input_layer.batch_shape),
                    dtype=model._input_layer.dtype,
                ),
                *layers,
            ]
        return Sequential(layers, name=model.name, trainable=model.trainable)
    if clone_function is not None or input_tensors is not None:
        raise ValueError(
            "clone_model(): clone_function and input_tensors are supported for "
            f"Sequential models only; got a {type(model).__name__}. Clone it "
            "without them (the clone is rebuilt from its config)."
        )
    from lamina.models.functional import Functional
    from lamina.models.model import functional_like_constructor

    if (
        isinstance(model, Functional)
        and not functional_like_constructor(type(model))
        and type(model).get_config is Functional.get_config
    ):
        # Keras: a Functional subclass that builds its graph in its own
        # __init__ (and keeps the default get_config) is cloned as a plain
        # Functional of the same graph, with new layers.
        return _clone_graph(model)
    config = serialize_keras_object(model)
    config.pop("compile_config", None)
    return deserialize_keras_object(
        config, custom_objects={type(model).__name__: type(model)}, kind="model"
    )


def _clone_graph(model):
    """A plain `Functional` replaying `model`'s layer calls on new `Input`s with
    a fresh copy of each layer (a shared layer stays shared; op nodes, which
    hold no weights, are reused)."""
    from lamina import tree
    from lamina.layers.core.input_layer import Input
    from lamina.layers.core.op_layer import OpLayer
    from lamina.models.functional import Functional, _fill

    values = {
        id(tensor): Input(batch_shape=tensor.shape, dtype=tensor.dtype)
        for tensor in model._flat_inputs
    }
    clones = {}
    for layer, _, _, args, kwargs, outputs in model._plan:
        if isinstance(layer, OpLayer):
            new_layer = layer
        else:
            new_layer = clones.get(id(layer)) or _clone_layer(layer)
            clones[id(layer)] = new_layer
        result = new_layer(*_fill(args, values), **_fill(kwargs, values))
        for key, value in zip(outputs, tree.flatten(result)):
            values[key] = value
    inputs = tree.pack_sequence_as(
        model._inputs_struct, [values[id(t)] for t in model._flat_inputs]
    )
    outputs = tree.pack_sequence_as(
        model._outputs_struct, [values[id(t)] for t in model._flat_outputs]
    )
    return Functional(inputs, outputs, name=model.name, trainable=model.trainable)
