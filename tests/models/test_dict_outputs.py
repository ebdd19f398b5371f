"""A functional model with a dict of outputs, as Keras 3 runs it: calls and
predict return the dict with its keys sorted, `output_names` are the output
layers' names in that order, and compile arguments, targets and logs go by key."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")

X = np.linspace(-1.0, 1.0, 12, dtype="float32").reshape(4, 3)
Y = {
    "zz": np.linspace(0.0, 2.0, 8, dtype="float32").reshape(4, 2),
    "aa": np.array([[1.0], [0.0], [-1.0], [2.0]], "float32"),
}


def _model(lib):
    """`{"zz": dense_a(x), "aa": dense_b(x)}`: keys unlike the layer names and
    not inserted in sorted order."""
    inputs = lib.Input((3,), name="x")
    a = lib.layers.Dense(2, name="dense_a")(inputs)
    b = lib.layers.Dense(1, name="dense_b")(inputs)
    return lib.Model(inputs, {"zz": a, "aa": b})


def _pair():
    keras = pytest.importorskip("keras")
    k_model, l_model = _model(keras), _model(lamina)
    l_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    return keras, k_model, l_model


def test_calls_and_predict_return_keys_sorted_and_names_are_the_layers():
    model = _model(lamina)
    assert model.output_names == ["dense_b", "dense_a"]
    assert list(model(X)) == ["aa", "zz"]
    for out in (model.predict(X, verbose=0), model.predict_on_batch(X)):
        assert list(out) == ["aa", "zz"]
        assert out["aa"].shape == (4, 1) and out["zz"].shape == (4, 2)
    # The structure as given stays where Keras keeps it.
    assert list(model.output) == ["zz", "aa"]
    assert model.get_config()["output_layers"] == {
        "zz": ["dense_a", 0, 0],
        "aa": ["dense_b", 0, 0],
    }
    assert [tuple(t.shape) for t in model.outputs] == [(None, 1), (None, 2)]


def test_nested_dicts_in_outputs_come_back_sorted():
    inputs = lamina.Input((3,))
    q = layers.Dense(2, name="q_layer")(inputs)
    b = layers.Dense(1, name="b_layer")(inputs)
    c = layers.Dense(1, name="c_layer")(inputs)
    model = lamina.Model(inputs, [{"q": q, "b": b}, c])
    out = model(X)
    assert list(out[0]) == ["b", "q"] and tuple(out[1].shape) == (4, 1)
    assert model.output_names == ["b_layer", "q_layer", "c_layer"]


def test_list_and_single_output_models_keep_their_names_and_structure():
    inputs = lamina.Input((3,))
    a = layers.Dense(2, name="dense_a")(inputs)
    b = layers.Dense(1, name="dense_b")(inputs)
    listed = lamina.Model(inputs, [b, a])
    assert listed.output_names == ["dense_b", "dense_a"]
    out = listed(X)
    assert isinstance(out, list) and tuple(out[0].shape) == (4, 1)
    assert lamina.Model(inputs, a).output_names == ["dense_a"]


def test_output_names_match_keras_also_when_keys_are_layer_names():
    keras = pytest.importorskip("keras")
    for lib in (keras, lamina):
        inputs = lib.Input((3,))
        a = lib.layers.Dense(2, name="dense_a")(inputs)
        b = lib.layers.Dense(1, name="dense_b")(inputs)
        model = lib.Model(inputs, {"dense_b": b, "dense_a": a})
        assert model.output_names == ["dense_a", "dense_b"], lib.__name__
        assert list(model(X)) == ["dense_a", "dense_b"], lib.__name__


@pytest.mark.parametrize(
    "compile_kwargs",
    [
        {"loss": {"zz": "mse", "aa": "mae"}, "metrics": {"zz": "mae", "aa": ["mse"]}},
        {"loss": {"aa": "mae", "zz": "mse"}, "metrics": ["mae", "mse"]},
        {"loss": ["mse", "mae"], "metrics": [["mae"], ["mse"]]},
        {"loss": "mse", "metrics": {"aa": "mae"}},
        {
            "loss": {"zz": "mse", "aa": "mae"},
            "loss_weights": {"zz": 1.0, "aa": 0.25},
            "metrics": {"aa": "mae"},
        },
        {"loss": ["mse", "mae"], "loss_weights": [2.0, 0.5]},
        {"loss": {"zz": "mse"}, "metrics": {"aa": "mae", "zz": "mse"}},
    ],
    ids=[
        "loss-dict",
        "loss-dict-sorted",
        "loss-list",
        "one-loss",
        "weights-dict",
        "weights-list",
        "partial-loss",
    ],
)
def test_compile_arguments_and_logs_match_keras(compile_kwargs):
    _, k_model, l_model = _pair()
    for model in (k_model, l_model):
        model.compile("sgd", **compile_kwargs)
    k_logs = k_model.evaluate(X, Y, verbose=0, return_dict=True)
    l_logs = l_model.evaluate(X, Y, verbose=0, return_dict=True)
    assert sorted(l_logs) == sorted(k_logs)
    for name in k_logs:
        np.testing.assert_allclose(l_logs[name], k_logs[name], rtol=1e-5, err_msg=name)
    # The list form: same values in the same order.
    np.testing.assert_allclose(
        l_model.evaluate(X, Y, verbose=0), k_model.evaluate(X, Y, verbose=0), rtol=1e-5
    )


def test_fit_logs_and_targets_as_a_list_follow_the_sorted_keys():
    _, k_model, l_model = _pair()
    for model in (k_model, l_model):
        model.compile("sgd", loss=["mse", "mae"], metrics={"zz": "mae"})
    k_hist = k_model.fit(X, Y, epochs=1, verbose=0).history
    l_hist = l_model.fit(X, Y, epochs=1, verbose=0).history
    assert sorted(l_hist) == sorted(k_hist) == ["aa_loss", "loss", "zz_loss", "zz_mae"]
    for name in k_hist:
        np.testing.assert_allclose(l_hist[name], k_hist[name], rtol=1e-5, err_msg=name)
    # Targets as a list line up with the sorted keys: `aa` first.
    as_list = l_model.evaluate(X, [Y["aa"], Y["zz"]], verbose=0, return_dict=True)
    as_dict = l_model.evaluate(X, Y, verbose=0, return_dict=True)
    assert as_list == pytest.approx(as_dict)


def test_losses_keyed_by_layer_names_are_rejected_naming_the_keys():
    model = _model(lamina)
    model.compile("sgd", loss={"dense_a": "mse", "dense_b": "mae"})
    with pytest.raises(ValueError, match=r"unknown outputs.*named \['aa', 'zz'\]"):
        model.evaluate(X, Y, verbose=0)


def test_saved_files_load_both_ways_with_keras_names_and_order(tmp_path):
    keras, k_model, l_model = _pair()
    expected = k_model.predict(X, verbose=0)
    l_model.save(tmp_path / "lamina.keras")
    k_model.save(tmp_path / "keras.keras")
    for model in (
        lamina.models.load_model(tmp_path / "lamina.keras"),
        lamina.models.load_model(tmp_path / "keras.keras"),
        keras.models.load_model(tmp_path / "lamina.keras"),
    ):
        assert model.output_names == ["dense_b", "dense_a"]
        assert list(model.get_config()["output_layers"]) == ["zz", "aa"]
        out = model.predict(X, verbose=0)
        assert list(out) == ["aa", "zz"]
        for key in out:
            np.testing.assert_allclose(out[key], expected[key], rtol=1e-5)
