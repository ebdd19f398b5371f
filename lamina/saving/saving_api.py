"""The three ways to save a model, as Keras 3 offers them.

- Entire model: `save_model(model, "m.keras")` / `load_model("m.keras")` (also
  legacy `.h5` model files, both ways).
- Weights only: `save_weights(model, "m.weights.h5")` / `load_weights(...)`.
- Configuration only: `model.to_json()` / `model_from_json(...)` (and YAML).
"""

import inspect
import json
import os
import warnings

from lamina.saving import (
    file_utils,
    keras_file,
    legacy_config,
    serialization_lib,
    weights_file,
)

_YAML_MISSING = (
    "YAML model configs need PyYAML, which is not installed. Install it with "
    '`pip install "lamina[yaml]"` (or `pip install pyyaml`), or use to_json() / '
    "model_from_json() instead."
)


@file_utils.waits_for_rank_zero
def save_model(model, filepath, overwrite=True, zipped=None, **kwargs) -> None:
    """Save a whole model: architecture, weights, compile config and optimizer
    state, in Keras 3's `.keras` format (written atomically), or in the legacy
    `.h5` format for a path ending in `.h5` / `.hdf5` (with a warning, as Keras
    3 does).

    Args:
        model: The lamina model to save.
        filepath: Path ending in `.keras` (or a binary file object), or in
            `.h5` / `.hdf5` for the legacy format.
        overwrite: Replace an existing file. Defaults to `True`; `False` raises
            `FileExistsError` if the file exists (Keras asks interactively).
        zipped: `False` writes the three members into a folder instead of a
            zip. Defaults to `True`.
        **kwargs: `include_optimizer` (legacy `.h5` only: `False` leaves out
            the compile configuration and optimizer state); `save_format`
            (any value, as Keras 3) is ignored with a warning for `.keras` /
            `.h5` paths (the path decides), refused for others.
    """
    save_format = kwargs.pop("save_format", None)
    include_optimizer = kwargs.pop("include_optimizer", True)
    if kwargs:
        raise ValueError(
            f"The following argument(s) are not supported: {list(kwargs)}. "
            "save() takes filepath, overwrite, zipped, and for legacy `.h5` "
            "files include_optimizer."
        )
    name = "" if hasattr(filepath, "write") else os.fspath(filepath)
    is_h5 = name.endswith((".h5", ".hdf5")) and not name.endswith(".weights.h5")
    # Keras 3: any truthy save_format (older code passes "tf", "keras_v3", ...)
    # is ignored with a warning where the path names the format, refused
    # where it does not; a falsy one is ignored.
    if save_format and name.endswith((".h5", ".hdf5", ".keras")):
        warnings.warn(
            "save_format is deprecated in Keras 3 and ignored: the path's suffix "
            f"decides the format. Drop save_format={save_format!r}.",
            stacklevel=3,
        )
    elif save_format:
        wanted = "`.h5` or `.hdf5`" if save_format == "h5" else "`.keras`"
        raise ValueError(
            "The `save_format` argument is deprecated in Keras 3: "
            f"save_format={save_format!r} needs a path ending in {wanted}; got "
            f"filepath={name!r}. Drop save_format and choose the format by the "
            "path's suffix."
        )
    if is_h5:
        if zipped is False:
            raise ValueError("zipped=False applies to `.keras` saving, not `.h5`.")
        from lamina.saving import legacy_h5_model

        legacy_h5_model.save_model(
            model, filepath, overwrite=overwrite, include_optimizer=include_optimizer
        )
        return
    if not include_optimizer:
        raise ValueError(
            "include_optimizer=False is a legacy `.h5` option; `.keras` files "
            "always hold the optimizer state. Save with save_weights() to keep "
            "only the weights."
        )
    if name.endswith(".weights.h5"):
        raise ValueError(
            f"Cannot save a whole model to {name!r}: that name is for weights "
            "only. Call model.save_weights(path), or save to a `.keras` path."
        )
    if name.startswith("hf://"):
        raise ValueError("lamina does not upload to the Hugging Face Hub (hf://).")
    if zipped is None:
        zipped = True
    keras_file.save_model(model, filepath, overwrite=overwrite, zipped=zipped)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `save_model` / `model.save` (lamina or Keras 3),
    or a legacy `.h5` / `.hdf5` model file (lamina, Keras 3 or Keras 2).

    Legacy `.h5` files are treated as untrusted as `.keras` files are: only
    lamina classes and registered or passed custom objects are rebuilt, and
    Python lambdas only with `safe_mode=False` (Keras's own `.h5` loader
    skipped safe mode, CVE-2025-9905).

    Args:
        filepath: A `.keras` file (or a folder saved with `zipped=False`), or
            a legacy `.h5` / `.hdf5` model file.
        custom_objects: `{name: class_or_function}` for unregistered user objects.
        compile: Recompile the model and restore its optimizer state.
            Defaults to `True`.
        safe_mode: Refuse Python lambdas stored in the file. Defaults to `True`;
            pass `False` only for files you trust.
    """
    name = "" if hasattr(filepath, "read") else os.fspath(filepath)
    if name and not os.path.isdir(name):
        if name.endswith(".weights.h5") or name.endswith(".weights.json"):
            raise ValueError(
                f"{name!r} holds only weights, not a model. Build the model in "
                "code, then call model.load_weights(path)."
            )
        if name.endswith((".h5", ".hdf5")):
            from lamina.saving import legacy_h5_model

            return legacy_h5_model.load_model(
                filepath,
                custom_objects=custom_objects,
                compile=compile,
                safe_mode=safe_mode,
            )
        if not name.endswith(".keras"):
            raise ValueError(
                "File format not supported: load_model() reads `.keras` files (or "
                "folders saved with zipped=False) and legacy `.h5` files; got "
                f"filepath={name!r}."
            )
    return keras_file.load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


@file_utils.waits_for_rank_zero
def save_weights(
    model, filepath, overwrite=True, max_shard_size=None, **kwargs
) -> None:
    """Save the weights (and optimizer state) to `.weights.h5` (atomically).

    `objects_to_skip=[layer, ...]` leaves those objects' weights out of the
    file (load with the same `objects_to_skip`), as Keras does.
    """
    objects_to_skip = kwargs.pop("objects_to_skip", None)
    if kwargs:
        raise TypeError(
            f"save_weights() got unexpected keyword arguments {sorted(kwargs)}; "
            "it takes filepath, overwrite, max_shard_size and objects_to_skip."
        )
    weights_file.save_weights(
        model,
        filepath,
        overwrite=overwrite,
        max_shard_size=max_shard_size,
        objects_to_skip=objects_to_skip,
    )


def load_weights(model, filepath, skip_mismatch=False, **kwargs) -> None:
    """Load weights from `.weights.h5`, `.weights.json`, `.keras` or legacy `.h5`."""
    weights_file.load_weights(model, filepath, skip_mismatch=skip_mismatch, **kwargs)


# --- configuration only ------------------------------------------------------


def model_to_json(model, **kwargs) -> str:
    """The model's Keras 3 config (with `compile_config` if compiled) as JSON."""
    return json.dumps(serialization_lib.serialize_keras_object(model), **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A new model (fresh weights) from `model.to_json()`'s output.

    Example:
    >>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    >>> lamina.saving.model_from_json(model.to_json()).output_shape
    (None, 2)
    """
    try:
        config = json.loads(json_string)
    except RecursionError:
        raise ValueError(
            "model_from_json(): its configuration is nested too deeply."
        ) from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"model_from_json() got invalid JSON ({error}).") from None
    return _model_from_config(config, custom_objects, "model_from_json()")


def _yaml():
    try:
        import yaml
    except ImportError:
        raise ImportError(_YAML_MISSING) from None
    return yaml


def model_to_yaml(model, **kwargs) -> str:
    """The model's config as YAML (PyYAML's safe dumper)."""
    config = json.loads(model_to_json(model))
    return _yaml().safe_dump(config, **kwargs)


def model_from_yaml(yaml_string, custom_objects=None):
    """A new model from `model.to_yaml()`'s output, read with PyYAML's safe
    loader (plain data only: no Python objects can be constructed)."""
    yaml = _yaml()
    try:
        config = yaml.safe_load(yaml_string)
    except yaml.YAMLError as error:
        raise ValueError(f"model_from_yaml() got invalid YAML ({error}).") from None
    return _model_from_config(config, custom_objects, "model_from_yaml()")


def _model_from_config(config, custom_objects, who):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"{who} expects the config of a model (an object with 'class_name' and "
            f"'config'); got {type(config).__name__}."
        )
    with keras_file.config_errors(who):
        # Keras 2 JSON (layers without "module", list-form nodes) -> Keras 3.
        config = legacy_config.upgrade_model_config(config, who)
        return serialization_lib.deserialize_keras_object(
            config, custom_objects=custom_objects, kind="model"
        )


# --- compile config ----------------------------------------------------------


def compile_from_config(model, config) -> None:
    """Compile `model` as `config` (a `get_compile_config()` dict) says, and
    build its optimizer so that saved optimizer state can be loaded into it."""
    from lamina import losses, metrics, optimizers
    from lamina.trainers.trainer import Trainer

    if type(model).compile is not Trainer.compile:
        warnings.warn(
            "`compile()` was not called as part of model loading because the "
            "model's `compile()` method is custom. "
            f"Model '{model.name}' overrides compile(), so its saved compile config "
            "was not applied. Override compile_from_config(config) too (and "
            "get_compile_config()) to restore it, or compile it yourself.",
            stacklevel=3,
        )
        return
    if not isinstance(config, dict):
        raise TypeError(
            f"compile_from_config() expects a dict; got {type(config).__name__}."
        )
    accepted = set(inspect.signature(model.compile).parameters)
    args = {k: v for k, v in config.items() if k in accepted}
    if isinstance(args.get("optimizer"), dict):
        args["optimizer"] = optimizers.deserialize(args["optimizer"])
    for key, family in (
        ("loss", losses),
        ("metrics", metrics),
        ("weighted_metrics", metrics),
    ):
        if key in args:
            args[key] = _deserialize_nested(args[key], family)
    model.compile(**args)
    if getattr(model, "built", False) and model.optimizer is not None:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_weights)


def _deserialize_nested(value, family):
    if isinstance(value, dict):
        if "class_name" in value:
            return family.deserialize(value)
        return {k: _deserialize_nested(v, family) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_deserialize_nested(v, family) for v in value]
    return value
