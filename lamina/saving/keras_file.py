"""The `.keras` file: a zip of `metadata.json`, `config.json`, `model.weights.h5`.

Written as Keras 3 writes it (members in that order, uncompressed), so files move
both ways between lamina and Keras 3. `config.json` holds the architecture and
the compile configuration; `model.weights.h5` the weights and the optimizer
state, so training resumes exactly after `load_model`.

Loading treats the file as untrusted data: the archive, its member names and
sizes, the JSON and the HDF5 structure are checked before anything is built,
and only lamina classes and registered (or passed) custom objects are resolved.
"""

import contextlib
import datetime
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib

from lamina.saving import (
    file_utils,
    object_registration,
    serialization_lib,
    weights_file,
)

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
_NPZ_WEIGHTS_FILENAME = "model.weights.npz"
ASSETS_DIRNAME = "assets"
# The Keras release whose API and file layout lamina implements (metadata.json's
# "keras_version", which Keras does not read; `lamina.version()`).
KERAS_FORMAT_VERSION = "3.15.1"

# A member larger than this must not expand more than _MAX_EXPANSION times its
# stored size (Keras stores members uncompressed; DEFLATE tops out near 1032x).
MEMBER_BOMB_FLOOR_BYTES = 1 << 26  # 64 MiB
MEMBER_MAX_EXPANSION = 100
# JSON members larger than this are refused outright.
MAX_JSON_BYTES = 1 << 26  # 64 MiB
# All `assets/` members together (vocabularies and the like).
MAX_ASSETS_BYTES = 1 << 30  # 1 GiB


# --- saving ------------------------------------------------------------------


def serialize_model(model) -> tuple:
    """`(config_json, metadata_json)` as Keras writes them."""
    # Keras marks objects met twice (a layer shared with a wrapper) with a
    # "shared_object_id", so that loading rebuilds one object.
    with serialization_lib.ObjectSharingScope():
        config = serialization_lib.serialize_keras_object(model)
    config_json = json.dumps(config)
    from lamina import __version__ as lamina_version

    metadata_json = json.dumps(
        {
            "keras_version": KERAS_FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "lamina_version": lamina_version,
        }
    )
    return config_json, metadata_json


def _model_members(model) -> tuple:
    """`(weights bytes, [(archive name, bytes), ...] of assets)`."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        assets_dir = os.path.join(folder, ASSETS_DIRNAME)
        weights_file.write_weights_file(model, buffer, assets_dir=assets_dir)
        assets = []
        for root, dirs, files in os.walk(assets_dir):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                relative = os.path.relpath(path, folder).replace(os.sep, "/")
                with open(path, "rb") as f:
                    assets.append((relative, f.read()))
    return buffer.getvalue(), assets


def save_model(model, filepath, overwrite=True, zipped=True) -> None:
    """Write `model` (architecture, weights, compile config, optimizer state).

    Args:
        model: A lamina model.
        filepath: A path ending in `.keras` (a folder with `zipped=False`), or a
            binary file object opened for writing.
        overwrite: Replace an existing file. Defaults to `True`.
        zipped: `False` writes the three members into a folder instead.
    """
    if not getattr(model, "built", True):
        import warnings

        warnings.warn(
            f"Saving model '{model.name}', which is not built yet: the file will "
            "hold no weights. Call the model on data (or build it) first.",
            stacklevel=3,
        )
    config_json, metadata_json = serialize_model(model)
    weights, assets = _model_members(model)
    if hasattr(filepath, "write"):
        _write_zip(filepath, config_json, metadata_json, weights, assets)
        return
    filepath = os.fspath(filepath)
    if not zipped:
        if filepath.endswith(".keras"):
            raise ValueError(
                "With zipped=False the model is written into a folder, whose name "
                "should not end in `.keras` (it must not end in `.keras`); got "
                f"filepath={filepath!r}."
            )
        _save_to_folder(
            filepath, overwrite, config_json, metadata_json, weights, assets
        )
        return
    if not filepath.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving: model.save() writes `.keras` "
            "files (or legacy `.h5`), so the filename must end in `.keras`; got "
            f"filepath={filepath!r}. Use save_weights() with a `.weights.h5` "
            "name to save only the weights."
        )
    file_utils.check_overwrite(filepath, overwrite, "model.save()")
    with file_utils.atomic_write(filepath) as tmp_path:
        with open(tmp_path, "wb") as f:
            _write_zip(f, config_json, metadata_json, weights, assets)


def _write_zip(fileobj, config_json, metadata_json, weights, assets=()):
    # Keras's member order, uncompressed (ZIP_STORED); assets last.
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA_FILENAME, metadata_json)
        archive.writestr(CONFIG_FILENAME, config_json)
        archive.writestr(WEIGHTS_FILENAME, weights)
        for name, data in assets:
            archive.writestr(name, data)


def _save_to_folder(folder, overwrite, config_json, metadata_json, weights, assets):
    folder = os.path.abspath(folder)
    if os.path.exists(folder) and not overwrite:
        raise FileExistsError(
            f"model.save(): {folder!r} already exists and overwrite=False."
        )
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"model.save(zipped=False): {folder!r} is a file.")
    parent = os.path.dirname(folder)
    staging = tempfile.mkdtemp(prefix="." + os.path.basename(folder) + ".", dir=parent)
    try:
        for name, data in (
            (METADATA_FILENAME, metadata_json.encode()),
            (CONFIG_FILENAME, config_json.encode()),
            (WEIGHTS_FILENAME, weights),
            *assets,
        ):
            path = os.path.join(staging, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.chmod(staging, file_utils.default_dir_mode())
        if os.path.exists(folder):
            backup = staging + ".old"
            os.replace(folder, backup)
            os.replace(staging, folder)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- reading the archive safely ---------------------------------------------


def _refuse(filename, reason, error_type=ValueError):
    raise error_type(f"Cannot load {filename!r}: {reason}")


def open_archive(source, filename):
    """A `ZipFile` over `source` whose member list passed the safety checks."""
    try:
        archive = zipfile.ZipFile(source, "r")
    except zipfile.BadZipFile:
        _refuse(
            filename,
            "it is not a `.keras` file (not a zip archive, or a truncated one). "
            "A `.keras` file is the zip that model.save('x.keras') writes.",
        )
    except (OSError, EOFError) as error:
        _refuse(filename, f"it could not be read as a zip archive ({error}).")
    try:
        _check_members(archive, filename)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_members(archive, filename):
    seen = set()
    for info in archive.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or "\\" in name
            or "\x00" in name
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
        ):
            _refuse(
                filename,
                f"the archive member name {name!r} points outside the archive "
                "(absolute path or '..'); refusing a path-traversal attack.",
            )
        if name in seen:
            _refuse(filename, f"the archive holds {name!r} twice.")
        seen.add(name)
        if info.flag_bits & 0x1:
            _refuse(filename, f"the archive member {name!r} is encrypted.")
        if (
            info.file_size > MEMBER_BOMB_FLOOR_BYTES
            and info.file_size > MEMBER_MAX_EXPANSION * max(info.compress_size, 1)
        ):
            _refuse(
                filename,
                f"the archive member {name!r} declares {info.file_size} bytes but "
                f"stores only {info.compress_size}; refusing a possible zip bomb.",
            )


def read_member(archive, name, filename, limit=None) -> bytes:
    """The bytes of one member, checked for size and integrity."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        _refuse(
            filename,
            f"the archive has no {name!r} (members: {archive.namelist()}). It is "
            "not a complete `.keras` file.",
        )
    if limit is not None and info.file_size > limit:
        _refuse(filename, f"{name!r} is {info.file_size} bytes, over {limit}.")
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        _refuse(filename, f"{name!r} is corrupt or truncated ({error}).")
    except NotImplementedError as error:
        _refuse(filename, f"{name!r} uses an unsupported compression ({error}).")


def parse_json(data, name, filename):
    """The JSON in member `name`, or a ValueError naming the file."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        _refuse(filename, f"{name!r} is not valid JSON ({error}).")


def read_json_member(archive, name, filename, limit=MAX_JSON_BYTES):
    """The JSON of one member (`config.json`, `metadata.json`), read with
    `read_member`'s checks and parsed with `parse_json`'s."""
    return parse_json(read_member(archive, name, filename, limit), name, filename)


# --- loading -----------------------------------------------------------------


def _source_name(filepath):
    if hasattr(filepath, "read"):
        return getattr(filepath, "name", None) or "<file object>"
    return os.fspath(filepath)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model saved with `model.save('x.keras')` (lamina or Keras 3).

    Args:
        filepath: A `.keras` file, a folder written with `zipped=False`, or a
            binary file object.
        custom_objects: `{name: class_or_function}` for user objects that are
            not registered with `register_keras_serializable`.
        compile: Compile the model as it was compiled when saved, with the
            optimizer state restored. Defaults to `True`.
        safe_mode: Refuse Python lambdas stored in the file (they are code).
            Only pass `False` for files you trust.

    Returns:
        The model, with its weights (and optimizer state when compiled).
    """
    filename = _source_name(filepath)
    if not hasattr(filepath, "read") and os.path.isdir(filename):
        return _load_from_folder(filename, custom_objects, compile, safe_mode)
    if not hasattr(filepath, "read") and not os.path.exists(filename):
        raise file_utils.MissingFileError(
            f"File not found: load_model(): no such file: {filename!r}. Please "
            "ensure the file is an accessible '.keras' zip file."
        )
    with open_archive(filepath, filename) as archive:
        config_bytes = read_member(archive, CONFIG_FILENAME, filename, MAX_JSON_BYTES)
        names = archive.namelist()
        model = model_from_config_json(
            config_bytes, filename, custom_objects, compile, safe_mode
        )
        if WEIGHTS_FILENAME not in names:
            if _NPZ_WEIGHTS_FILENAME in names:
                _refuse(
                    filename,
                    "its weights are in the `.npz` format "
                    "(weights_format='npz'), which lamina does not read. Re-save "
                    "the model with the default weights format.",
                )
            _refuse(filename, f"the archive has no {WEIGHTS_FILENAME!r}.")
        weights = read_member(archive, WEIGHTS_FILENAME, filename)
        with tempfile.TemporaryDirectory() as folder:
            assets_dir = _extract_assets(archive, filename, folder)
            weights_file.read_weights_file(
                model,
                io.BytesIO(weights),
                f"{filename}::{WEIGHTS_FILENAME}",
                assets_dir=assets_dir,
            )
    return model


def _extract_assets(archive, filename, folder):
    """Copy the `assets/` members into `folder`; their root, or None if none."""
    members = [
        info
        for info in archive.infolist()
        if info.filename.startswith(ASSETS_DIRNAME + "/")
        and not info.filename.endswith("/")
    ]
    if not members:
        return None
    total = sum(info.file_size for info in members)
    if total > MAX_ASSETS_BYTES:
        _refuse(filename, f"its assets declare {total} bytes, over {MAX_ASSETS_BYTES}.")
    root = os.path.realpath(folder)
    for info in members:
        target = os.path.realpath(os.path.join(root, *info.filename.split("/")))
        if not target.startswith(root + os.sep):
            _refuse(filename, f"the asset {info.filename!r} escapes the archive.")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(read_member(archive, info.filename, filename))
    return os.path.join(root, ASSETS_DIRNAME)


def _load_from_folder(folder, custom_objects, compile, safe_mode):
    config_path = os.path.join(folder, CONFIG_FILENAME)
    weights_path = os.path.join(folder, WEIGHTS_FILENAME)
    for path in (config_path, weights_path):
        if not os.path.isfile(path) or os.path.islink(path):
            _refuse(
                folder, f"the folder has no regular file {os.path.basename(path)!r}."
            )
    if os.path.getsize(config_path) > MAX_JSON_BYTES:
        _refuse(folder, f"{CONFIG_FILENAME!r} is larger than {MAX_JSON_BYTES} bytes.")
    with open(config_path, "rb") as f:
        config_bytes = f.read()
    model = model_from_config_json(
        config_bytes, folder, custom_objects, compile, safe_mode
    )
    assets_dir = os.path.join(folder, ASSETS_DIRNAME)
    weights_file.read_weights_file(
        model,
        weights_path,
        weights_path,
        assets_dir=assets_dir if os.path.isdir(assets_dir) else None,
    )
    return model


# What a malformed config raises deep inside a constructor or `build` (a list
# where a number belongs, a missing key, an impossible shape): the file's
# fault, reported as a ValueError that names the file.
_MALFORMED_CONFIG_ERRORS = (
    AttributeError,
    LookupError,
    ArithmeticError,
    RuntimeError,
    MemoryError,
)


@contextlib.contextmanager
def config_errors(prefix):
    """Re-raise what building a model from an untrusted config raises as a
    `ValueError` (or `TypeError`) whose message starts with `prefix`."""
    try:
        yield
    except NotImplementedError:
        raise  # something lamina lacks, not a broken file
    except RecursionError:
        raise ValueError(f"{prefix}: its configuration is nested too deeply.") from None
    except (TypeError, ValueError) as error:
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{prefix}: {error}") from error
    except _MALFORMED_CONFIG_ERRORS as error:
        raise ValueError(
            f"{prefix}: its configuration is malformed; building the model from "
            f"it failed with {type(error).__name__}: {error}"
        ) from error


def model_from_config_json(config_bytes, filename, custom_objects, compile, safe_mode):
    """Build (and compile) the model a `config.json` describes."""
    config = parse_json(config_bytes, CONFIG_FILENAME, filename)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        _refuse(
            filename,
            f"{CONFIG_FILENAME!r} does not describe a model (expected an object "
            "with 'class_name' and 'config').",
        )
    if not compile:
        config = {**config, "compile_config": None}
    # An enclosing scope, or config.enable_unsafe_deserialization(), decides.
    scoped = serialization_lib.in_safe_mode()
    safe_mode = scoped if scoped is not None else safe_mode
    with config_errors(f"Cannot load {filename!r}"):
        with (
            object_registration.CustomObjectScope(custom_objects or {}),
            serialization_lib.SafeModeScope(safe_mode),
            serialization_lib.ObjectSharingScope(),
        ):
            model = serialization_lib.deserialize_keras_object(
                config, custom_objects=custom_objects, safe_mode=safe_mode, kind="model"
            )
    from lamina.layers.layer import Layer

    if not isinstance(model, Layer):
        _refuse(
            filename,
            f"{CONFIG_FILENAME!r} describes a {type(model).__name__}, not a model.",
        )
    return model


def load_weights_from_archive(
    model, filepath, skip_mismatch=False, objects_to_skip=None
):
    """Load only the weights (and optimizer state) of a `.keras` file."""
    filename = os.fspath(filepath)
    with open_archive(filename, filename) as archive:
        weights = read_member(archive, WEIGHTS_FILENAME, filename)
    weights_file.read_weights_file(
        model,
        io.BytesIO(weights),
        f"{filename}::{WEIGHTS_FILENAME}",
        skip_mismatch,
        objects_to_skip,
    )
