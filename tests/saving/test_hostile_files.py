"""Untrusted files: every known way to smuggle code, reads or bombs is refused
with an error that names the file and the problem."""

import io
import json
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.saving import h5_store, keras_file, serialization_lib


def _model():
    return lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])


@pytest.fixture
def good_keras(tmp_path):
    path = tmp_path / "good.keras"
    _model().save(path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names warn
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return path


def _with_config(tmp_path, good_keras, edit, name="bad.keras"):
    members = _members(good_keras)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return _write_zip(tmp_path / name, list(members.items()))


def _add_layer(config_entry):
    def edit(config):
        config["config"]["layers"].insert(1, config_entry)

    return edit


# --- the archive --------------------------------------------------------------


def test_a_file_that_is_not_a_zip_is_named_in_the_error(tmp_path):
    path = tmp_path / "fake.keras"
    path.write_bytes(b"this is not a zip")
    with pytest.raises(ValueError, match=r"fake\.keras.*not a `\.keras` file"):
        lamina.saving.load_model(path)


def test_a_truncated_archive_is_refused(tmp_path, good_keras):
    data = good_keras.read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.keras.*truncated"):
        lamina.saving.load_model(path)


def test_a_corrupted_member_fails_its_checksum(tmp_path, good_keras):
    data = bytearray(good_keras.read_bytes())
    start = data.find(b"HDF")  # inside the stored model.weights.h5
    data[start + 2000 : start + 2010] = b"0123456789"
    path = tmp_path / "flipped.keras"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"flipped\.keras.*corrupt or truncated"):
        lamina.saving.load_model(path)


def test_zip_bomb_member_is_refused_before_decompression(
    tmp_path, good_keras, monkeypatch
):
    monkeypatch.setattr(keras_file, "MEMBER_BOMB_FLOOR_BYTES", 1 << 16)
    members = _members(good_keras)
    members["config.json"] = b" " * (1 << 21) + members["config.json"]
    path = _write_zip(
        tmp_path / "bomb.keras", list(members.items()), zipfile.ZIP_DEFLATED
    )
    with pytest.raises(ValueError, match=r"bomb\.keras.*zip bomb"):
        lamina.saving.load_model(path)


@pytest.mark.parametrize(
    "name", ["../escape.txt", "/etc/passwd", "assets/../../x", "a\\..\\b", "C:evil"]
)
def test_member_names_that_escape_the_archive_are_refused(tmp_path, good_keras, name):
    members = list(_members(good_keras).items()) + [(name, b"x")]
    path = _write_zip(tmp_path / "trav.keras", members)
    with pytest.raises(ValueError, match=r"trav\.keras.*path-traversal"):
        lamina.saving.load_model(path)


def test_duplicate_members_are_refused(tmp_path, good_keras):
    members = list(_members(good_keras).items())
    path = _write_zip(tmp_path / "dup.keras", members + [members[1]])
    with pytest.raises(ValueError, match="holds 'config.json' twice"):
        lamina.saving.load_model(path)


@pytest.mark.parametrize("drop", ["config.json", "model.weights.h5"])
def test_missing_members_are_named(tmp_path, good_keras, drop):
    members = [(n, d) for n, d in _members(good_keras).items() if n != drop]
    path = _write_zip(tmp_path / "missing.keras", members)
    with pytest.raises(ValueError, match=f"no '{drop}'"):
        lamina.saving.load_model(path)


@pytest.mark.parametrize(
    "config_bytes, match",
    [
        (b"{not json", "not valid JSON"),
        (b"[" * 100000, "not valid JSON|nested too deeply"),
        (b"[1, 2]", "does not describe a model"),
    ],
)
def test_bad_config_json_is_refused(tmp_path, good_keras, config_bytes, match):
    members = _members(good_keras)
    members["config.json"] = config_bytes
    path = _write_zip(tmp_path / "cfg.keras", list(members.items()))
    with pytest.raises(ValueError, match=match):
        lamina.saving.load_model(path)


# --- the config -------------------------------------------------------------


def test_unknown_class_is_named_with_the_fix(tmp_path, good_keras):
    path = _with_config(
        tmp_path,
        good_keras,
        _add_layer({"module": "keras.layers", "class_name": "Mystery", "config": {}}),
    )
    with pytest.raises(
        TypeError, match=r"bad\.keras.*Could not locate class 'Mystery'"
    ):
        lamina.saving.load_model(path)


@pytest.mark.parametrize(
    "module, class_name",
    [
        ("os", "system"),  # CVE-2025-1550: arbitrary module and function
        ("builtins", "eval"),
        ("subprocess", "Popen"),
        ("keras.layers", "TFSMLayer"),  # CVE-2026-1462: loads an external model
    ],
)
def test_configs_cannot_name_arbitrary_modules(
    tmp_path, good_keras, module, class_name
):
    entry = {"module": module, "class_name": class_name, "config": {"args": ["id"]}}
    path = _with_config(tmp_path, good_keras, _add_layer(entry))
    with pytest.raises(TypeError, match="Could not locate class"):
        lamina.saving.load_model(path)


@pytest.mark.parametrize(
    "module, class_name",
    [
        # CVE-2025-8747 / -9906: call an API that turns safe mode off or loads
        # another file before the Lambda is reached.
        ("keras.config", "enable_unsafe_deserialization"),
        ("keras.saving", "load_model"),
        ("keras.models", "load_model"),
        ("keras.utils", "get_file"),
        ("keras", "saving"),
        ("keras.layers", "Input"),
    ],
)
def test_configs_cannot_call_non_modeling_apis(
    tmp_path, good_keras, module, class_name
):
    entry = {"module": module, "class_name": class_name, "config": {"filepath": "x"}}
    path = _with_config(tmp_path, good_keras, _add_layer(entry))
    with pytest.raises(
        TypeError, match="Could not locate class|Refusing to deserialize"
    ):
        lamina.saving.load_model(path)


def test_function_configs_resolve_only_family_functions(tmp_path, good_keras):
    def edit_activation(fn_config):
        def edit(config):
            config["config"]["layers"][1]["config"]["activation"] = fn_config

        return edit

    for fn_config in (
        {"module": "os", "class_name": "function", "config": "system"},
        {"module": "keras.activations", "class_name": "function", "config": "get"},
        {"module": "keras.saving", "class_name": "function", "config": "load_model"},
    ):
        path = _with_config(tmp_path, good_keras, edit_activation(fn_config))
        with pytest.raises(ValueError, match="Unknown activation"):
            lamina.saving.load_model(path)


def _lambda_model_file(tmp_path, good_keras):
    doubled = serialization_lib.serialize_keras_object(lambda x: x * 2.0)

    def edit(config):
        config["config"]["layers"][1]["config"]["activation"] = doubled

    return _with_config(tmp_path, good_keras, edit, name="lambda.keras")


def test_lambdas_load_only_with_safe_mode_off(tmp_path, good_keras):
    path = _lambda_model_file(tmp_path, good_keras)
    with pytest.raises(
        ValueError, match=r"lambda\.keras.*Python lambda.*safe_mode=False"
    ):
        lamina.saving.load_model(path)
    model = lamina.saving.load_model(path, safe_mode=False)
    reference = lamina.saving.load_model(tmp_path / "good.keras")
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(
        model.predict(x, verbose=0), 2 * reference.predict(x, verbose=0), rtol=1e-6
    )


def test_a_lambda_nested_deep_in_a_config_is_still_refused():
    lam = {"class_name": "__lambda__", "config": {"value": ["AAAA", None, None]}}
    inner = {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"units": 2, "kernel_initializer": lam},
    }
    with pytest.raises(ValueError, match="Python lambda"):
        serialization_lib.deserialize_keras_object(inner, kind="layer")


def test_numpy_values_in_configs_must_be_numeric():
    config = {"class_name": "__numpy__", "config": {"value": [1], "dtype": "object"}}
    with pytest.raises(ValueError, match="only numeric dtypes"):
        serialization_lib.deserialize_keras_object(config)


def test_legacy_h5_models_keep_safe_mode(tmp_path):
    # CVE-2025-9905: Keras's legacy .h5 loader skipped safe mode; lamina's does not.
    path = tmp_path / "old.h5"
    lam = {"class_name": "__lambda__", "config": {"value": ["AAAA", None, None]}}
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [{"class_name": "Lambda", "config": {"function": lam}}],
        },
    }
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ValueError, match=r"old\.h5.*Python lambda.*safe_mode=False"):
        lamina.saving.load_model(path)


# --- the HDF5 weights -----------------------------------------------------------


def _weights_file(tmp_path, tamper, name="bad.weights.h5"):
    path = tmp_path / name
    _model().save_weights(path)
    with h5py.File(path, "a") as f:
        tamper(f, tmp_path)
    return path


def _soft_link(f, tmp_path):
    del f["layers/dense/vars/1"]
    f["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense/vars/0")


def _external_link(f, tmp_path):
    del f["layers/dense/vars/1"]
    f["layers/dense/vars/1"] = h5py.ExternalLink("/etc/hosts", "/secret")


def _external_dataset(f, tmp_path):
    (tmp_path / "outside.bin").write_bytes(b"\0" * 8)
    del f["layers/dense/vars/1"]
    f["layers/dense/vars"].create_dataset(
        "1", shape=(2,), dtype="f4", external=[(str(tmp_path / "outside.bin"), 0, 8)]
    )


def _virtual_dataset(f, tmp_path):
    del f["layers/dense/vars/1"]
    layout = h5py.VirtualLayout(shape=(2,), dtype="f4")
    layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "data", shape=(2,))
    f["layers/dense/vars"].create_virtual_dataset("1", layout)


def _string_dataset(f, tmp_path):
    del f["layers/dense/vars/1"]
    f["layers/dense/vars"].create_dataset(
        "1", data=np.array([b"ab", b"cd"], dtype=object), dtype=h5py.string_dtype()
    )


def _shape_bomb(f, tmp_path):
    del f["layers/dense/vars/1"]
    f["layers/dense/vars"].create_dataset(
        "1", shape=(1 << 20, 1 << 20), dtype="f4", chunks=(64, 64), compression="gzip"
    )


@pytest.mark.parametrize(
    "tamper, match",
    [
        (_soft_link, "is a SoftLink"),
        (_external_link, "is a ExternalLink"),
        (_external_dataset, "external files"),
        (_virtual_dataset, "virtual dataset"),
        (_string_dataset, "only numeric arrays"),
        (_shape_bomb, "shape bomb"),
    ],
)
def test_hostile_hdf5_content_is_refused(tmp_path, tamper, match):
    path = _weights_file(tmp_path, tamper)
    with pytest.raises(ValueError, match=rf"bad\.weights\.h5.*{match}"):
        _model().load_weights(path)


def test_hostile_hdf5_inside_a_keras_archive_is_refused(tmp_path, good_keras):
    bad_h5 = _weights_file(tmp_path, _external_link, name="inner.weights.h5")
    members = _members(good_keras)
    members["model.weights.h5"] = bad_h5.read_bytes()
    path = _write_zip(tmp_path / "inner.keras", list(members.items()))
    with pytest.raises(
        ValueError, match=r"inner\.keras::model\.weights\.h5.*ExternalLink"
    ):
        lamina.saving.load_model(path)


def test_not_an_hdf5_file_is_named(tmp_path):
    path = tmp_path / "junk.weights.h5"
    path.write_bytes(b"junk" * 10)
    with pytest.raises(ValueError, match=r"junk\.weights\.h5.*not an HDF5"):
        _model().load_weights(path)


def test_check_h5_file_limits_nesting_depth(monkeypatch):
    monkeypatch.setattr(h5_store, "MAX_DEPTH", 3)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("a/b/c/d/e")
        with pytest.raises(ValueError, match="nested more than 3 deep"):
            h5_store.check_h5_file(f, "deep.h5")


def test_oversized_assets_are_refused(tmp_path, good_keras, monkeypatch):
    monkeypatch.setattr(keras_file, "MAX_ASSETS_BYTES", 10)
    members = list(_members(good_keras).items()) + [("assets/x/big.txt", b"0" * 11)]
    path = _write_zip(tmp_path / "assets.keras", members)
    with pytest.raises(ValueError, match=r"assets\.keras.*assets declare 11 bytes"):
        lamina.saving.load_model(path)
