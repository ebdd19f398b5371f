"""The `.weights.h5` file: a model's variables in Keras 3's HDF5 layout.

Keras finds what to save by walking the object graph from the model, and names
every group after the attribute that led to it (see KERAS-FACTS §2):

- each layer and optimizer gets a group `<path>/vars` (attribute `name` = its
  name) holding its variables as datasets `"0"`, `"1"`, ... in the order
  `_trainable_variables + _non_trainable_variables` (an object may instead
  define `save_own_variables(store)` / `load_own_variables(store)`);
- children are visited by attribute name, sorted, private (`_x`) names last,
  skipping names a bare `Layer` already has; a Sequential or functional model
  visits `layers` first;
- items of a list, tuple or dict attribute are named by their snake_case class
  name, `dense`, `dense_1`, ... (never by layer name); nested containers are
  `container`, `container_1`, ...;
- every object is written once, under the first path that reaches it; the
  compiled optimizer is reached through `optimizer`.

lamina layers are `torch.nn.Module`s: sub-layers live in `_modules` (lists of
layers become `ModuleList`s), which `dir()` and `getattr` expose like Keras's
attributes, so the same walk produces the same paths.
"""

import functools
import os
import warnings

import numpy as np
import torch

from lamina._lazy_modules import h5py
from lamina.backend.naming import defining_class, to_snake_case
from lamina.backend.tensors import copy_into
from lamina.saving import file_utils
from lamina.saving.h5_store import H5Reader, H5Writer, open_h5_for_reading

# Private attributes of lamina's own model classes that hold layers Keras does
# not reach (Sequential keeps its InputLayer apart from `layers`; a layer's
# `_device_probe` caches a (module, name) pair, the layer itself at times).
_LAMINA_INTERNALS = frozenset({"_input_layer", "_device_probe"})


# --- the object graph -----------------------------------------------------------


def _kind(obj):
    """The saveable kind of `obj` (Sequential, Functional, Layer, Optimizer), or
    None for objects that hold no saved state."""
    from lamina.layers.layer import Layer
    from lamina.optimizers.optimizer import Optimizer

    if isinstance(obj, Layer):
        from lamina.models.sequential import Sequential

        if isinstance(obj, Sequential):
            return "Sequential"
        functional = _functional_class()
        if functional is not None and isinstance(obj, functional):
            return "Functional"
        return "Layer"
    if isinstance(obj, Optimizer):
        return "Optimizer"
    return None


def _functional_class():
    try:
        from lamina.models.functional import Functional
    except ImportError:
        return None
    return Functional


def _is_container(obj) -> bool:
    return isinstance(
        obj, (list, tuple, dict, torch.nn.ModuleList, torch.nn.ModuleDict)
    )


def _container_items(container) -> list:
    if isinstance(container, (dict, torch.nn.ModuleDict)):
        return list(container.values())
    return list(container)


@functools.cache
def _skipset(kind: str) -> frozenset:
    """Attribute names not walked: those a bare Layer (or Optimizer) has."""
    if kind == "Optimizer":
        from lamina.optimizers.optimizer import Optimizer

        probe = Optimizer(learning_rate=1.0, name="skipset_probe")
        return frozenset(set(dir(probe)) - {"variables"})
    from lamina.layers.layer import Layer

    skip = set(dir(Layer(name="skipset_probe")))
    skip |= {"_self_unconditional_dependency_names"} | _LAMINA_INTERNALS
    if kind == "Sequential":
        skip.add("_functional")
    elif kind == "Functional":
        skip |= {"operations", "_operations"}
    return frozenset(skip)


def _name_key(name: str) -> str:
    # Keras visits private attributes last.
    return f"~{name}" if name.startswith("_") else name


def _children(obj, kind):
    """(attribute name, value) pairs in Keras's visiting order."""
    skip = _skipset(kind)
    if kind in ("Sequential", "Functional"):
        yield "layers", obj.layers
    for name in sorted(dir(obj), key=_name_key):
        if name.startswith("__") or name in skip:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = getattr(obj, name)
        except Exception:  # Keras also skips attributes that fail to read
            continue
        yield name, value


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _unique(name: str, used: dict) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _walk(obj, path, visit, visited):
    """Call `visit(obj, path, kind)` on every saveable object, Keras's way.

    `visit` returns True when the object is done (it is then never visited
    again); False leaves it to be retried at a later path, as Keras does for
    objects that failed to load.
    """
    if id(obj) in visited:
        return
    kind = _kind(obj)
    if visit(obj, path, kind):
        visited.add(id(obj))
    for name, child in _children(obj, kind):
        child_path = _join(path, name)
        if _kind(child) is not None:
            _walk(child, child_path, visit, visited)
        elif _is_container(child):
            _walk_container(child, child_path, visit, visited, set())


def _walk_container(container, path, visit, visited, visited_containers):
    if id(container) in visited_containers:
        return
    visited_containers.add(id(container))
    used = {}
    for item in _container_items(container):
        if _kind(item) is not None:
            name = _unique(to_snake_case(defining_class(type(item)).__name__), used)
            _walk(item, _join(path, name), visit, visited)
        elif _is_container(item):
            name = _unique("container", used)
            _walk_container(item, _join(path, name), visit, visited, visited_containers)


def _default_own(obj, method: str) -> bool:
    """Whether `obj.<method>` is the base Layer's (the file path then names
    the file in its errors)."""
    from lamina.layers._layer_weights import _LayerWeights

    bound = getattr(obj, method)
    return getattr(bound, "__func__", None) is getattr(_LayerWeights, method)


def _own_variables(layer) -> list:
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def _saved_variables(layer) -> list:
    """The own variables a layer's file entry holds, in order."""
    from lamina.layers._layer_weights import saved_variables as _saved

    return _saved(layer)


# --- saving ------------------------------------------------------------------


class _Int32Steps:
    """Store wrapper writing an optimizer's int64 step count as int32, as Keras
    does (its `iteration` variable is int32 in every file it writes)."""

    def __init__(self, store):
        self._store = store

    def __setitem__(self, key, value):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            if value.dtype == torch.int64:
                value = value.numpy()
        if isinstance(value, np.ndarray) and value.dtype == np.int64:
            if value.size == 0 or int(np.abs(value).max()) < 2**31:
                value = value.astype(np.int32)
        self._store[key] = value

    def __getattr__(self, name):
        return getattr(self._store, name)


def _asset_dir(root, path):
    return os.path.join(root, *path.split("/")) if path else root


def save_state(model, writer, objects_to_skip=None, assets_dir=None) -> None:
    """Write every saveable object reachable from `model` into `writer` (and
    the assets of objects with `save_assets(dir)` under `assets_dir`)."""
    saved_params = set()

    def visit(obj, path, kind):
        save_assets = getattr(obj, "save_assets", None)
        if assets_dir is not None and callable(save_assets):
            folder = _asset_dir(assets_dir, path)
            os.makedirs(folder, exist_ok=True)
            save_assets(folder)
        name = getattr(obj, "name", None)
        store = writer.make(path, {"name": name} if isinstance(name, str) else None)
        own = getattr(obj, "save_own_variables", None)
        if kind == "Optimizer":
            obj.save_own_variables(_Int32Steps(store))
        elif callable(own) and not _default_own(obj, "save_own_variables"):
            own(store)
            saved_params.update(id(v) for v in _own_variables(obj))
        else:
            variables = _saved_variables(obj)
            for i, variable in enumerate(variables):
                store[str(i)] = variable
            own = _own_variables(obj)
            if len(variables) < len(own):
                _warn_left_out(obj, variables, own)
            # Variables a Keras layout leaves out (a Dense subclass's extras)
            # are the layer's choice, as in Keras, not a forgotten parameter.
            saved_params.update(id(v) for v in own)
        return True

    visited = {id(o) for o in objects_to_skip or ()}
    _walk(model, "", visit, visited)
    _check_nothing_left_out(model, saved_params, objects_to_skip)


def _warn_left_out(layer, variables, own):
    kept = {id(v) for v in variables}
    extra = [getattr(v, "path", "?") for v in own if id(v) not in kept]
    warnings.warn(
        f"Layer '{layer.name}' ({type(layer).__name__}) saves only its variables "
        f"named {list(type(layer)._keras_saved_variables)}, as Keras does, so "
        f"{extra} are not in the file and loading it will fail. Give "
        f"{type(layer).__name__} save_own_variables(store) and "
        "load_own_variables(store) methods that write and read them.",
        stacklevel=6,
    )


def _check_nothing_left_out(model, saved_params, objects_to_skip):
    """Refuse to write a file that silently misses weights: torch parameters
    registered outside `add_weight` (or inside a plain torch module) have no
    place in the Keras layout."""
    if objects_to_skip:
        return
    missing = [
        name
        for name, param in model.named_parameters(remove_duplicate=True)
        if id(param) not in saved_params
    ]
    if missing:
        raise ValueError(
            f"Cannot save model '{model.name}': its torch parameters {missing[:5]} "
            "are not variables of any lamina layer, so the Keras weights layout "
            "has no place for them. Create weights with self.add_weight(...) in "
            "build(), or give the layer that owns them save_own_variables(store) "
            "and load_own_variables(store) methods."
        )


def write_weights_file(
    model, fileobj_or_path, objects_to_skip=None, assets_dir=None
) -> None:
    """Write `model`'s weights (and optimizer state) in the Keras layout."""
    with h5py.File(fileobj_or_path, "w") as h5_file:
        save_state(model, H5Writer(h5_file), objects_to_skip, assets_dir)


def save_weights(
    model, filepath, overwrite=True, max_shard_size=None, objects_to_skip=None
) -> None:
    """Save `model`'s weights to a `.weights.h5` file (atomically).

    Args:
        model: A built lamina model (or layer).
        filepath: Path ending in `.weights.h5` or `.safetensors` (`.weights.json` with
            `max_shard_size`).
        overwrite: Replace an existing file. Defaults to `True`.
        max_shard_size: Split the weights over several `.weights.h5` files of
            at most this many GB, listed in a `.weights.json` index.
        objects_to_skip: Optional layers (or the optimizer) whose weights are
            left out of the file.
    """
    filepath = os.fspath(filepath)
    if max_shard_size is not None:
        from lamina.saving import sharded_weights

        sharded_weights.save_sharded_weights(
            model, filepath, overwrite, max_shard_size, objects_to_skip
        )
        return
    if filepath.endswith(".safetensors"):
        from lamina.saving import safetensors_file

        safetensors_file.save_weights(
            model, filepath, overwrite=overwrite, objects_to_skip=objects_to_skip
        )
        return
    if not filepath.endswith(".weights.h5"):
        raise ValueError(
            "save_weights() needs a filename ending in `.weights.h5` (or "
            "`.safetensors`; use "
            f"model.save('x.keras') for a whole model); got filepath={filepath!r}."
        )
    _check_built(model, "save_weights()")
    file_utils.check_overwrite(filepath, overwrite, "save_weights()")
    with file_utils.atomic_write(filepath) as tmp_path:
        write_weights_file(model, tmp_path, objects_to_skip)


def _check_built(model, what):
    if not getattr(model, "built", True):
        # Keras's key phrases: "You are saving a model that has not yet been
        # built." / "You are loading weights into a model that has not ...".
        doing = "loading weights into" if what.startswith("load") else "saving"
        raise ValueError(
            f"{what}: You are {doing} a model that has not yet been built: "
            f"model '{model.name}' is not built, so it has no weights. Call it "
            "on a batch of data, or build it with model.build(input_shape) or "
            "an Input(...) first layer."
        )


# --- loading -----------------------------------------------------------------


def load_state(
    model, reader, skip_mismatch=False, objects_to_skip=None, assets_dir=None
) -> None:
    """Assign the variables in `reader` to every saveable object of `model`
    (and hand objects with `load_assets(dir)` their folder under `assets_dir`).

    Raises:
        ValueError: listing every object that could not be loaded (a warning
            instead with `skip_mismatch=True`), naming the file.

    A load that fails leaves the model as it was. Layers without their own
    `load_own_variables` are checked (counts and shapes) as the walk reaches
    them, and their values are all read before any is assigned. Objects that
    load themselves (quantized, LoRA and lookup layers, a TorchModuleWrapper,
    the optimizer) assign as they go, as in Keras, so their tensors are copied
    first (to host memory) and put back if their load or a later one fails.
    Assets load only once every variable fits. With `skip_mismatch=True` an
    object that fails keeps its values and the others load.
    """
    failures = {}
    pending = []  # (variable, store, key): checked, assigned after the walk
    optimizers = []  # (optimizer, store, path): loaded after the layers
    assets = []  # (object, folder, path): loaded once every variable fits
    snapshots = {}  # id(object) -> its state before it loaded itself

    def visit(obj, path, kind):
        if id(obj) in failures and not reader.has_path(_join(path, "vars")):
            # Keras retries a failed object at later paths; only a path the
            # file actually has may clear the failure.
            return False
        store = reader.get(path)
        try:
            if kind == "Optimizer":
                optimizers.append((obj, store, path))
            elif callable(getattr(obj, "load_own_variables", None)) and not (
                _default_own(obj, "load_own_variables")
            ):
                if id(obj) not in snapshots:
                    snapshots[id(obj)] = _snapshot(obj)
                try:
                    obj.load_own_variables(store)
                except Exception:
                    _restore(snapshots[id(obj)])
                    raise
            else:
                _load_layer_variables(obj, store, reader.filename, pending)
            load_assets = getattr(obj, "load_assets", None)
            if assets_dir is not None and callable(load_assets):
                folder = _asset_dir(assets_dir, path)
                if os.path.isdir(folder):
                    assets.append((obj, folder, path))
        except Exception as error:  # collected; reported together below
            failures.setdefault(id(obj), (path, obj, error))
            return False
        failures.pop(id(obj), None)
        return True

    visited = {id(o) for o in objects_to_skip or ()}
    _walk(model, "", visit, visited)
    if not failures or skip_mismatch:
        for optimizer, store, path in optimizers:
            if id(optimizer) not in snapshots:
                snapshots[id(optimizer)] = _snapshot(optimizer)
            try:
                _load_optimizer(optimizer, store, model, reader.filename)
            except Exception as error:  # reported with the layers' failures
                _restore(snapshots[id(optimizer)])
                failures.setdefault(id(optimizer), (path, optimizer, error))
    try:
        if failures:
            _report_failures(list(failures.values()), reader.filename, skip_mismatch)
        for obj, folder, path in assets:
            try:
                obj.load_assets(folder)
            except Exception as error:
                _report_failures([(path, obj, error)], reader.filename, skip_mismatch)
        values = _read_pending(pending)
    except Exception:
        for snapshot in snapshots.values():
            _restore(snapshot)
        raise
    _assign_values(values)


def _snapshot(obj) -> tuple:
    """What a failed `load_own_variables` of `obj` may have changed: a copy
    (in host memory) of every tensor it holds (variables, and the parameters
    and buffers of wrapped torch modules), and the attributes of it and its
    sub-modules (a lookup layer rebinds its `idf_weights` array)."""
    tensors = list(getattr(obj, "variables", None) or ())
    modules = [obj]
    if isinstance(obj, torch.nn.Module):
        tensors += [t for _, t in obj.named_parameters()]
        tensors += [t for _, t in obj.named_buffers()]
        modules = list(obj.modules())
    seen, copies = set(), []
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor) and id(tensor) not in seen:
            seen.add(id(tensor))
            copies.append((tensor, tensor.detach().to("cpu", copy=True)))
    attributes = [(m, dict(m.__dict__)) for m in modules if hasattr(m, "__dict__")]
    return copies, attributes


@torch.no_grad()
def _restore(snapshot) -> None:
    copies, attributes = snapshot
    for tensor, saved in copies:
        if tensor.shape == saved.shape and tensor.dtype == saved.dtype:
            tensor.copy_(saved)
        else:  # a load that resized the tensor in place
            tensor.data = saved.to(tensor.device)
    for module, saved in attributes:
        for name in set(module.__dict__) - set(saved):
            del module.__dict__[name]
        module.__dict__.update(saved)


def _report_failures(failures, filename, skip_mismatch):
    path, obj, error = failures[0]
    names = [f"'{p or '/'}' ({type(o).__name__})" for p, o, _ in failures]
    message = (
        f"Could not load {len(failures)} object(s) from {filename!r}: "
        f"{', '.join(names)}. First error, for '{path or '/'}': {error}"
    )
    if skip_mismatch:
        warnings.warn(message + " (skipped: skip_mismatch=True)", stacklevel=4)
        return
    raise ValueError(
        message + " The model must have the same layers, in the same structure, "
        "as the model that wrote the file; pass skip_mismatch=True to load "
        "what matches and keep the rest."
    ) from error


def _load_layer_variables(layer, store, filename, pending=None):
    """Check `store` against `layer`'s variables, then assign them (or queue
    `(variable, store, key)` on `pending`, read by `_read_pending`)."""
    own = _own_variables(layer)
    variables = _saved_variables(layer)
    where = "the store"
    if filename is not None:
        where = f"'{store.path or '/'}/vars' of {filename!r}"
    # Keras checks the count against every own variable, also where the
    # layer's layout saves fewer (a Dense subclass's extra variables).
    if len(store) != len(own):
        hint = ""
        if not own and not getattr(layer, "built", True):
            hint = (
                " The layer is not built: build the model (call it on data, or "
                "start it with an Input) before loading weights into it."
            )
        elif len(variables) < len(own):
            kept = {id(v) for v in variables}
            extra = [getattr(v, "path", "?") for v in own if id(v) not in kept]
            hint = (
                f" As in Keras, the layer saves only its variables named "
                f"{list(type(layer)._keras_saved_variables)}, so {extra} are not "
                f"in files: give {type(layer).__name__} save_own_variables(store) "
                "and load_own_variables(store) methods that write and read them."
            )
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) has {len(own)} "
            f"variables {[getattr(v, 'path', '?') for v in own]}, but "
            f"{where} holds {len(store)}: the layer received {len(store)} variables "
            f"where it expects {len(own)}.{hint}"
        )
    for i, variable in enumerate(variables):
        shape = _stored_shape(store, str(i))
        if shape != tuple(variable.shape):
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}): variable {i} "
                f"('{getattr(variable, 'path', '?')}') has shape "
                f"{tuple(variable.shape)}, but {where} holds shape {shape}; the "
                "shapes must match."
            )
    queued = [(variable, store, str(i)) for i, variable in enumerate(variables)]
    if pending is None:
        _assign_values(_read_pending(queued))
    else:
        pending.extend(queued)


def _read_pending(pending) -> list:
    """`(variable, tensor)` for each queued variable: every value is read and
    converted (a damaged dataset raises here) before `_assign_values` changes
    any."""
    return [
        (variable, _stored_tensor(store[key]).to(dtype=variable.dtype))
        for variable, store, key in pending
    ]


def _stored_tensor(value) -> torch.Tensor:
    # A dict store may hold device tensors (LoRA saves its merged kernel as
    # one), which NumPy cannot read; the copy into the variable moves them.
    if isinstance(value, torch.Tensor):
        return value.detach()
    return torch.as_tensor(np.asarray(value))


@torch.no_grad()
def _assign_values(values) -> None:
    for variable, value in values:
        copy_into(variable, value)  # a sharded (FSDP) weight keeps its slice


def _stored_shape(store, key) -> tuple:
    # Files answer shapes without reading; a plain dict has the arrays.
    if callable(getattr(store, "shape", None)):
        return store.shape(key)
    value = store[key]
    if isinstance(value, torch.Tensor):  # without a trip through the host
        return tuple(value.shape)
    return tuple(np.shape(value))


def _load_optimizer(optimizer, store, model, filename):
    """Load optimizer state; build the optimizer first if the file has slots and
    it has none yet, so training resumes exactly."""
    if len(store) == 0:
        return
    if not optimizer.built and len(store) > len(optimizer.variables):
        trainable = getattr(model, "trainable_weights", None)
        if trainable:
            optimizer.build(trainable)
    expected = len(optimizer.variables)
    if len(store) < expected and "0" in store and not np.any(store["0"]):
        # Saved before its first step (compiled, never trained): a fresh
        # optimizer is the same state, so there is nothing to warn about.
        return
    if len(store) != expected:
        # Keras: a mismatched optimizer is skipped with a warning.
        warnings.warn(
            f"Skipping the optimizer state in {filename!r}: optimizer "
            f"'{optimizer.name}' ({type(optimizer).__name__}) has {expected} "
            f"variables, the file has {len(store)}. Training continues from a "
            "fresh optimizer state.",
            stacklevel=5,
        )
        return
    optimizer.load_own_variables(store)


def read_weights_file(
    model,
    fileobj_or_path,
    filename,
    skip_mismatch=False,
    objects_to_skip=None,
    assets_dir=None,
):
    """Load a Keras-layout HDF5 file (path or file object) into `model`."""
    with open_h5_for_reading(fileobj_or_path, filename, "weights file") as h5_file:
        reader = H5Reader(h5_file, filename)
        load_state(model, reader, skip_mismatch, objects_to_skip, assets_dir)


def load_weights(model, filepath, skip_mismatch=False, **kwargs) -> None:
    """Load weights saved by `save_weights` or `save` (lamina or Keras 3).

    Args:
        model: A built model with the same structure as the one that was saved.
        filepath: A `.weights.h5` file, a sharded `.weights.json` index, a
            `.keras` archive, or a legacy Keras 2 `.h5` file.
        skip_mismatch: Warn about, instead of failing on, objects whose
            variables do not match; the rest is loaded.
        objects_to_skip: Optional layers (or the optimizer) to leave untouched.
        by_name: Legacy `.h5` files only: match layers by name rather than
            order.
    """
    objects_to_skip = kwargs.pop("objects_to_skip", None)
    by_name = kwargs.pop("by_name", None)
    if kwargs:
        raise ValueError(
            f"Invalid keyword arguments: {kwargs}. load_weights() takes "
            "skip_mismatch, objects_to_skip ('.weights.h5' files) and by_name "
            "(legacy '.h5' files)."
        )
    filepath = os.fspath(filepath)
    if objects_to_skip is not None and _is_legacy_h5(filepath):
        raise ValueError(
            "load_weights(): `objects_to_skip` only supports loading '.weights.h5' "
            f"files (and lamina's Keras 3 formats); got the legacy file {filepath!r}."
        )
    if not filepath.endswith(_LOADABLE) and not os.path.isdir(filepath):
        raise ValueError(
            "File format not supported: load_weights() reads `.weights.h5`, "
            "`.weights.json` (sharded), `.keras`, `.safetensors` or legacy `.h5` "
            f"files; got filepath={filepath!r}."
        )
    if not os.path.exists(filepath):
        raise file_utils.MissingFileError(
            f"load_weights(): no such file: {filepath!r}."
        )
    if by_name is not None and not _is_legacy_h5(filepath):
        raise ValueError(
            "load_weights(): `by_name` only supports loading legacy '.h5' or '.hdf5' "
            f"files; {filepath!r} is a Keras 3 file, whose weights are matched by "
            "the model's structure."
        )
    if filepath.endswith(".weights.h5"):
        _check_built(model, "load_weights()")
        read_weights_file(model, filepath, filepath, skip_mismatch, objects_to_skip)
    elif filepath.endswith(".weights.json"):
        from lamina.saving import sharded_weights

        _check_built(model, "load_weights()")
        sharded_weights.load_sharded_weights(
            model, filepath, skip_mismatch, objects_to_skip
        )
    elif filepath.endswith(".keras"):
        from lamina.saving import keras_file

        _check_built(model, "load_weights()")
        keras_file.load_weights_from_archive(
            model, filepath, skip_mismatch, objects_to_skip
        )
    elif filepath.endswith(".safetensors"):
        from lamina.saving import safetensors_file

        safetensors_file.load_weights(model, filepath, skip_mismatch, objects_to_skip)
    elif filepath.endswith((".h5", ".hdf5")):
        from lamina.saving import legacy_h5

        legacy_h5.load_weights(model, filepath, bool(by_name), skip_mismatch)
    else:
        raise ValueError(
            "load_weights() reads `.weights.h5`, `.weights.json` (sharded), "
            "`.keras`, `.safetensors` or legacy `.h5` files; got "
            f"filepath={filepath!r}."
        )


_LOADABLE = (".weights.h5", ".weights.json", ".keras", ".safetensors", ".h5", ".hdf5")


def _is_legacy_h5(filepath):
    return filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
