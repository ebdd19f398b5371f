"""Operation (a user-defined op) and Function (a reusable graph of ops).

Both are nodes a functional graph can hold. An `Operation` records itself as a
graph node when called on KerasTensors, exactly as a built-in `lamina.ops`
function does (see `layers/core/op_layer.py`), so a functional model runs it
and, as in Keras, does not list it among `model.layers`. A `Function` reuses
the functional model's graph (`models/functional.py`) to replay a graph of
layer and op calls on new inputs.

They live here, not in `ops/operation.py`: that module is imported by every op
before the layers exist, and `Operation` is built on the layer machinery.
"""

import inspect

import numpy as np

from lamina import tree
from lamina.backend.keras_tensor import KerasTensor, any_symbolic
from lamina.backend.naming import to_snake_case, uniquify
from lamina.layers.core.op_layer import OpLayer

_AUTO_CONFIG_TYPES = (str, int, float, bool, type(None))


class Operation(OpLayer):
    """Base class of user-defined operations, as `keras.Operation`.

    Subclass it and implement `call(*args, **kwargs)` with torch or
    `lamina.ops`; implement `compute_output_spec` when the output's shape and
    dtype cannot be found by running `call` on shape-only tensors. Called on
    tensors, an operation computes; called on KerasTensors (`lamina.Input`), it
    adds a node to the graph and returns KerasTensors, so it can be used in a
    functional model.

    Args:
        name: Name of the operation. Defaults to the snake_case class name
            made unique (`my_op`, `my_op_1`, ...).

    Raises:
        ValueError: If `name` is not a string or contains `/`.

    Example:
    >>> class Double(lamina.Operation):
    ...     def call(self, x):
    ...         return x * 2
    >>> Double()(lamina.ops.ones((2,))).tolist()
    [2.0, 2.0]
    >>> Double()(lamina.Input((3,))).shape
    (None, 3)
    """

    def __init__(self, name=None):
        if name is None:
            name = uniquify(to_snake_case(type(self).__name__))
        if not isinstance(name, str) or "/" in name:
            raise ValueError(
                f"{type(self).__name__} expects `name` to be a string without "
                f"'/' (a name must be a string and cannot contain character `/`); "
                f"got name={name!r}."
            )
        OpLayer.__init__(self, type(self).call, name=name)

    def __call__(self, *args, **kwargs):
        if any_symbolic(args) or any_symbolic(kwargs):
            return self.symbolic_call(*args, **kwargs)
        # `forward` is `call`, or its rematerializing wrapper under a RematScope.
        return self.forward(*args, **kwargs)

    def symbolic_call(self, *args, **kwargs):
        """Infer the outputs for KerasTensor arguments and record the call as
        a node of the graph. Returns the output KerasTensors."""
        return self._symbolic_call(args, kwargs)

    def call(self, *args, **kwargs):
        """The computation, on tensors. Subclasses implement it."""
        raise NotImplementedError(
            f"Operation '{self.name}' ({type(self).__name__}) has no call() "
            "method. Subclasses of Operation must implement call()."
        )

    def rematerialized_call(self, fn, *args, **kwargs):
        """`fn` wrapped for the `RematScope` this operation was created in
        (Keras names the argument `fn` here, `layer_call` on layers)."""
        return super().rematerialized_call(fn, *args, **kwargs)

    def get_config(self) -> dict:
        """`{"name": ...}`, and, when the subclass does not define its own
        `get_config`, the constructor's arguments, provided they are all plain
        values (str, int, float, bool, None, or lists and dicts of them).

        Raises:
            NotImplementedError: If the subclass has no `get_config` and its
                constructor got arguments that cannot be saved as plain values.
        """
        config = {"name": self.name}
        if type(self).get_config is not Operation.get_config:
            return config  # the subclass adds its own entries
        if type(self).__init__ is Operation.__init__:
            return config
        args, kwargs = self._constructor_args
        signature = inspect.signature(type(self).__init__)
        try:
            bound = signature.bind(None, *args, **kwargs)
        except TypeError:
            bound = None
        if bound is not None:
            bound.apply_defaults()
            values = dict(bound.arguments)
            params = list(signature.parameters.values())
            values.pop(params[0].name)
            for param in params[1:]:
                if param.kind is inspect.Parameter.VAR_KEYWORD:
                    values.update(values.pop(param.name, {}))
                elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                    if values.pop(param.name, ()):
                        bound = None
            values.pop("name", None)
        if bound is None or not all(
            isinstance(v, _AUTO_CONFIG_TYPES) for v in tree.flatten(values)
        ):
            raise NotImplementedError(
                f"Operation {type(self).__name__} was created with arguments that "
                "are not plain values (or positional *args), so it cannot "
                "describe itself automatically. Implement get_config() returning "
                "its constructor arguments (and from_config() if needed)."
            )
        config.update(values)
        takes_name = any(
            p.name == "name" or p.kind is inspect.Parameter.VAR_KEYWORD
            for p in signature.parameters.values()
        )
        if not takes_name:
            config.pop("name")
        return config

    @classmethod
    def from_config(cls, config):
        """Create the operation from a `get_config()` dict.

        Raises:
            TypeError: If the constructor rejects the config.
        """
        try:
            return cls(**config)
        except Exception as error:
            raise TypeError(
                f"Could not create {cls.__name__} from config={config!r}: {error}"
            ) from error

    # OpLayer describes built-in ops by their Keras op names; a user operation
    # is described like any other object (module, class name, config).
    @property
    def keras_class_name(self) -> str:
        return type(self).__name__

    @property
    def keras_module(self) -> str:
        return type(self).__module__

    def serialize(self) -> dict:
        from lamina.saving import serialization_lib

        return serialization_lib.serialize_keras_object(self)

    def split_for_keras(self, args, kwargs):
        return {}, list(args), dict(kwargs)

    def __repr__(self):
        return f"<Operation name={self.name}>"


class Function(Operation):
    """A graph of layer and op calls on KerasTensors, callable on new inputs.

    Like a functional model without the model API (no training, no weights
    of its own to save): capture how `outputs` are computed from `inputs`,
    then apply the same computation to tensors, or to other KerasTensors.

    Args:
        inputs: A KerasTensor (from `lamina.Input` or `lamina.KerasTensor`),
            or a list or dict of them.
        outputs: KerasTensors computed from `inputs` (a tensor, list or dict).
        name: Defaults to `function`, `function_1`, ...

    Raises:
        ValueError: If `inputs` or `outputs` is empty, or the outputs cannot
            be computed from the inputs alone.

    Example:
    >>> a = lamina.KerasTensor((None, 2))
    >>> b = lamina.KerasTensor((None, 2))
    >>> fn = lamina.Function([a, b], lamina.ops.sigmoid(a + b))
    >>> fn([lamina.ops.zeros((1, 2)), lamina.ops.zeros((1, 2))]).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, inputs, outputs, name=None):
        from lamina.layers.core.input_layer import InputLayer
        from lamina.models.functional import Functional

        super().__init__(name=name)
        flat_inputs, flat_outputs = tree.flatten(inputs), tree.flatten(outputs)
        for what, flat, given in (
            ("inputs", flat_inputs, inputs),
            ("outputs", flat_outputs, outputs),
        ):
            if not flat:
                raise ValueError(
                    f"`{what}` argument cannot be empty: Function expects at least "
                    f"one KerasTensor in `{what}`; got {what}={given!r}."
                )
            for tensor in flat:
                if not isinstance(tensor, KerasTensor):
                    raise ValueError(
                        f"Function expects `{what}` made of KerasTensors; got "
                        f"{type(tensor).__name__} {tensor!r}."
                    )
        # A bare KerasTensor (not from lamina.Input) gets an InputLayer as its
        # origin, so the functional graph walk knows where the graph starts.
        self._made_inputs = []
        for tensor in flat_inputs:
            if tensor._keras_history is None:
                self._made_inputs.append(
                    InputLayer(
                        batch_shape=tensor.shape,
                        dtype=tensor.dtype,
                        input_tensor=tensor,
                    )
                )
        graph = Functional(inputs, outputs, name=self.name)
        # Not registered as a sub-module: a Function holds no state of its own.
        self.__dict__["_graph"] = graph
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._inputs = flat_inputs
        self._outputs = flat_outputs

    @property
    def inputs(self) -> list:
        """The flat list of the symbolic inputs."""
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        """The flat list of the symbolic outputs."""
        return list(self._outputs)

    @property
    def operations(self) -> list:
        """The layers and operations of the graph, in the order they run."""
        made = {id(layer) for layer in self._made_inputs}
        return [op for op in self._graph._operations if id(op) not in made]

    def __call__(self, inputs):
        return super().__call__(inputs)

    def call(self, inputs):
        """Run the graph on `inputs` (structured as the `inputs` given at
        construction) and return the outputs, structured as `outputs`."""
        try:
            tree.assert_same_structure(inputs, self._inputs_struct)
        except (ValueError, TypeError):
            raise ValueError(
                f"Function '{self.name}' was called with an invalid input "
                f"structure: it expects inputs structured as "
                f"{self._inputs_struct!r}; got {_structure(inputs)}."
            ) from None
        for value, ref in zip(tree.flatten(inputs), self._inputs):
            shape = tuple(value.shape if hasattr(value, "shape") else np.shape(value))
            if len(shape) != len(ref.shape) or any(
                r is not None and d != r for d, r in zip(shape, ref.shape)
            ):
                raise ValueError(
                    f"Function '{self.name}' was called with incompatible inputs: "
                    f"an input expects shape {ref.shape}; got a tensor of shape "
                    f"{shape}."
                )
        if isinstance(self._inputs_struct, dict):
            result = self._graph.call(inputs)  # by key, not by position
        else:
            flat = tree.flatten(inputs)
            result = self._graph.call(flat if len(flat) > 1 else flat[0])
        return tree.pack_sequence_as(self._outputs_struct, tree.flatten(result))

    def compute_output_spec(self, inputs):
        flat = tree.flatten(inputs)
        if all(
            isinstance(x, KerasTensor) and x.shape == ref.shape
            for x, ref in zip(flat, self._inputs)
        ):
            return tree.map_structure(
                lambda t: KerasTensor(t.shape, dtype=t.dtype), self._outputs_struct
            )
        return super().compute_output_spec(inputs)

    def get_config(self):
        raise NotImplementedError(
            f"Function '{self.name}' cannot be serialized; save a functional "
            "model (lamina.Model(inputs, outputs)) instead."
        )


def _structure(value):
    """`value`'s nesting with each leaf shown by its type (data stays out of
    error messages)."""
    return repr(tree.map_structure(lambda x: type(x).__name__, value))
