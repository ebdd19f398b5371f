"""Whole models in legacy `.h5` files, as Keras 3 (and Keras 2) write them.

The file's root attributes hold `keras_version`, `backend`, the architecture
(`model_config`, JSON) and, for a compiled model, how it was compiled
(`training_config`, JSON); the group `model_weights` holds the weights in the
legacy layout (see `legacy_h5`), and `optimizer_weights` the optimizer's
variables in the order of `optimizer.variables`.

Loading treats the file as untrusted data, unlike Keras's legacy loader: the
HDF5 structure is checked first (only groups and numeric datasets, no links),
and the architecture is rebuilt by lamina's deserializer after
`legacy_config.upgrade_model_config`: only lamina classes and registered or
passed custom objects, and no Python lambda unless `safe_mode=False`.
"""

import json
import os
import warnings

import numpy as np

from lamina._lazy_modules import h5py
from lamina.saving import file_utils, keras_file, legacy_config, legacy_h5
from lamina.saving.h5_store import (
    check_h5_file,
    h5_errors,
    open_h5_for_reading,
    read_dataset,
    to_numpy,
)

# HDF5 keeps attributes in the object header (64 KiB); Keras splits string lists
# that would not fit into `name0`, `name1`, ... (see `legacy_h5._attribute_list`).
_HEADER_LIMIT = 64512
_LEGACY_WARNING = (
    "Saving model '{name}' to {path!r} in the legacy HDF5 (`.h5`) format, which "
    "Keras keeps only for old tools. The native format is preferred: "
    "model.save('my_model.keras')."
)
_LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
}
# Keys tf.keras 2.11+ wrote into optimizer configs that mean nothing in Keras 3.
_OLD_OPTIMIZER_KEYS = ("is_legacy_optimizer", "jit_compile")


# --- saving ------------------------------------------------------------------


def save_model(model, filepath, overwrite=True, include_optimizer=True) -> None:
    """Write `model` to a legacy `.h5` file (atomically), as Keras 3.15 does.

    Args:
        model: A lamina model (Sequential, functional, or a subclass with
            `get_config`).
        filepath: The path of the `.h5` / `.hdf5` file.
        overwrite: Replace an existing file. Defaults to `True`.
        include_optimizer: Also write the compile configuration and the
            optimizer's variables. Defaults to `True`.
    """
    filepath = os.fspath(filepath)
    file_utils.check_overwrite(filepath, overwrite, "save_model()")
    warnings.warn(_LEGACY_WARNING.format(name=model.name, path=filepath), stacklevel=4)
    config = legacy_config.legacy_model_config(model)
    training_config = _training_config(model) if include_optimizer else None
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)  # Keras creates the folder too
    with file_utils.atomic_write(filepath) as tmp_path:
        with h5py.File(tmp_path, "w") as h5_file:
            h5_file.attrs["keras_version"] = keras_file.KERAS_FORMAT_VERSION
            h5_file.attrs["backend"] = "torch"
            h5_file.attrs["model_config"] = json.dumps(config).encode("utf8")
            if training_config is not None:
                h5_file.attrs["training_config"] = json.dumps(training_config).encode(
                    "utf8"
                )
            _write_model_weights(h5_file.create_group("model_weights"), model)
            optimizer = getattr(model, "optimizer", None)
            if training_config is not None and optimizer is not None:
                _write_optimizer_weights(h5_file, optimizer)


def _training_config(model):
    """Keras's `training_config`: the compile arguments with the optimizer moved
    to `optimizer_config` (class name and config, no module); None if the
    model is not compiled."""
    optimizer = getattr(model, "optimizer", None)
    compile_config = model.get_compile_config() if optimizer is not None else None
    if not compile_config:
        return None
    config = {k: _legacy_value(v) for k, v in compile_config.items()}
    config.pop("optimizer", None)
    config["loss"] = _full_loss_names(config.get("loss"))
    optimizer_entry = compile_config.get("optimizer")
    if isinstance(optimizer_entry, dict):
        optimizer_config = {
            "class_name": optimizer_entry.get("registered_name")
            or optimizer_entry["class_name"],
            "config": optimizer_entry.get("config"),
        }
    else:
        optimizer_config = {
            "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(),
        }
    config["optimizer_config"] = optimizer_config
    return config


def _full_loss_names(value):
    """Loss aliases under their full names: Keras 3.15's `.h5` loader cannot
    read `"mse"` as a loss (it finds the metric), but reads
    `"mean_squared_error"`, the same function."""
    if isinstance(value, str):
        return _LOSS_ALIASES.get(value, value)
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _full_loss_names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_full_loss_names(v) for v in value]
    return value


def _legacy_value(value):
    """A compile argument as Keras's legacy serializer writes it: functions by
    name, objects as `{"class_name", "config"}`."""
    if isinstance(value, dict):
        if "class_name" in value and "module" in value:
            if value["class_name"] == "function":
                return value.get("config")
            return {
                "class_name": value.get("registered_name") or value["class_name"],
                "config": value.get("config"),
            }
        return {k: _legacy_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_legacy_value(v) for v in value]
    return value


def _write_string_list(group, name, values):
    encoded = [v.encode("utf8") for v in values]
    too_long = [v for v in encoded if len(v) > _HEADER_LIMIT]
    if too_long:
        raise ValueError(
            f"Cannot save to `.h5`: the names {too_long[:3]} are longer than "
            f"{_HEADER_LIMIT} bytes, the most an HDF5 attribute holds."
        )
    data = np.asarray(encoded) if encoded else np.zeros((0,), "float64")
    chunks = 1
    while any(c.nbytes > _HEADER_LIMIT for c in np.array_split(data, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data
    else:
        for k, chunk in enumerate(np.array_split(data, chunks)):
            group.attrs[f"{name}{k}"] = chunk


def _write_values(group, variables, owner):
    names, seen = [], set()
    for variable in variables:
        name = str(getattr(variable, "path", None) or getattr(variable, "name", "w"))
        base, k = name, 1
        while name in seen:  # HDF5 names must be unique within the group
            name = f"{base}_{k}"
            k += 1
        seen.add(name)
        names.append(name)
    _write_string_list(group, "weight_names", names)
    for name, variable in zip(names, variables):
        value = to_numpy(variable, owner)
        if value.dtype.kind == "V":
            # bfloat16 as float32: Keras 3.15 writes opaque 2-byte records
            # (`|V2`) here, which its own loader cannot read back.
            value = to_numpy(variable.float(), owner)
        group.create_dataset(name, data=value)


def _write_model_weights(group, model):
    layers = list(model.layers)
    _write_string_list(group, "layer_names", [layer.name for layer in layers])
    group.attrs["backend"] = "torch"
    group.attrs["keras_version"] = keras_file.KERAS_FORMAT_VERSION
    for layer in sorted(layers, key=lambda layer: layer.name):
        weights = legacy_h5.layer_weights(layer)
        _write_values(group.create_group(layer.name), weights, f"Layer '{layer.name}'")
    # Keras: the model's own variables (add_weight on the model itself), which
    # belong to none of its layers.
    _write_values(
        group.create_group("top_level_model_weights"),
        legacy_h5.top_level_weights(model),
        f"Model '{model.name}'",
    )


def _write_optimizer_weights(h5_file, optimizer):
    variables = list(getattr(optimizer, "variables", []) or [])
    if variables:
        _write_values(
            h5_file.create_group("optimizer_weights"),
            variables,
            f"Optimizer '{getattr(optimizer, 'name', '?')}'",
        )


# --- loading -----------------------------------------------------------------


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model from a legacy `.h5` file (lamina, Keras 3 or Keras 2).

    Args:
        filepath: The `.h5` / `.hdf5` file.
        custom_objects: `{name: class_or_function}` for user objects.
        compile: Compile the model as `training_config` says and restore the
            optimizer's variables. Defaults to `True`.
        safe_mode: Refuse Python lambdas stored in the file. Defaults to `True`.

    Returns:
        The model with its weights (compiled if the file says how).

    Raises:
        ValueError: For a file that is not a legacy model file or whose
            content is malformed, naming what was expected and what was found.
    """
    filename = os.fspath(filepath)
    if not os.path.exists(filename):
        raise FileNotFoundError(f"load_model(): no such file: {filename!r}.")
    with open_h5_for_reading(filename, filename) as h5_file:
        check_h5_file(h5_file, filename)
        config = _json_attribute(h5_file, "model_config", filename)
        if config is None:
            raise ValueError(
                f"Cannot load {filename!r}: it has no 'model_config' attribute, so "
                "it holds weights only. Build the model in code, then call "
                "model.load_weights(path)."
            )
        with keras_file.config_errors(f"Cannot load {filename!r}"):
            config = legacy_config.upgrade_model_config(config, repr(filename))
        model = keras_file.model_from_config_json(
            json.dumps(config).encode("utf8"),
            filename,
            custom_objects,
            False,
            safe_mode,
        )
        if "model_weights" not in h5_file:
            raise ValueError(
                f"Cannot load {filename!r}: it has no 'model_weights' group."
            )
        group = h5_file["model_weights"]
        if not isinstance(group, h5py.Group):
            raise ValueError(
                f"Cannot load {filename!r}: expected 'model_weights' to be a group "
                f"of layers; got a {type(group).__name__}."
            )
        with h5_errors(filename):
            legacy_h5.load_weights_from_group(model, group, filename)
        if compile:
            _compile(model, h5_file, filename, custom_objects)
    return model


def _json_attribute(h5_file, name, filename):
    with h5_errors(filename):
        value = h5_file.attrs.get(name)
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf8", "replace")
    if not isinstance(value, str):
        raise ValueError(
            f"Cannot load {filename!r}: expected the attribute {name!r} to be a "
            f"JSON string; got {type(value).__name__}."
        )
    if len(value) > keras_file.MAX_JSON_BYTES:
        raise ValueError(
            f"Cannot load {filename!r}: the attribute {name!r} is larger than "
            f"{keras_file.MAX_JSON_BYTES} bytes."
        )
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as error:
        raise ValueError(
            f"Cannot load {filename!r}: the attribute {name!r} is not valid JSON "
            f"({error})."
        ) from None


def _compile(model, h5_file, filename, custom_objects):
    training_config = _json_attribute(h5_file, "training_config", filename)
    if training_config is None:
        warnings.warn(
            f"{filename!r} has no training configuration, so model "
            f"'{model.name}' was loaded uncompiled. Compile it yourself.",
            stacklevel=4,
        )
        return
    if not isinstance(training_config, dict) or not isinstance(
        training_config.get("optimizer_config"), dict
    ):
        raise ValueError(
            f"Cannot load {filename!r}: expected 'training_config' to be an object "
            "with an 'optimizer_config'; got "
            f"{str(training_config)[:120]!r}."
        )
    compile_config = {
        "optimizer": _upgrade_optimizer_config(training_config["optimizer_config"]),
        "loss": _upgrade_losses(training_config.get("loss")),
        "metrics": training_config.get("metrics"),
        "weighted_metrics": training_config.get("weighted_metrics"),
        "loss_weights": training_config.get("loss_weights"),
    }
    from lamina.saving import object_registration

    try:
        with object_registration.CustomObjectScope(custom_objects or {}):
            model.compile_from_config(compile_config)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"Cannot compile the model loaded from {filename!r} ({error}). Load it "
            "with compile=False and compile it yourself."
        ) from error
    if "optimizer_weights" in h5_file and model.optimizer is not None:
        _load_optimizer_weights(model, h5_file["optimizer_weights"], filename)


def _upgrade_optimizer_config(config):
    """tf.keras 2 optimizer config keys Keras 3 refuses, dropped."""
    inner = config.get("config")
    if isinstance(inner, dict):
        inner = {k: v for k, v in inner.items() if k not in _OLD_OPTIMIZER_KEYS}
        if inner.get("decay") in (0, 0.0):
            del inner["decay"]
        config = {**config, "config": inner}
    return config


def _upgrade_losses(value):
    """tf.keras 2 losses said `reduction="auto"`: Keras 3's default."""
    if isinstance(value, dict):
        if "class_name" in value and isinstance(value.get("config"), dict):
            inner = value["config"]
            if inner.get("reduction") == "auto":
                inner = {**inner, "reduction": "sum_over_batch_size"}
            return {**value, "config": inner}
        return {k: _upgrade_losses(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_upgrade_losses(v) for v in value]
    return value


def _load_optimizer_weights(model, group, filename):
    """Keras builds the optimizer and sets all its variables; a file whose list
    does not fit leaves the optimizer fresh, with a warning (as Keras does)."""
    if not isinstance(group, h5py.Group):
        raise ValueError(
            f"Cannot load {filename!r}: expected 'optimizer_weights' to be a group; "
            f"got a {type(group).__name__}."
        )
    values = []
    with h5_errors(filename):
        names = legacy_h5._attribute_list(group, "weight_names")
    for name in names:
        if name not in group or not isinstance(group[name], h5py.Dataset):
            raise ValueError(
                f"Cannot load {filename!r}: 'optimizer_weights' lists {name!r} but "
                "has no dataset of that name."
            )
        values.append(
            read_dataset(group[name], f"'optimizer_weights/{name}'", filename)
        )
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_weights)
    current = optimizer.variables
    own = 0  # the step count and learning rate come first, then the slots
    while own < len(current) and current[own].path.rsplit("/", 1)[-1] in (
        "iteration",
        "learning_rate",
    ):
        own += 1
    if len(values) == own and len(current) > own:
        # Saved before its first step (Keras writes the unbuilt optimizer's
        # iteration and learning rate): those are restored, the slots stay new.
        values = values + [v.detach().cpu().numpy() for v in current[len(values) :]]
    try:
        optimizer.set_weights(values)
    except ValueError as error:
        warnings.warn(
            f"Could not restore the optimizer state saved in {filename!r} "
            f"({error}); model '{model.name}' starts with a fresh optimizer.",
            stacklevel=5,
        )
