"""KerasFileEditor: read lamina- and Keras-written files, edit objects and
weights, save, and load the result into a model."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina.saving import KerasFileEditor  # noqa: E402

# Values are read with .numpy(): keep lamina on the CPU (see conftest.py).
pytestmark = pytest.mark.usefixtures("values_on_cpu")

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _mlp(*units, dtype=None):
    layers = [lamina.Input((4,))]
    layers += [lamina.layers.Dense(u, dtype=dtype) for u in units]
    return lamina.Sequential(layers)


def _flat(tree, path=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{path}/{key}"))
        else:
            out[f"{path}/{key}"] = np.asarray(value)
    return out


@pytest.fixture
def saved(tmp_path):
    model = _mlp(5, 3, 2)
    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    return model, path


def test_reads_every_weight_of_a_lamina_file(saved):
    model, path = saved
    editor = KerasFileEditor(path)
    assert editor.config is None and editor.metadata is None
    flat = _flat(editor.weights_dict)
    assert sorted(flat) == [
        f"/layers/{name}/{i}" for name in ("dense", "dense_1", "dense_2") for i in "01"
    ]
    kernel = model.layers[0].kernel.detach().numpy()
    np.testing.assert_array_equal(flat["/layers/dense/0"], kernel)
    assert editor.object_metadata["/layers/dense_1"] == {"name": "dense_1"}
    assert editor.compare(model) == {
        "status": "success",
        "error_count": 0,
        "match_count": 6,
    }


def test_delete_rename_and_replace_weights_then_load(saved, tmp_path):
    old, path = saved
    editor = KerasFileEditor(path)
    new_kernel = np.full((5, 2), 0.5, dtype="float32")
    # The middle layer goes; the last one takes its place with a new kernel.
    editor.delete_object("layers/dense_1")
    editor.rename_object("dense_2", "dense_1")
    editor.delete_weight("dense_1", "0")
    editor.add_weights("layers/dense_1", {"0": new_kernel})
    model = _mlp(5, 2)
    assert editor.compare(model)["status"] == "success"
    out = str(tmp_path / "edited.weights.h5")
    editor.save(out)
    model.load_weights(out)
    np.testing.assert_array_equal(
        model.layers[0].kernel.detach().numpy(), old.layers[0].kernel.detach().numpy()
    )
    np.testing.assert_array_equal(model.layers[1].kernel.detach().numpy(), new_kernel)
    np.testing.assert_array_equal(
        model.layers[1].bias.detach().numpy(), old.layers[2].bias.detach().numpy()
    )
    with h5py.File(out, "r") as f:
        assert f["layers/dense_1/vars"].attrs["name"] == "dense_2"


def test_add_object_for_a_new_layer(saved, tmp_path):
    _, path = saved
    editor = KerasFileEditor(path)
    weights = {"0": np.ones((2, 1), "float32"), "1": np.array([3.0], "float32")}
    editor.add_object("layers/dense_3", weights=weights)
    model = _mlp(5, 3, 2, 1)
    out = str(tmp_path / "added.weights.h5")
    editor.save(out)
    model.load_weights(out)
    np.testing.assert_array_equal(model.layers[3].bias.detach().numpy(), [3.0])


def test_compare_reports_each_mismatch(saved, capsys):
    _, path = saved
    result = KerasFileEditor(path).compare(_mlp(5, 4, 2, 1))
    # dense_1 kernel and bias, dense_2 kernel shapes; dense_3 missing.
    assert result == {"status": "error", "error_count": 4, "match_count": 3}
    printed = capsys.readouterr().out
    assert "Object /layers/dense_3 present in reference model" in printed
    assert "shape mismatch for /layers/dense_1/0" in printed


def test_summary_prints_the_tree(saved, capsys):
    _, path = saved
    KerasFileEditor(path).summary()
    printed = capsys.readouterr().out
    assert "dense_1 ('dense_1')" in printed
    assert "0: shape=(5, 3), dtype=float32" in printed


def test_bfloat16_weights_survive_a_resave(tmp_path):
    model = _mlp(3, dtype="bfloat16")
    path = str(tmp_path / "bf16.weights.h5")
    model.save_weights(path)
    editor = KerasFileEditor(path)
    out = str(tmp_path / "bf16_out.weights.h5")
    editor.save(out)
    clone = _mlp(3, dtype="bfloat16")
    clone.load_weights(out)
    assert clone.layers[0].kernel.dtype == model.layers[0].kernel.dtype
    assert bool((clone.layers[0].kernel == model.layers[0].kernel).all())


def test_keras_written_archive_edits_and_loads():
    editor = KerasFileEditor(os.path.join(FIXTURES, "keras_sequential.keras"))
    assert editor.config["class_name"] == "Sequential"
    assert editor.metadata["keras_version"].startswith("3.")
    assert sorted(editor.weights_dict) == ["layers", "optimizer"]
    assert sorted(editor.weights_dict["layers"]) == ["dense", "dense_1"]
    editor.delete_object("optimizer")
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            lamina.layers.Dense(5, activation="relu"),
            lamina.layers.Dropout(0.2),
            lamina.layers.Dense(2),
        ]
    )
    assert editor.compare(model)["match_count"] == 4


def test_keras_written_weights_file_round_trips(tmp_path):
    with open(os.path.join(FIXTURES, "expected.json")) as f:
        expected = json.load(f)
    editor = KerasFileEditor(os.path.join(FIXTURES, "keras_sequential.weights.h5"))
    editor.delete_object("optimizer")
    editor.rename_object("layers/dense_1", "dense_9")
    editor.rename_object("dense_9", "dense_1")
    out = tmp_path / "from_keras.weights.h5"
    editor.save(out)
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            lamina.layers.Dense(5, activation="relu"),
            lamina.layers.Dropout(0.2),
            lamina.layers.Dense(2),
        ]
    )
    model.load_weights(str(out))
    np.testing.assert_allclose(
        model.predict(np.array(expected["x"], "float32"), verbose=0),
        expected["sequential"],
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda e: e.rename_object("dense", "a/b"), ValueError, "without '/'"),
        (lambda e: e.rename_object("dense", "dense_1"), ValueError, "already exists"),
        (lambda e: e.delete_object("layers/nope"), ValueError, "not in the file"),
        (lambda e: e.delete_object("nope"), ValueError, "No object named"),
        (lambda e: e.delete_weight("dense", "7"), ValueError, r"weights are \['0'"),
        (lambda e: e.add_weights("dense", [1.0]), ValueError, "dict from weight"),
        (lambda e: e.add_object("nope/x", {}), ValueError, "'nope'.*not an object"),
        (lambda e: e.add_object("x", {"0": "text"}), TypeError, "numeric"),
        (lambda e: e.save("out.h5"), ValueError, r"\.weights\.h5"),
    ],
)
def test_bad_edits_are_refused(saved, call, error, match):
    _, path = saved
    with pytest.raises(error, match=match):
        call(KerasFileEditor(path))


def test_ambiguous_name_asks_for_a_path(tmp_path):
    outer = lamina.Sequential([lamina.Input((4,)), _mlp(2)])
    path = str(tmp_path / "nested.weights.h5")
    outer.save_weights(path)
    editor = KerasFileEditor(path)
    editor.add_object("layers/dense", {"0": np.zeros((1,), "float32")})
    with pytest.raises(ValueError, match="more than once"):
        editor.delete_object("dense")


def test_refuses_other_files_and_unsafe_h5(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras` and `\.weights\.h5"):
        KerasFileEditor(str(tmp_path / "model.h5"))
    path = str(tmp_path / "linked.weights.h5")
    with h5py.File(path, "w") as f:
        f["layers/dense/vars/0"] = np.zeros(2)
        f["layers/other"] = h5py.ExternalLink("/etc/passwd", "/")
    with pytest.raises(ValueError, match="ExternalLink"):
        KerasFileEditor(path)


def test_same_weights_dict_as_keras_and_keras_loads_the_edit(saved, tmp_path):
    keras = pytest.importorskip("keras")

    _, path = saved
    ours, theirs = KerasFileEditor(path), keras.saving.KerasFileEditor(path)
    ours_flat, theirs_flat = _flat(ours.weights_dict), _flat(theirs.weights_dict)
    assert sorted(ours_flat) == sorted(theirs_flat)
    for key, value in ours_flat.items():
        np.testing.assert_array_equal(value, theirs_flat[key])
    ours.delete_object("layers/dense_2")
    out = str(tmp_path / "for_keras.weights.h5")
    ours.save(out)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5), keras.layers.Dense(3)]
    )
    model.load_weights(out)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.layers[1].kernel),
        ours_flat["/layers/dense_1/0"],
    )
