"""Saving gaps found in sessions 7-8 (session 9): tuples survive file round
trips while files keep JSON lists, a failed load leaves every weight as it was
(also for layers that load themselves), and a global heap that libhdf5 would
read forever is refused before h5py touches it."""

import io
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from lamina.saving import h5_store  # noqa: E402

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

X = np.random.default_rng(0).random((4, 8, 8, 3), dtype=np.float32)


def _conv_stack(lib):
    return lib.Sequential(
        [
            lib.Input((8, 8, 3)),
            lib.layers.Conv2D(2, 3, name="conv"),
            lib.layers.ZeroPadding2D(((1, 1), (2, 2)), name="pad"),
            lib.layers.Reshape((-1,), name="flat"),
        ]
    )


# --- 1. tuples in configs, lists in files --------------------------------------


def test_keras_file_config_holds_lists_and_loads_back_tuples(tmp_path):
    path = str(tmp_path / "model.keras")
    _conv_stack(lamina).save(path)
    with zipfile.ZipFile(path) as archive:
        text = archive.read("config.json").decode()
    layer_configs = json.loads(text)["config"]["layers"]
    assert layer_configs[1]["config"]["kernel_size"] == [3, 3]
    assert layer_configs[2]["config"]["padding"] == [[1, 1], [2, 2]]
    loaded = lamina.saving.load_model(path)
    config = loaded.get_config()["layers"]
    assert config[1]["config"]["kernel_size"] == (3, 3)
    assert config[2]["config"]["padding"] == ((1, 1), (2, 2))
    assert config[3]["config"]["target_shape"] == (-1,)


def test_keras_files_with_tuples_load_both_ways(tmp_path):
    keras = pytest.importorskip("keras")
    ours, theirs = _conv_stack(lamina), _conv_stack(keras)
    ours.set_weights(theirs.get_weights())
    ours.save(str(tmp_path / "ours.keras"))
    theirs.save(str(tmp_path / "theirs.keras"))
    in_keras = keras.saving.load_model(str(tmp_path / "ours.keras"))
    in_lamina = lamina.saving.load_model(str(tmp_path / "theirs.keras"))
    expected = np.asarray(theirs.predict(X, verbose=0))
    np.testing.assert_allclose(in_keras.predict(X, verbose=0), expected, atol=1e-6)
    np.testing.assert_allclose(in_lamina.predict(X, verbose=0), expected, atol=1e-6)
    assert in_lamina.get_layer("pad").get_config()["padding"] == ((1, 1), (2, 2))


# --- 5. a failed load changes nothing ------------------------------------------


def _quantized_first():
    model = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(3, name="q"), layers.Dense(2, name="d")]
    )
    model.get_layer("q").quantize("int8")  # loads itself (load_own_variables)
    return model


def _snapshot(model):
    return [w.detach().cpu().numpy().copy() for w in model.weights]


def _assert_bit_identical(model, before):
    after = _snapshot(model)
    assert len(after) == len(before)
    for old, new in zip(before, after):
        assert old.dtype == new.dtype
        assert old.tobytes() == new.tobytes()


def _replace_dataset(path, key, value):
    with h5py.File(path, "r+") as f:
        del f[key]
        f[key] = value


def test_a_bad_shape_after_a_self_loading_layer_changes_no_weight(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    _quantized_first().save_weights(path)
    _replace_dataset(path, "layers/dense_1/vars/0", np.zeros((5, 2), "float32"))
    model = _quantized_first()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"has shape \(3, 2\).*holds shape \(5, 2\)"):
        model.load_weights(path)
    _assert_bit_identical(model, before)


def test_a_bad_shape_in_a_keras_archive_changes_no_weight(tmp_path):
    path = str(tmp_path / "m.keras")
    _quantized_first().save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    weights = io.BytesIO(members["model.weights.h5"])
    with h5py.File(weights, "r+") as f:
        del f["layers/dense_1/vars/1"]
        f["layers/dense_1/vars/1"] = np.zeros((7,), "float32")
    members["model.weights.h5"] = weights.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    model = _quantized_first()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"variable 1 .*has shape \(2,\).*\(7,\)"):
        model.load_weights(path)
    _assert_bit_identical(model, before)
    with pytest.raises(ValueError, match=r"m\.keras::model\.weights\.h5"):
        lamina.saving.load_model(path)


def _tf_idf_model(texts):
    inputs = lamina.Input((1,), dtype="string")
    lookup = layers.StringLookup(output_mode="tf_idf", name="lookup")
    lookup.adapt(np.array(texts).reshape(-1, 1))
    return lamina.Model(inputs, layers.Dense(2, name="d")(lookup(inputs)))


def test_a_lookup_layer_keeps_its_idf_weights_when_a_later_layer_fails(tmp_path):
    path = str(tmp_path / "lookup.keras")
    _tf_idf_model(["a", "b", "b", "c"]).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    weights = io.BytesIO(members["model.weights.h5"])
    with h5py.File(weights, "r+") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((9, 2), "float32")
    members["model.weights.h5"] = weights.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    model = _tf_idf_model(["x", "y", "y", "z", "w"])
    lookup = model.get_layer("lookup")
    idf, vocabulary = np.array(lookup.idf_weights), lookup.get_vocabulary()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"has shape \(5, 2\).*holds shape \(9, 2\)"):
        model.load_weights(path)
    assert np.array(lookup.idf_weights).tobytes() == idf.tobytes()
    assert lookup.get_vocabulary() == vocabulary
    _assert_bit_identical(model, before)


def test_a_non_numeric_dataset_is_refused_before_any_weight_changes(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    _quantized_first().save_weights(path)
    _replace_dataset(path, "layers/dense_1/vars/0", np.array([b"ab", b"cd"]))
    model = _quantized_first()
    before = _snapshot(model)
    with pytest.raises(ValueError, match="has dtype .*only numeric arrays"):
        model.load_weights(path)
    _assert_bit_identical(model, before)


def test_an_unreadable_dataset_changes_no_weight(tmp_path):
    # The last dataset is stored compressed with its bytes broken: HDF5 fails
    # only when the data is read, after every shape was checked.
    path = str(tmp_path / "m.weights.h5")
    _quantized_first().save_weights(path)
    key = "layers/dense_1/vars/1"
    with h5py.File(path, "r+") as f:
        value = f[key][()]
        del f[key]
        f.create_dataset(key, data=value, chunks=value.shape, compression="gzip")
    with h5py.File(path, "r") as f:
        offset = f[key].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * 8)
    model = _quantized_first()
    before = _snapshot(model)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        model.load_weights(path)
    _assert_bit_identical(model, before)


def test_skip_mismatch_loads_what_fits_and_keeps_the_rest(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    source = _quantized_first()
    source.save_weights(path)
    _replace_dataset(path, "layers/dense_1/vars/0", np.zeros((5, 2), "float32"))
    model = _quantized_first()
    kept = _snapshot(model)[-2:]
    with pytest.warns(UserWarning, match="skip_mismatch=True"):
        model.load_weights(path, skip_mismatch=True)
    for ours, theirs in zip(
        model.get_layer("q").weights, source.get_layer("q").weights
    ):
        assert np.array_equal(
            lamina.ops.convert_to_numpy(ours), lamina.ops.convert_to_numpy(theirs)
        )
    for old, new in zip(kept, _snapshot(model)[-2:]):
        assert old.tobytes() == new.tobytes()


class _HalfLoader(layers.Layer):
    """Loads its first variable, then fails on the second (as torch's
    load_state_dict does on a size mismatch)."""

    def build(self, input_shape):
        self.a = self.add_weight(shape=(2,), initializer="ones", name="a")
        self.b = self.add_weight(shape=(2,), initializer="ones", name="b")

    def call(self, x):
        return x

    def load_own_variables(self, store):
        self.a.assign(store["0"])
        raise ValueError("second variable does not fit")


def test_a_layer_that_fails_half_way_through_its_own_load_is_put_back(tmp_path):
    path = str(tmp_path / "m.weights.h5")

    def model():
        return lamina.Sequential(
            [lamina.Input((2,)), layers.Dense(2), _HalfLoader(name="half")]
        )

    source = model()
    source.get_layer("half").a.assign(np.array([5.0, 6.0], "float32"))
    source.save_weights(path)
    target = model()
    before = _snapshot(target)
    with pytest.raises(ValueError, match="second variable does not fit"):
        target.load_weights(path)
    _assert_bit_identical(target, before)


# --- 6. a global heap libhdf5 would read forever --------------------------------


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _spinning_heap_file(path):
    """A weights file whose global heap free-space object has size 0."""
    lamina.Sequential([lamina.Input((4,)), layers.Dense(3)]).save_weights(path)
    data = bytearray(_read_bytes(path))
    start = data.find(b"GCOL")
    p = start + 16
    while int.from_bytes(data[p : p + 2], "little") != 0:
        size = int.from_bytes(data[p + 8 : p + 16], "little")
        p += 16 + (size + 7) // 8 * 8
    data[p + 8 : p + 16] = bytes(8)
    with open(path, "wb") as f:
        f.write(bytes(data))
    return p


def test_a_heap_that_would_spin_is_refused_naming_where(tmp_path):
    path = str(tmp_path / "spin.weights.h5")
    at = _spinning_heap_file(path)
    with pytest.raises(ValueError, match=rf"object of size 0 at byte {at}"):
        h5_store.check_global_heaps(path, path)
    buffer = io.BytesIO(_read_bytes(path))
    buffer.seek(5)
    with pytest.raises(ValueError, match="read forever"):
        h5_store.check_global_heaps(buffer, "in-memory")
    assert buffer.tell() == 5
    with pytest.raises(ValueError, match="spin.weights.h5.*global heap"):
        h5_store.open_h5_for_reading(path, path)


def test_healthy_files_pass_the_heap_check(tmp_path):
    path = str(tmp_path / "ok.weights.h5")
    lamina.Sequential([lamina.Input((4,)), layers.Dense(3)]).save_weights(path)
    h5_store.check_global_heaps(path, path)
    buffer = io.BytesIO(_read_bytes(path))
    buffer.seek(7)
    h5_store.check_global_heaps(buffer, path)
    assert buffer.tell() == 7


def test_loading_a_heap_that_would_spin_is_refused_before_h5py_opens_it(
    tmp_path, monkeypatch
):
    path = str(tmp_path / "spin.weights.h5")
    _spinning_heap_file(path)

    def must_not_open(*args, **kwargs):
        raise AssertionError("h5py opened a file whose heap libhdf5 would spin on")

    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(3)])
    before = _snapshot(model)
    monkeypatch.setattr(h5py, "File", must_not_open)
    with pytest.raises(ValueError, match="spin.weights.h5.*read forever"):
        model.load_weights(path)
    _assert_bit_identical(model, before)
