"""Damaged and hostile files found by random mutation (session 7): each one
gets a ValueError that names the file, and a load that fails leaves the
model's weights as they were."""

import io
import json
import os
import sys
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.saving import h5_store


def _model():
    return lamina.Sequential([lamina.Input((4,)), layers.Dense(5), layers.Dense(2)])


def _weights(model):
    return [np.array(w.detach().cpu().numpy()) for w in model.weights]


def _assert_unchanged(model, before):
    for old, new in zip(before, _weights(model)):
        np.testing.assert_array_equal(old, new)


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_member(tmp_path, name, data, filename="bad.keras"):
    good = tmp_path / "good.keras"
    _model().save(good)
    members = _members(good)
    members[name] = data
    return _write_zip(tmp_path / filename, members)


def _edit_h5(path, edit):
    with h5py.File(path, "r+") as h5_file:
        edit(h5_file)
    return path


# --- JSON members read by KerasFileEditor and summarize ------------------------


@pytest.mark.parametrize("member", ["config.json", "metadata.json"])
@pytest.mark.parametrize(
    "data",
    [b"{not json", b'{"a": "\xb6"}', b"[" * 100_000],
    ids=["syntax", "bad-utf8", "recursion-bomb"],
)
def test_file_editor_refuses_bad_json_members_naming_the_file(tmp_path, member, data):
    path = _with_member(tmp_path, member, data, "json7.keras")
    with pytest.raises(ValueError, match=rf"json7\.keras.*'{member}' is not valid"):
        lamina.saving.KerasFileEditor(path)
    with pytest.raises(ValueError, match=rf"json7\.keras.*'{member}' is not valid"):
        lamina.saving.summarize(path, print_fn=None)


def test_summarize_refuses_a_config_that_is_not_an_object(tmp_path):
    path = _with_member(tmp_path, "config.json", b"[1, 2]", "list7.keras")
    with pytest.raises(ValueError, match=r"list7\.keras.*does not describe a model"):
        lamina.saving.summarize(path, print_fn=None)


# --- damaged HDF5 ----------------------------------------------------------------


@pytest.fixture
def weights_path(tmp_path):
    path = tmp_path / "w7.weights.h5"
    _model().save_weights(path)
    return path


def test_a_truncated_weights_file_is_named_by_every_reader(weights_path):
    data = weights_path.read_bytes()
    weights_path.write_bytes(data[: len(data) // 2])
    for read in (
        lamina.saving.KerasFileEditor,
        lambda p: lamina.saving.summarize(p, print_fn=None),
        _model().load_weights,
    ):
        with pytest.raises(ValueError, match=r"w7\.weights\.h5.*truncated"):
            read(weights_path)


def test_a_damaged_group_table_is_a_value_error_naming_the_file(weights_path):
    # h5py raised RuntimeError("Unable to get group info (bad symbol table
    # node signature)") from deep inside its group iteration.
    data = bytearray(weights_path.read_bytes())
    start = data.find(b"SNOD")
    assert start > 0
    data[start : start + 4] = b"XXXX"
    weights_path.write_bytes(bytes(data))
    model = _model()
    before = _weights(model)
    for read in (lamina.saving.KerasFileEditor, model.load_weights):
        with pytest.raises(ValueError, match=r"w7\.weights\.h5.*corrupt"):
            read(weights_path)
    _assert_unchanged(model, before)


def test_read_dataset_names_the_file_when_hdf5_cannot_read_it():
    class Unreadable:
        def __getitem__(self, key):
            raise OSError("Can't synchronously read data (actual len exceeds EOA)")

    with pytest.raises(ValueError, match=r"'layers/dense/vars/0' of 'f\.h5'.*EOA"):
        h5_store.read_dataset(Unreadable(), "'layers/dense/vars/0'", "f.h5")


def test_a_dataset_cut_into_millions_of_tiny_chunks_is_refused(weights_path):
    # A 4 MB dataset in a million 4-byte chunks took minutes to read.
    def edit(h5_file):
        del h5_file["layers/dense/vars/1"]
        h5_file["layers/dense/vars"].create_dataset(
            "1", shape=(1_000_000,), dtype="float32", chunks=(1,)
        )

    _edit_h5(weights_path, edit)
    model = _model()
    before = _weights(model)
    for read in (lamina.saving.KerasFileEditor, model.load_weights):
        with pytest.raises(ValueError, match=r"w7\.weights\.h5.*1000000 chunks"):
            read(weights_path)
    _assert_unchanged(model, before)


def test_few_large_chunks_are_still_read():
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5_file:
        h5_file.create_dataset("x", data=np.ones(70_000, "float32"), chunks=(1024,))
    with h5py.File(buffer, "r") as h5_file:
        h5_store.check_h5_file(h5_file, "ok.h5")


def test_file_editor_skips_groups_inside_the_root_vars_group(tmp_path):
    # Reading a group as a dataset raised h5py's TypeError.
    path = tmp_path / "root7.weights.h5"
    _model().save_weights(path)
    _edit_h5(path, lambda f: f.require_group("vars").create_group("extra"))
    editor = lamina.saving.KerasFileEditor(path)
    assert "vars" not in editor.weights_dict


# --- no half-loaded models ---------------------------------------------------


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras", ".safetensors"])
def test_a_file_that_does_not_fit_leaves_every_weight_unchanged(tmp_path, suffix):
    # The first Dense fits, the second does not: the first used to be loaded
    # before the error.
    saved = lamina.Sequential([lamina.Input((4,)), layers.Dense(5), layers.Dense(3)])
    path = tmp_path / f"fit7{suffix}"
    if suffix == ".keras":
        saved.save(path)
    else:
        saved.save_weights(path)
    model = _model()
    before = _weights(model)
    with pytest.raises(ValueError, match=r"fit7.*has shape \(5, 2\).*\(5, 3\)"):
        model.load_weights(path)
    _assert_unchanged(model, before)


def test_skip_mismatch_still_loads_what_fits(weights_path):
    saved = lamina.Sequential([lamina.Input((4,)), layers.Dense(5), layers.Dense(3)])
    saved.save_weights(weights_path)
    model = _model()
    with pytest.warns(UserWarning, match="skip_mismatch=True"):
        model.load_weights(weights_path, skip_mismatch=True)
    np.testing.assert_array_equal(_weights(model)[0], _weights(saved)[0])


def test_a_legacy_h5_file_that_does_not_fit_is_named_and_changes_nothing(tmp_path):
    path = tmp_path / "legacy7.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy format warns
        _model().save(path)

    def edit(h5_file):
        group = h5_file["model_weights"]
        last = [n for n in group if "dense" in n][-1]
        dataset = [n for n in _datasets(group[last])][-1]
        del group[last][dataset]
        group[last][dataset] = np.float32(1.0)

    _edit_h5(path, edit)
    model = _model()
    before = _weights(model)
    with pytest.raises(ValueError, match=r"legacy7\.h5.*the file has \(\)"):
        model.load_weights(path)
    _assert_unchanged(model, before)
    with pytest.raises(ValueError, match=r"legacy7\.h5.*the file has \(\)"):
        lamina.saving.load_model(path)


def _datasets(group):
    names = []
    group.visititems(
        lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
    )
    return names


# --- malformed configs ------------------------------------------------------------


def _config_with(tmp_path, edit, filename="cfg7.keras"):
    good = tmp_path / "good.keras"
    _model().save(good)
    members = _members(good)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return _write_zip(tmp_path / filename, members)


def _set_build_shape(value):
    def edit(config):
        config["config"]["layers"][1]["build_config"]["input_shape"] = value

    return edit


def _drop_dtype_class_name(config):
    del config["config"]["layers"][1]["config"]["dtype"]["class_name"]


def _set_units(value):
    def edit(config):
        config["config"]["layers"][1]["config"]["units"] = value

    return edit


@pytest.mark.parametrize(
    "edit, was",
    [
        (_set_build_shape([]), "IndexError"),
        (_drop_dtype_class_name, "AttributeError"),
        (_set_units(2**50), "RuntimeError"),
    ],
    ids=["empty-shape", "dtype-without-class-name", "huge-units"],
)
def test_configs_that_break_layer_building_name_the_file(tmp_path, edit, was):
    path = _config_with(tmp_path, edit)
    with pytest.raises(ValueError, match=r"cfg7\.keras") as info:
        lamina.saving.load_model(path)
    assert type(info.value.__cause__).__name__ in (was, "ValueError", "TypeError")


def test_model_from_json_refuses_deep_nesting_with_a_value_error():
    config = json.loads(_model().to_json())
    config["config"]["layers"][1]["config"]["units"] = "DEEP"
    # Deeper than the recursion limit of this process (other tests or
    # libraries may have raised it), written as text: json.dumps would refuse.
    depth = sys.getrecursionlimit() + 100
    text = json.dumps(config).replace('"DEEP"', "[" * depth + "1" + "]" * depth)
    with pytest.raises(ValueError, match=r"model_from_json\(\).*nested too deeply"):
        lamina.saving.model_from_json(text)


def test_model_from_json_names_itself_for_a_dtype_without_class_name():
    # Refused where the layer is made (it used to keep the dict as its policy
    # and fail later with an AttributeError).
    config = json.loads(_model().to_json())
    _drop_dtype_class_name(config)
    with pytest.raises(ValueError, match=r"model_from_json\(\).*dtype policy config"):
        lamina.saving.model_from_json(json.dumps(config))


# --- sharded index ------------------------------------------------------------------


def test_a_sharded_index_whose_weight_map_is_a_list_is_refused(tmp_path):
    index = tmp_path / "s7.weights.json"
    _model().save_weights(index, max_shard_size=0.001)
    content = json.loads(index.read_text())
    content["weight_map"] = [list(content["weight_map"].items())]
    index.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=r"s7\.weights\.json.*'weight_map'.*list"):
        _model().load_weights(index)
    assert os.path.exists(index)


def test_a_file_that_does_not_fit_leaves_the_optimizer_state_unchanged(tmp_path):
    # The walk went on past a failed layer and loaded the optimizer's slots.
    def trained(units):
        model = _model()
        model.compile(lamina.optimizers.Adam(0.01), "mse")
        x = np.ones((4, 4), "float32")
        model.fit(x, np.ones((4, units), "float32"), epochs=1, verbose=0)
        return model

    path = tmp_path / "opt7.weights.h5"
    trained(2).save_weights(path)

    def edit(h5_file):
        del h5_file["layers/dense_1/vars/1"]
        h5_file["layers/dense_1/vars/1"] = np.float32(0.0)

    _edit_h5(path, edit)
    model = _model()
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    model.optimizer.build(model.trainable_weights)
    with pytest.raises(ValueError, match=r"opt7\.weights\.h5.*holds shape \(\)"):
        model.load_weights(path)
    assert int(model.optimizer.iterations) == 0


def test_a_garbled_name_in_a_legacy_file_is_a_value_error(tmp_path):
    # h5py decodes link names as UTF-8: a flipped byte raised UnicodeDecodeError.
    path = tmp_path / "name7.h5"
    with h5py.File(path, "w") as h5_file:
        h5_file.attrs["layer_names"] = [b"dense"]
        h5_file.create_group("dense").attrs["weight_names"] = [b"dense/kernel:0"]
        h5_file["dense"].create_dataset("dense/kernel:0", data=np.ones((4, 5)))
    data = path.read_bytes()
    path.write_bytes(data.replace(b"kernel:0", b"kern\xe9l:0"))
    with pytest.raises(ValueError, match=r"name7\.h5"):
        _model().load_weights(path)
