"""Model configs in the legacy layout of `.h5` files and Keras 2 JSON, both ways.

Keras 2 (and Keras 3 when it writes `.h5`) describes each layer of a model as
`{"class_name": "Dense", "config": {...}}`, without the `module` and
`registered_name` keys of Keras 3's schema; Keras 2 also wrote functional
inbound nodes as lists (`[[["dense", 0, 0, {}]]]`), `batch_input_shape` for
input layers and a few arguments Keras 3 no longer takes.

`upgrade_model_config` rewrites such a config into Keras 3's schema, so that
lamina's one deserializer (`serialization_lib`) rebuilds it with its usual
rules: only lamina classes and registered or passed custom objects, and no
Python lambda with safe mode on. Nothing here resolves or imports anything; it
only moves data. `legacy_model_config` goes the other way for `.h5` files.
"""

import copy

# Model classes as legacy configs name them -> lamina's (Keras "keras" namespace).
_MODEL_CLASSES = {"Functional": "Functional", "Model": "Functional"}
_SEQUENTIAL = "Sequential"
# Arguments of Keras 2 Lambda layers that Keras 3 dropped.
_LAMBDA_OLD_ARGS = ("module", "function_type", "output_shape_module")
_MAX_DEPTH = 64


def _layer_names():
    from lamina import layers

    return set(layers.__all__)


def _is_op(class_name):
    from lamina import ops
    from lamina.backend.naming import to_snake_case
    from lamina.layers.core._keras_op_args import KERAS_OP_CLASS_NAMES
    from lamina.ops import operation

    by_class = {v: k for k, v in KERAS_OP_CLASS_NAMES.items()}
    name = by_class.get(class_name) or to_snake_case(class_name)
    fn = None if name.startswith("_") else getattr(ops, name, None)
    return fn is not None and operation.is_op(fn)


def _is_op_node(class_name, inner):
    # `x + 1.0` or `ops.add(x, y)` in a functional model is saved as an op
    # node named like a merge layer ("Add", "Concatenate"); an op's config has
    # no "trainable", which every layer's has (Keras 2's and 3's).
    return isinstance(inner, dict) and "trainable" not in inner and _is_op(class_name)


def upgrade_model_config(config, who="load_model()"):
    """A copy of `config` with its layers in Keras 3's schema.

    Args:
        config: `{"class_name": ..., "config": ...}` of a model, as a legacy
            `.h5` file or Keras 2's `to_json()` holds it (Keras 3 configs pass
            through unchanged).
        who: What to call the caller in error messages.

    Returns:
        The upgraded config (the argument is not changed).

    Raises:
        ValueError: If the config does not have the structure of a model.
    """
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(
            f"{who} expects the config of a model (an object with 'class_name' "
            f"and 'config'); got {type(config).__name__}."
        )
    return _upgrade_entry(copy.deepcopy(config), who, _layer_names(), 0)


def _upgrade_entry(entry, who, layer_names, depth):
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(
            f"{who}: Expected a dictionary containing a 'config' key. A layer "
            "config is an object with a string 'class_name' and a 'config'; got "
            f"{str(entry)[:120]!r}."
        )
    if depth > _MAX_DEPTH:
        raise ValueError(f"{who}: models are nested more than {_MAX_DEPTH} deep.")
    class_name = entry["class_name"]
    inner = entry.get("config")
    if "module" not in entry:
        entry.pop("__passive_serialization__", None)
        if class_name in _MODEL_CLASSES:
            entry.update(module="keras", class_name=_MODEL_CLASSES[class_name])
        elif class_name == _SEQUENTIAL:
            entry["module"] = "keras"
            if isinstance(inner, list):  # Keras 2.0: the layers list itself
                inner = {"name": None, "layers": inner}
        elif class_name in layer_names and not _is_op_node(class_name, inner):
            entry["module"] = "keras.layers"
        elif _is_op(class_name):
            # An op node of a functional model (Embedding(mask_zero=True) adds
            # a NotEqual): Keras 3's own `.h5` loader cannot rebuild these.
            entry["module"] = "keras.src.ops.numpy"
            entry["registered_name"] = class_name
        else:
            # A user class: found by name among registered and passed objects.
            entry["module"] = None
            entry["registered_name"] = class_name
        entry.setdefault("registered_name", None)
        if inner is None:
            inner = {}
        if not isinstance(inner, dict):
            raise ValueError(
                f"{who}: the config of layer class {class_name!r} must be an "
                f"object; got {type(inner).__name__}."
            )
        _upgrade_arguments(entry["class_name"], inner)
        if isinstance(entry.get("inbound_nodes"), list):
            entry["inbound_nodes"] = [
                _upgrade_node(node, who) for node in entry["inbound_nodes"]
            ]
        entry["config"] = inner
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        inner["layers"] = [
            _upgrade_entry(layer, who, layer_names, depth + 1)
            for layer in inner["layers"]
        ]
    return entry


def _upgrade_arguments(class_name, inner):
    """Keras 2 arguments -> Keras 3 ones, in place (as Keras 3's `.h5` loader
    does, and for a few arguments Keras 3 refuses although they mean nothing)."""
    shape = inner.pop("batch_input_shape", None)
    if shape is not None:
        key = "batch_shape" if class_name == "InputLayer" else "batch_input_shape"
        inner[key] = shape
    axis = inner.get("axis")
    if isinstance(axis, list) and len(axis) == 1:
        inner["axis"] = axis[0]
    dtype = inner.get("dtype")
    if isinstance(dtype, dict) and dtype.get("class_name") == "Policy":
        # tf.keras 2 mixed-precision policies: the policy's name is enough.
        policy = dtype.get("config")
        if isinstance(policy, dict) and isinstance(policy.get("name"), str):
            inner["dtype"] = policy["name"]
    if inner.get("time_major") is False:  # tf.keras 2 RNNs; always False there
        del inner["time_major"]
    if class_name == "Embedding":
        inner.pop("input_length", None)  # unused since Keras 3 (it only warns)
    if class_name == "Lambda":
        function_type = inner.get("function_type")
        output_shape_type = inner.pop("output_shape_type", None)
        for key in _LAMBDA_OLD_ARGS:
            inner.pop(key, None)
        if function_type in (None, "lambda") and isinstance(
            inner.get("function"), list
        ):
            inner["function"] = _lambda_entry(inner["function"])
        if output_shape_type == "lambda" and isinstance(
            inner.get("output_shape"), list
        ):
            inner["output_shape"] = _lambda_entry(inner["output_shape"])


def _lambda_entry(parts):
    """Keras 2's `[code, defaults, closure]` as Keras 3's `__lambda__` entry
    (decoded only with safe mode off, by `serialization_lib`)."""
    parts = list(parts) + [None] * (3 - len(parts))
    return {
        "class_name": "__lambda__",
        "config": {"code": parts[0], "defaults": parts[1], "closure": parts[2]},
    }


def _upgrade_node(node, who):
    """A Keras 2 node `[[layer, node_index, tensor_index, kwargs], ...]` -> Keras 3's
    `{"args": [...], "kwargs": {...}}`; Keras 3 nodes are returned as they are."""
    if isinstance(node, dict):
        return node
    if not isinstance(node, list) or not node:
        raise ValueError(
            f"{who}: expected an inbound node (a list of [layer_name, node_index, "
            f"tensor_index, kwargs]); got {str(node)[:120]!r}."
        )
    tensors, kwargs = [], {}
    for item in node:
        if (
            not isinstance(item, list)
            or len(item) not in (3, 4)
            or not isinstance(item[0], str)
            or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in item[1:3]
            )
            or (len(item) == 4 and not isinstance(item[3], dict))
        ):
            raise ValueError(
                f"{who}: expected an inbound tensor [layer_name, node_index, "
                f"tensor_index, kwargs]; got {str(item)[:120]!r}."
            )
        tensors.append(
            {
                "class_name": "__keras_tensor__",
                "config": {"shape": None, "dtype": None, "keras_history": item[:3]},
            }
        )
        if len(item) == 4:
            kwargs = item[3]  # Keras keeps the last tensor's kwargs
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


# --- writing -----------------------------------------------------------------


def legacy_model_config(model):
    """`{"class_name", "config"}` of `model` as Keras 3 writes it into `.h5`
    files: the layers of (nested) models without `module`, `registered_name`
    and build/compile configs; user classes under their registered name."""
    from lamina.saving import serialization_lib

    entry = serialization_lib.serialize_keras_object(model)
    result = _legacy_entry(entry)
    result.pop("name", None)
    result.pop("inbound_nodes", None)
    return result


def _legacy_entry(entry):
    result = {"class_name": entry.get("registered_name") or entry["class_name"]}
    inner = entry.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        inner = {
            **inner,
            "layers": [
                _legacy_entry(layer) if isinstance(layer, dict) else layer
                for layer in inner["layers"]
            ],
        }
    result["config"] = inner
    for key in ("name", "inbound_nodes"):
        if key in entry:
            result[key] = entry[key]
    return result
