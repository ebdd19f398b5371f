"""Weights from legacy Keras 2 `.h5` files (`model.save_weights("x.h5")` in Keras 2).

That layout is keyed by layer name: the root attribute `layer_names` lists the
layers; each layer's group lists its `weight_names` (e.g. `dense/kernel:0`) in
the order trainable weights, then non-trainable ones. Whole-model `.h5` files
keep the same structure under `model_weights` (`legacy_h5_model` rebuilds the
model from their config, then loads the weights with this module).
"""

import os
import warnings

import torch

from lamina._lazy_modules import h5py
from lamina.backend.tensors import copy_into
from lamina.saving.h5_store import (
    check_h5_file,
    h5_errors,
    open_h5_for_reading,
    read_dataset,
)


def _attribute_list(group, name):
    """A string-list attribute, also when Keras split it into `name0`, `name1`."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _saved_values(group, layer_name, filename):
    if layer_name not in group or not isinstance(group[layer_name], h5py.Group):
        got = type(group[layer_name]).__name__ if layer_name in group else "nothing"
        raise ValueError(
            f"The legacy weights file {filename!r} lists layer {layer_name!r} but "
            f"has no group for it (expected a group of weights; got {got})."
        )
    layer_group = group[layer_name]
    values = []
    for weight_name in _attribute_list(layer_group, "weight_names"):
        if weight_name not in layer_group or not isinstance(
            layer_group[weight_name], h5py.Dataset
        ):
            raise ValueError(
                f"The legacy weights file {filename!r} has no dataset "
                f"{weight_name!r} for layer {layer_name!r}."
            )
        where = f"'{layer_name}/{weight_name}'"
        values.append(read_dataset(layer_group[weight_name], where, filename))
    return values


def layer_weights(layer):
    """A layer's weights in the legacy layout's order: trainable first (the
    writer and both readers use it)."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def top_level_weights(model) -> list:
    """The model's own variables (created by `add_weight` on the model itself,
    not on one of its layers), trainable first: Keras's `top_level_model_weights`."""
    own = list(getattr(model, "_trainable_variables", ())) + list(
        getattr(model, "_non_trainable_variables", ())
    )
    in_weights = {id(w) for w in model.weights}
    return [v for v in own if id(v) in in_weights]


def _match_top_level(model, group, filename, skip_mismatch, pending):
    """Queue the model's own variables from `top_level_model_weights`, when the
    file has that group (Keras 3 writes it; Keras 2 files do not)."""
    if "top_level_model_weights" not in group:
        return
    top = group["top_level_model_weights"]
    if not isinstance(top, h5py.Group):
        raise ValueError(
            f"{filename!r}: expected 'top_level_model_weights' to be a group; "
            f"got a {type(top).__name__}."
        )
    variables = top_level_weights(model)
    values = _saved_values(group, "top_level_model_weights", filename)
    if len(values) != len(variables):
        message = (
            f"Model '{model.name}' has {len(variables)} weights of its own (not "
            f"in any layer); {filename!r} has {len(values)} "
            "(`top_level_model_weights`)."
        )
        if skip_mismatch:
            warnings.warn(message + " Skipped (skip_mismatch=True).", stacklevel=4)
            return
        raise ValueError(message)
    who = f"Model '{model.name}' (top-level weights of {filename!r})"
    _match(variables, values, who, skip_mismatch, pending)


def _match(variables, values, who, skip_mismatch, pending):
    """Queue `(variable, value)` pairs whose shapes agree on `pending`; nothing
    is assigned until every layer matched, so a failed load changes nothing."""
    for variable, value in zip(variables, values):
        if tuple(variable.shape) != tuple(value.shape):
            message = (
                f"{who}: weight '{getattr(variable, 'path', '?')}' has shape "
                f"{tuple(variable.shape)}, the file has {tuple(value.shape)}."
            )
            if skip_mismatch:
                warnings.warn(message + " Skipped (skip_mismatch=True).", stacklevel=4)
                continue
            raise ValueError(message)
        pending.append((variable, value))


@torch.no_grad()
def _assign_all(pending):
    for variable, value in pending:
        # A sharded (FSDP) weight keeps this rank's slice.
        copy_into(variable, torch.from_numpy(value).to(variable.dtype))


def load_weights(model, filepath, by_name=False, skip_mismatch=False) -> None:
    """Load a Keras 2 `.h5` weights file into `model`, by layer order or by name."""
    filename = os.fspath(filepath)
    with open_h5_for_reading(filename, filename) as h5_file, h5_errors(filename):
        check_h5_file(h5_file, filename)
        group = h5_file["model_weights"] if "model_weights" in h5_file else h5_file
        if not isinstance(group, h5py.Group):
            raise ValueError(
                f"{filename!r}: expected 'model_weights' to be a group of layers; "
                f"got a {type(group).__name__}."
            )
        load_weights_from_group(model, group, filename, by_name, skip_mismatch)


def load_weights_from_group(
    model, group, filename, by_name=False, skip_mismatch=False
) -> None:
    """Load the weights of a legacy layout (`layer_names`, a group per layer)
    from an open, checked HDF5 `group` into `model`."""
    saved_names = _attribute_list(group, "layer_names")
    if not saved_names:
        raise ValueError(
            f"{filename!r} is not a legacy Keras weights file (no 'layer_names'). "
            "Keras 3 weights files end in `.weights.h5`."
        )
    if by_name:
        _load_by_name(model, group, saved_names, filename, skip_mismatch)
    else:
        _load_by_order(model, group, saved_names, filename, skip_mismatch)


def _load_by_order(model, group, saved_names, filename, skip_mismatch):
    layers = [layer for layer in model.layers if layer_weights(layer)]
    saved = [
        name
        for name in saved_names
        if name in group and _attribute_list(group[name], "weight_names")
    ]
    if len(saved) != len(layers):
        raise ValueError(
            f"{filename!r} holds weights for {len(saved)} layers ({saved}), but "
            f"model '{model.name}' has {len(layers)} layers with weights "
            f"({[layer.name for layer in layers]}). Pass by_name=True to match "
            "layers by name instead of by order."
        )
    pending = []
    for k, (layer, name) in enumerate(zip(layers, saved)):
        values = _saved_values(group, name, filename)
        variables = layer_weights(layer)
        if len(values) != len(variables):
            raise ValueError(
                f"Layer #{k} ('{layer.name}' in the model, '{name}' in "
                f"{filename!r}) expects {len(variables)} weights; the file has "
                f"{len(values)}."
            )
        who = f"Layer '{layer.name}' ('{name}' in {filename!r})"
        _match(variables, values, who, skip_mismatch, pending)
    _match_top_level(model, group, filename, skip_mismatch, pending)
    _assign_all(pending)


def _load_by_name(model, group, saved_names, filename, skip_mismatch):
    by_name = {}
    for layer in model.layers:
        by_name.setdefault(layer.name, []).append(layer)
    pending = []
    for name in saved_names:
        if name not in by_name:
            continue
        values = _saved_values(group, name, filename)
        for layer in by_name[name]:
            variables = layer_weights(layer)
            if len(values) != len(variables):
                message = (
                    f"Layer '{name}' expects {len(variables)} weights; "
                    f"{filename!r} has {len(values)}."
                )
                if skip_mismatch:
                    warnings.warn(
                        message + " Skipped (skip_mismatch=True).", stacklevel=3
                    )
                    continue
                raise ValueError(message)
            who = f"Layer '{name}' of {filename!r}"
            _match(variables, values, who, skip_mismatch, pending)
    _match_top_level(model, group, filename, skip_mismatch, pending)
    _assign_all(pending)
