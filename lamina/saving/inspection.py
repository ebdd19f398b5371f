"""Look inside a saved file without building the model it describes."""

import io
import math
import os

from lamina._lazy_modules import h5py
from lamina.saving import keras_file
from lamina.saving.h5_store import check_h5_file, open_h5_for_reading


def _variables(h5_file) -> list:
    """[(group path, dataset name, shape, dtype)] of every saved variable."""
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            group, _, key = name.rpartition("/")
            dtype = obj.attrs.get("dtype", None) if obj.dtype.kind == "V" else None
            found.append((group, key, tuple(obj.shape), str(dtype or obj.dtype)))

    h5_file.visititems(visit)
    return found


def summarize(filepath, print_fn=print) -> dict:
    """Describe a `.keras` or `.weights.h5` file: what it holds and how big.

    The file gets the same safety checks as when loading, and nothing in it
    is built or run.

    Args:
        filepath: A `.keras` archive or a `.weights.h5` file.
        print_fn: Called with each line of a readable summary; `None` prints
            nothing.

    Returns:
        A dict with `format`, `metadata` and `model` (for `.keras`: the
        metadata and the model's class, name and compile config), `variables`
        (`[(group, index, shape, dtype)]`) and `total_values` (the number of
        saved numbers, optimizer state included).
    """
    filename = os.fspath(filepath)
    result = {"format": None, "metadata": None, "model": None}
    if filename.endswith(".keras"):
        with keras_file.open_archive(filename, filename) as archive:
            members = archive.namelist()
            metadata = keras_file.read_json_member(
                archive, keras_file.METADATA_FILENAME, filename, 1 << 20
            )
            config = keras_file.read_json_member(
                archive, keras_file.CONFIG_FILENAME, filename
            )
            if not isinstance(config, dict) or not isinstance(
                config.get("config", {}), (dict, type(None))
            ):
                raise ValueError(
                    f"Cannot load {filename!r}: {keras_file.CONFIG_FILENAME!r} "
                    "does not describe a model (expected an object with "
                    f"'class_name' and 'config'); got {type(config).__name__}."
                )
            weights = keras_file.read_member(
                archive, keras_file.WEIGHTS_FILENAME, filename
            )
        result.update(
            format="keras",
            metadata=metadata,
            members=members,
            model={
                "class_name": config.get("class_name"),
                "name": (config.get("config") or {}).get("name"),
                "compile_config": config.get("compile_config"),
            },
        )
        source, label = (
            io.BytesIO(weights),
            f"{filename}::{keras_file.WEIGHTS_FILENAME}",
        )
    elif filename.endswith(".weights.h5"):
        result["format"] = "weights.h5"
        source, label = filename, filename
    else:
        raise ValueError(
            "summarize() reads `.keras` and `.weights.h5` files; got "
            f"filepath={filename!r}."
        )
    with open_h5_for_reading(source, label, "weights file") as h5_file:
        check_h5_file(h5_file, label)
        variables = _variables(h5_file)
    result["variables"] = variables
    result["total_values"] = sum(math.prod(shape) for _, _, shape, _ in variables)
    if print_fn is not None:
        _print(result, filename, print_fn)
    return result


def _print(result, filename, print_fn):
    print_fn(f"File: {filename} ({result['format']})")
    if result["metadata"]:
        print_fn(f"Saved: {result['metadata']}")
    if result["model"]:
        model = result["model"]
        compiled = "compiled" if model["compile_config"] else "not compiled"
        print_fn(f"Model: {model['name']} ({model['class_name']}, {compiled})")
    width = max([len(f"{g}/{k}") for g, k, _, _ in result["variables"]] + [8])
    print_fn(f"{'Variable':<{width}}  {'Shape':<16}  Dtype")
    for group, key, shape, dtype in result["variables"]:
        print_fn(f"{group + '/' + key:<{width}}  {str(shape):<16}  {dtype}")
    print_fn(f"Total saved values: {result['total_values']:,}")
