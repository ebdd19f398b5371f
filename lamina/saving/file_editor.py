"""KerasFileEditor: inspect and edit the weights of a `.keras` or `.weights.h5`
file, then write them back as a `.weights.h5` file.

The weights are held as a nested dict in Keras's layout: one key per object
path element (`"layers"`, `"dense"`, ...), and at the leaves the object's
variables by index (`"0"`, `"1"`, ...) as NumPy arrays. Edits change the dict;
`save` writes it. Files are checked as when loading (`h5_store.check_h5_file`);
nothing in them is ever executed.
"""

import io
import os

import numpy as np

from lamina._lazy_modules import h5py
from lamina.saving import file_utils, keras_file, weights_file
from lamina.saving.h5_store import (
    check_h5_file,
    h5_errors,
    open_h5_for_reading,
    read_dataset,
    to_numpy,
)

_WEIGHTS_HINT = (
    "a dict from weight names (usually '0', '1', ...) to arrays, e.g. "
    "{'0': kernel, '1': bias}"
)


class KerasFileEditor:
    """Open a saved model's weights to look at, compare, rename, delete or add
    objects and weights, then save them as a new `.weights.h5` file.

    Useful to adapt a checkpoint after changing a model's architecture.

    Args:
        filepath: A `.keras` or `.weights.h5` file (lamina- or Keras-written).

    Attributes:
        weights_dict: The nested dict of weights (edited in place).
        object_metadata: `{"/layers/dense": {"name": "dense"}, ...}`: the
            attributes saved with each object.
        config, metadata: The `.keras` file's `config.json` and
            `metadata.json` (`None` for a `.weights.h5` file).

    Example:
    ```python
    editor = lamina.saving.KerasFileEditor("model.weights.h5")
    editor.summary()
    editor.delete_object("layers/dense_2")
    editor.add_object("layers/dense_3", weights={"0": kernel, "1": bias})
    editor.save("edited.weights.h5")
    model.load_weights("edited.weights.h5")
    ```
    """

    def __init__(self, filepath):
        self.filepath = os.fspath(filepath)
        self.metadata = None
        self.config = None
        if self.filepath.endswith(".keras"):
            weights, label = self._read_archive()
            source = io.BytesIO(weights)
        elif self.filepath.endswith(".weights.h5"):
            source = label = self.filepath
        else:
            raise ValueError(
                "KerasFileEditor opens `.keras` and `.weights.h5` files; got "
                f"filepath={self.filepath!r}."
            )
        with open_h5_for_reading(source, label, "weights file") as h5_file:
            check_h5_file(h5_file, label)
            self.object_metadata = {}
            with h5_errors(label):
                self.weights_dict = self._extract(h5_file, "", label)

    def _read_archive(self):
        name = self.filepath
        with keras_file.open_archive(name, name) as archive:
            self.config = keras_file.read_json_member(
                archive, keras_file.CONFIG_FILENAME, name
            )
            self.metadata = keras_file.read_json_member(
                archive, keras_file.METADATA_FILENAME, name, 1 << 20
            )
            weights = keras_file.read_member(archive, keras_file.WEIGHTS_FILENAME, name)
        return weights, f"{name}::{keras_file.WEIGHTS_FILENAME}"

    def _extract(self, group, path, label) -> dict:
        """The weights under `group`: its `vars` datasets and its children,
        leaving out objects that hold no weights (as Keras does)."""
        result = {}
        own = group.get("vars") if path else None
        if isinstance(own, h5py.Group):
            attrs = {k: _attr_value(v) for k, v in own.attrs.items()}
            if attrs:
                self.object_metadata[path] = attrs
            for key, dataset in own.items():
                if isinstance(dataset, h5py.Dataset):
                    result[key] = read_dataset(dataset, f"'{path}/vars/{key}'", label)
        for key, child in group.items():
            if key == "vars" and path:
                continue
            if isinstance(child, h5py.Group):
                if key == "vars":  # the root object's own variables
                    child_dict = {
                        k: read_dataset(v, f"'/vars/{k}'", label)
                        for k, v in child.items()
                        if isinstance(v, h5py.Dataset)
                    }
                else:
                    child_dict = self._extract(child, f"{path}/{key}", label)
                if child_dict:
                    result[key] = child_dict
        return result

    # --- looking ---------------------------------------------------------

    def summary(self) -> None:
        """Print the file's name, where it came from, and its weights as a tree."""
        print(f"Keras model file '{self.filepath}'")
        if self.metadata is not None:
            print(
                f"Saved with Keras {self.metadata.get('keras_version')} - date: "
                f"{self.metadata.get('date_saved')}"
            )
        print("Weights structure")
        self._print_tree(self.weights_dict, "", "  ")

    def _print_tree(self, tree, path, prefix):
        items = list(tree.items())
        for i, (key, value) in enumerate(items):
            last = i == len(items) - 1
            connector = "└─ " if last else "├─ "
            child_path = f"{path}/{key}"
            if isinstance(value, dict):
                label = f"{prefix}{connector}{key}"
                name = self.object_metadata.get(child_path, {}).get("name")
                if name is not None:
                    label += f" ('{name}')"
                print(label)
                self._print_tree(
                    value, child_path, prefix + ("    " if last else "│   ")
                )
            else:
                print(
                    f"{prefix}{connector}{key}: shape={value.shape}, dtype={_dtype(value)}"
                )

    def compare(self, reference_model) -> dict:
        """Compare the file's weights with those `reference_model` would save.

        Prints every object or weight present on one side only and every shape
        mismatch.

        Args:
            reference_model: A built lamina model (or layer).

        Returns:
            `{"status": "success" or "error", "error_count": int,
            "match_count": int}`: mismatches found, and weights present on both
            sides with the same shape.
        """
        reference = _weight_spec(reference_model)
        errors = []
        matches = _compare(self.weights_dict, reference, "", errors)
        print("Running comparison")
        for message in errors:
            print(message)
        print("─────────────────────")
        plural = "" if len(errors) == 1 else "s"
        if errors:
            print(
                f"Found {len(errors)} error{plural}: saved file is not compatible "
                "with the reference model"
            )
        else:
            print(
                "Comparison successful: saved file is compatible with the reference model"
            )
            print(f"    Found {matches} matching weight{'' if matches == 1 else 's'}")
        return {
            "status": "error" if errors else "success",
            "error_count": len(errors),
            "match_count": matches,
        }

    # --- editing ---------------------------------------------------------

    def rename_object(self, object_name, new_name) -> None:
        """Rename an object (e.g. a layer's group).

        Args:
            object_name: The object's name (`"dense_2"`, if it occurs once) or
                path (`"layers/dense_2"`).
            new_name: Its new name: one path element, no `/`.
        """
        if not isinstance(new_name, str) or not new_name or "/" in new_name:
            raise ValueError(
                "rename_object() expects `new_name` to be a name (one path "
                f"element, without '/'); got new_name={new_name!r}."
            )
        parent, key, path = self._locate(object_name)
        if new_name in parent:
            raise ValueError(
                f"rename_object(): '{new_name}' already exists next to "
                f"'{path[1:]}'. Delete it first or choose another name."
            )
        parent[new_name] = parent.pop(key)
        new_path = path.rsplit("/", 1)[0] + "/" + new_name
        self._move_metadata(path, new_path)

    def delete_object(self, object_name) -> None:
        """Remove an object (e.g. a layer) and all its weights.

        Args:
            object_name: The object's name (if it occurs once) or path.
        """
        parent, key, path = self._locate(object_name)
        del parent[key]
        self._move_metadata(path, None)

    def add_object(self, object_path, weights) -> None:
        """Add an object with its weights; an object already at that path is
        replaced, as in Keras.

        Args:
            object_path: The full path of the new object, e.g. `"layers/dense_2"`;
                every element but the last must exist.
            weights: A dict `{"0": kernel, "1": bias, ...}` of arrays.
        """
        weights = _checked_weights(weights, "add_object()")
        if not isinstance(object_path, str) or not object_path.strip("/"):
            raise ValueError(
                "add_object() expects `object_path` to be a path such as "
                f"'layers/dense_2'; got object_path={object_path!r}."
            )
        elements = object_path.strip("/").split("/")
        parent = self.weights_dict
        for i, element in enumerate(elements[:-1]):
            parent = parent.get(element)
            if not isinstance(parent, dict):
                missing = "/".join(elements[: i + 1])
                raise ValueError(
                    f"add_object(): the path '{missing}' (part of "
                    f"'{object_path}') is not an object in the file. Existing "
                    f"top-level keys: {sorted(self.weights_dict)}."
                )
        parent[elements[-1]] = weights

    def delete_weight(self, object_name, weight_name) -> None:
        """Remove one weight (e.g. `"1"`) from an object.

        Args:
            object_name: The object's name (if it occurs once) or path.
            weight_name: The weight's key, e.g. `"0"`.
        """
        parent, key, _ = self._locate(object_name)
        obj = parent[key]
        weight_name = str(weight_name)
        if not isinstance(obj, dict) or not _is_array(obj.get(weight_name)):
            found = (
                [k for k, v in obj.items() if _is_array(v)]
                if isinstance(obj, dict)
                else []
            )
            raise ValueError(
                f"delete_weight(): object '{object_name}' has no weight "
                f"{weight_name!r}; its weights are {found}."
            )
        del obj[weight_name]

    def add_weights(self, object_name, weights) -> None:
        """Add (or replace) weights of an existing object.

        Args:
            object_name: The object's name (if it occurs once) or path.
            weights: A dict `{"2": array, ...}` of arrays.
        """
        weights = _checked_weights(weights, "add_weights()")
        parent, key, _ = self._locate(object_name)
        if not isinstance(parent[key], dict):
            raise ValueError(
                f"add_weights(): '{object_name}' is a weight, not an object; "
                "pass the object that holds it."
            )
        parent[key].update(weights)

    def save(self, filepath) -> None:
        """Write the (edited) weights to a `.weights.h5` file, atomically.

        Args:
            filepath: A path ending in `.weights.h5`; an existing file is
                replaced.
        """
        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError(
                "KerasFileEditor.save() writes `.weights.h5` files; got "
                f"filepath={filepath!r}."
            )
        with file_utils.atomic_write(filepath) as tmp_path:
            with h5py.File(tmp_path, "w") as h5_file:
                self._write(h5_file, self.weights_dict, "")

    def resave_weights(self, filepath) -> None:
        """Same as `save(filepath)` (Keras's older name)."""
        self.save(filepath)

    def _write(self, h5_file, tree, path):
        arrays = {k: v for k, v in tree.items() if not isinstance(v, dict)}
        if arrays and path:
            self._write_vars(h5_file, f"{path}/vars", arrays, "/" + path)
        for key, value in tree.items():
            if not isinstance(value, dict) or not value:
                continue
            if not path and key == "vars":  # the root object's own variables
                self._write_vars(h5_file, "vars", value, "")
            else:
                self._write(h5_file, value, f"{path}/{key}" if path else key)

    def _write_vars(self, h5_file, group_name, arrays, metadata_path):
        group = h5_file.require_group(group_name)
        for key, value in self.object_metadata.get(metadata_path, {}).items():
            group.attrs[key] = value
        for key, value in arrays.items():
            dataset = group.create_dataset(key, data=value)
            if value.dtype.kind == "V":  # bfloat16 as raw bits, as Keras writes it
                dataset.attrs["dtype"] = "bfloat16"

    # --- finding objects -------------------------------------------------

    def _locate(self, object_name):
        """`(parent dict, key, "/full/path")` of an object named by its path
        or by a name that occurs exactly once among the file's objects."""
        if not isinstance(object_name, str) or not object_name.strip("/"):
            raise ValueError(
                "Expected an object name such as 'dense_2' or a path such as "
                f"'layers/dense_2'; got {object_name!r}."
            )
        if "/" in object_name.strip("/"):
            elements = object_name.strip("/").split("/")
            parent = self.weights_dict
            for element in elements[:-1]:
                parent = parent.get(element)
                if not isinstance(parent, dict):
                    break
            if not isinstance(parent, dict) or elements[-1] not in parent:
                raise ValueError(
                    f"Path '{object_name}' is not in the file. Call summary() to "
                    "list its objects."
                )
            return parent, elements[-1], "/" + "/".join(elements)
        found = []
        _find(self.weights_dict, object_name, "", found)
        if not found:
            raise ValueError(
                f"No object named '{object_name}' in the file. Call summary() to "
                "list its objects."
            )
        if len(found) > 1:
            paths = [p for _, _, p in found]
            raise ValueError(
                f"The name '{object_name}' occurs more than once in the file "
                f"({paths}); pass the full path instead."
            )
        return found[0]

    def _move_metadata(self, old_path, new_path):
        for path in list(self.object_metadata):
            if path == old_path or path.startswith(old_path + "/"):
                attrs = self.object_metadata.pop(path)
                if new_path is not None:
                    self.object_metadata[new_path + path[len(old_path) :]] = attrs


# --- helpers ------------------------------------------------------------------


def _find(tree, name, path, found):
    for key, value in tree.items():
        if isinstance(value, dict):
            child_path = f"{path}/{key}"
            if key == name:
                found.append((tree, key, child_path))
            _find(value, name, child_path, found)


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray)


def _dtype(array) -> str:
    return "bfloat16" if array.dtype.kind == "V" else str(array.dtype)


def _attr_value(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _checked_weights(weights, what) -> dict:
    if not isinstance(weights, dict):
        raise ValueError(
            f"{what} expects `weights` to be {_WEIGHTS_HINT}; got "
            f"{type(weights).__name__}."
        )
    checked = {}
    for key, value in weights.items():
        if isinstance(value, dict):
            raise ValueError(f"{what}: weight {key!r} is a dict; expected an array.")
        if isinstance(value, np.ndarray) and value.dtype.kind == "V":
            checked[str(key)] = value  # bfloat16 bits read from a file
        else:
            checked[str(key)] = to_numpy(value, f"{what} weight {key!r}")
    return checked


def _weight_spec(model) -> dict:
    """The nested `{name: shape}` dict of what `model` saves, in the file's
    layout (objects without weights left out)."""
    spec = {}

    class _Recorder(dict):
        def __setitem__(self, key, value):
            super().__setitem__(str(key), tuple(to_numpy(value, "compare()").shape))

    def visit(obj, path, kind):
        store = _Recorder()
        if kind == "Optimizer" or callable(getattr(obj, "save_own_variables", None)):
            obj.save_own_variables(store)
        else:
            for i, variable in enumerate(weights_file._own_variables(obj)):
                store[str(i)] = variable
        if store:
            node = spec
            for element in path.split("/") if path else ["vars"]:
                node = node.setdefault(element, {})
            node.update(store)
        return True

    weights_file._walk(model, "", visit, set())
    return spec


def _compare(saved, reference, path, errors) -> int:
    """Append a message per mismatch between the two trees to `errors`; return
    the number of weights that match (present in both, same shape)."""
    matches = 0
    for key, ref in reference.items():
        child_path = f"{path}/{key}"
        if key not in saved:
            kind = "Object" if isinstance(ref, dict) else "Weight"
            errors.append(
                f"...{kind} {child_path} present in reference model, missing "
                "from saved file"
            )
        elif isinstance(ref, dict) != isinstance(saved[key], dict):
            errors.append(
                f"...{child_path} is an object on one side and a weight on the other"
            )
        elif isinstance(ref, dict):
            matches += _compare(saved[key], ref, child_path, errors)
        elif tuple(saved[key].shape) != ref:
            errors.append(
                f"...Weight shape mismatch for {child_path}\n"
                f"    In reference model: shape={ref}\n"
                f"    In saved file: shape={tuple(saved[key].shape)}"
            )
        else:
            matches += 1
    for key, value in saved.items():
        if key not in reference:
            kind = "Object" if isinstance(value, dict) else "Weight"
            errors.append(
                f"...{kind} {path}/{key} present in saved file, missing from "
                "reference model"
            )
    return matches
