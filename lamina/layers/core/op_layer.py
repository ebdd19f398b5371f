"""OpLayer: an `ops` call on symbolic tensors, recorded as a node of a functional graph.

`lamina.ops.add(x, 1.0)` with a KerasTensor `x` does not compute anything: it
returns a KerasTensor produced by an OpLayer wrapping `add`, so the op becomes part
of the model (as Keras's `Operation` does). Configs name it as Keras does
(`{"module": "keras.src.ops.numpy", "class_name": "Add"}`).
"""

import importlib
import inspect

import torch

from lamina import tree
from lamina.backend.keras_tensor import KerasTensor, any_symbolic
from lamina.backend.naming import to_snake_case, uniquify
from lamina.layers.core._keras_op_args import (
    KERAS_OP_CLASS_NAMES,
    KERAS_OP_CONFIG_ARGS,
)
from lamina.layers.layer import Layer
from lamina.ops import operation


def _camel_case(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# Activations Keras records as Operations of their own (their arguments in the
# op's config), not as the op of the same name: `activations.relu(x, max_value=1)`
# is `keras.src.activations.activations.ReLU`, while `ops.relu` takes no
# arguments.
_ACTIVATIONS_MODULE = "lamina.activations.activations"
_KERAS_ACTIVATION_OPS = {"relu": "ReLU"}


def _keras_module(fn) -> str:
    if getattr(fn, "__module__", None) == _ACTIVATIONS_MODULE:
        return "keras.src.activations.activations"
    parts = (getattr(fn, "__module__", "") or "").split(".")
    family = parts[2] if len(parts) > 2 and parts[:2] == ["lamina", "ops"] else "core"
    return f"keras.src.ops.{family}"


class OpLayer(Layer):
    """Wraps one `lamina.ops` function so a functional model can call it.

    Args:
        fn: The op (its undecorated implementation).
        name: Defaults to the op's name (`add`, `add_1`, ...).
    """

    # Keras's ops are not layers: they take masked tensors without a warning,
    # and compute in their inputs' dtypes, not a dtype policy's.
    _mask_drop_warned = True
    _eager_casts_inputs = False

    def __init__(self, fn, name=None, op_kwargs=None, **kwargs):
        super().__init__(name=name or uniquify(fn.__name__), **kwargs)
        self.fn = fn
        # Keras keeps an op's non-tensor arguments (`dtype` of Cast, `newshape`
        # of Reshape, ...) in the op's config rather than in the node: those
        # of a graph Keras wrote, passed to every call.
        self.op_kwargs = dict(op_kwargs or {})
        # A node's positional arguments skip the parameters the config holds
        # (Keras's `VectorizedMap(function)` is called with `elements` alone).
        self._node_arg_names = _node_arg_names(fn, self.op_kwargs)
        self.built = True

    def __call__(self, *args, **kwargs):
        if any_symbolic(args) or any_symbolic(kwargs):
            return self._symbolic_call(args, kwargs)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        if self._node_arg_names is not None:
            args, kwargs = self._bind_node_args(args, kwargs)
        try:
            return self.fn(*args, **self.op_kwargs, **kwargs)
        except (NotImplementedError, RuntimeError, ValueError) as error:
            # uint16/uint32 inputs torch has no kernel for: as the op itself
            # does when called eagerly (`operation._retry_unsigned`).
            return operation._retry_unsigned(
                self.fn, args, {**self.op_kwargs, **kwargs}, error
            )

    def _bind_node_args(self, args, kwargs):
        named = dict(zip(self._node_arg_names, args))
        return args[len(named) :], {**named, **kwargs}

    def compute_output_spec(self, *args, **kwargs):
        """As `Layer.compute_output_spec`; an op's own rule first, where it has
        one (`ops.operation.output_spec_rule`); string inputs are inferred from
        their shapes alone (see `_TEXT_STAND_IN`)."""
        rule = operation.output_spec_rule(self.fn)
        if rule is not None:
            rule_args, rule_kwargs = args, kwargs
            if self._node_arg_names is not None:
                rule_args, rule_kwargs = self._bind_node_args(args, kwargs)
            spec = rule(*rule_args, **self.op_kwargs, **rule_kwargs)
            if spec is not NotImplemented:
                return spec
        if not (_has_text(args) or _has_text(kwargs)):
            return super().compute_output_spec(*args, **kwargs)
        outputs = super().compute_output_spec(
            *tree.map_structure(_text_to_stand_in, args),
            **tree.map_structure(_text_to_stand_in, kwargs),
        )
        return tree.map_structure(_stand_in_to_text, outputs)

    def get_config(self):
        from lamina.saving.serialization_lib import serialize_keras_object

        return {
            "name": self.name,
            **{k: serialize_keras_object(v) for k, v in self.op_kwargs.items()},
        }

    @property
    def keras_class_name(self) -> str:
        name = self.fn.__name__
        if getattr(self.fn, "__module__", None) == _ACTIVATIONS_MODULE:
            return _KERAS_ACTIVATION_OPS.get(name) or _camel_case(name)
        return KERAS_OP_CLASS_NAMES.get(name) or _camel_case(name)

    @property
    def keras_module(self) -> str:
        return _keras_module(self.fn)

    def split_for_keras(self, args, kwargs):
        """`(config_args, args, kwargs)`: the non-tensor arguments Keras keeps
        in this op's config (see `_keras_op_args.py`), and what stays in the
        node."""
        names = KERAS_OP_CONFIG_ARGS.get(self.fn.__name__)
        if not names:
            return {}, list(args), dict(kwargs)
        try:
            bound = inspect.signature(self.fn).bind_partial(*args, **kwargs)
        except TypeError:
            return {}, list(args), dict(kwargs)
        moved = {}
        for name in names:
            if name in bound.arguments and not any_symbolic(bound.arguments[name]):
                moved[name] = bound.arguments.pop(name)
        return moved, list(bound.args), dict(bound.kwargs)

    def serialize(self) -> dict:
        return {
            "module": self.keras_module,
            "class_name": self.keras_class_name,
            "config": self.get_config(),
            "registered_name": self.keras_class_name,
        }

    @classmethod
    def from_keras_config(cls, config, custom_objects=None):
        """Rebuild from `{"class_name": "Add", "config": {"name": ...}}`
        (looked up in the op family its module names, e.g. `ops.image` for
        `keras.src.ops.image`, then in `lamina.ops`). Serialized objects among
        the op's arguments (the `function` of `vectorized_map`, ...) are
        deserialized: registered functions, or Python lambdas with safe mode
        off."""
        class_name = config["class_name"]
        op_name = _OP_NAMES_BY_CLASS.get(class_name) or to_snake_case(class_name)
        fn = None
        if (config.get("module") or "").startswith("keras.src.activations"):
            if class_name in _ACTIVATION_NAMES_BY_CLASS:
                activations = importlib.import_module(_ACTIVATIONS_MODULE)
                fn = getattr(activations, _ACTIVATION_NAMES_BY_CLASS[class_name])
        else:
            for module_name in _lamina_modules(config.get("module")):
                fn = getattr(importlib.import_module(module_name), op_name, None)
                if fn is not None and operation.is_op(fn):
                    break
                fn = None
        if fn is None:
            raise ValueError(
                f"The config uses the op {config['class_name']!r} "
                f"({config.get('module')}), which lamina.ops does not provide."
            )
        inner = {
            key: _deserialize_argument(value, custom_objects)
            for key, value in config["config"].items()
        }
        name = inner.pop("name", None)
        return cls(getattr(fn, "__wrapped__", fn), name=name, op_kwargs=inner)


def _deserialize_argument(value, custom_objects):
    """An op argument from a config: dicts with a `class_name` (functions,
    tensors, slices, ...) are deserialized, plain values kept as they are."""
    if isinstance(value, dict) and "class_name" in value:
        from lamina.saving.serialization_lib import deserialize_keras_object

        return deserialize_keras_object(
            value, custom_objects=custom_objects, kind="op argument"
        )
    if isinstance(value, list):
        return [_deserialize_argument(v, custom_objects) for v in value]
    if isinstance(value, dict):
        return {k: _deserialize_argument(v, custom_objects) for k, v in value.items()}
    return value


def _node_arg_names(fn, op_kwargs):
    """The positional parameters of `fn` left once `op_kwargs` are given, when
    one of those comes before another positional parameter (else None: the
    node's arguments fill the parameters in order)."""
    if not op_kwargs:
        return None
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    names = [
        p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    held = [i for i, name in enumerate(names) if name in op_kwargs]
    free = [name for name in names if name not in op_kwargs]
    if not held or not free or held[0] > names.index(free[-1]):
        return None
    return free


_OP_NAMES_BY_CLASS = {v: k for k, v in KERAS_OP_CLASS_NAMES.items()}
_ACTIVATION_NAMES_BY_CLASS = {v: k for k, v in _KERAS_ACTIVATION_OPS.items()}


def _lamina_modules(keras_module):
    """`lamina.ops.<family>` for `keras.src.ops.<family>` when lamina has such
    a submodule (image, linalg, nn, ...), then `lamina.ops`."""
    parts = (keras_module or "").split(".")
    family = (
        parts[3] if len(parts) > 3 and parts[:3] == ["keras", "src", "ops"] else None
    )
    names = ["lamina.ops"]
    if family and family not in ("numpy", "core"):
        try:
            importlib.import_module(f"lamina.ops.{family}")
            names.insert(0, f"lamina.ops.{family}")
        except ImportError:
            pass
    return names


# torch has no string tensors, so shape inference cannot run an op on text. As
# Keras infers such ops (expand_dims, reshape, concatenate, ...) from shapes
# alone, a string input stands in as a tensor of this dtype, and any output
# left in it is string again.
_TEXT_STAND_IN = "uint16"


def _has_text(structure) -> bool:
    return any(
        isinstance(t, KerasTensor) and t.dtype == "string"
        for t in tree.flatten(structure)
    )


def _text_to_stand_in(value):
    if isinstance(value, KerasTensor) and value.dtype == "string":
        return KerasTensor(value.shape, dtype=_TEXT_STAND_IN)
    return value


def _stand_in_to_text(value):
    if isinstance(value, KerasTensor) and value.dtype == _TEXT_STAND_IN:
        return KerasTensor(value.shape, dtype="string")
    return value


def _symbolic_op_handler(fn, args, kwargs):
    for value in args:
        if isinstance(value, KerasTensor):
            break
        if isinstance(value, (list, tuple, dict)) and any_symbolic(value):
            break
    else:
        if not kwargs or not any_symbolic(kwargs):
            return NotImplemented
    # A tensor computed eagerly while the graph is built (`emb(ops.arange(n))`
    # added to a KerasTensor) is a constant of the graph, as on Keras's
    # TensorFlow backend: detached, so each training step does not backpropagate
    # into the autograd graph of that one eager call a second time.
    args, kwargs = tree.map_structure(_as_constant, (args, kwargs))
    return OpLayer(fn)._symbolic_call(args, kwargs)


def _as_constant(value):
    if isinstance(value, torch.Tensor) and value.grad_fn is not None:
        return value.detach()
    return value


def is_op_config(config) -> bool:
    module = config.get("module") or ""
    return module.startswith(("keras.src.ops", "keras.ops", "keras.src.activations"))


operation.set_symbolic_handler(_symbolic_op_handler)
