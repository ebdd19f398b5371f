"""Regressions from keras-io's training guide: compiling again, per-output logs."""

import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")

X = np.ones((4, 3), "float32")
Y = np.ones((4, 1), "float32")


def _model(k):
    return k.Sequential([k.Input((3,)), k.layers.Dense(1)])


def test_compile_without_loss_or_metrics_keeps_the_previous_ones():
    model = _model(lamina)
    model.compile("sgd", "mse", metrics=["mae"])
    model.compile(optimizer="adam")
    assert model.loss == "mse"
    assert model.get_compile_config()["loss"] is None  # records what was passed
    history = model.fit(X, Y, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    model.compile(optimizer="adam", metrics=["mse"])
    assert sorted(model.fit(X, Y, verbose=0).history) == ["loss", "mse"]


def test_first_compile_without_loss_still_has_no_loss():
    model = _model(lamina)
    model.compile("adam")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(X, Y, verbose=0)


def _two_outputs(k):
    inputs = k.Input((3,))
    return k.Model(
        inputs,
        [k.layers.Dense(1, name="a")(inputs), k.layers.Dense(2, name="b")(inputs)],
    )


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # output a has no loss
def test_per_output_losses_are_logged_only_with_two_or_more_losses():
    model = _two_outputs(lamina)
    targets = [Y, np.ones((4, 2), "float32")]
    model.compile("adam", loss=[None, "mse"])
    assert sorted(model.fit(X, targets, verbose=0).history) == ["loss"]
    model.compile("adam", loss=["mse", "mse"])
    assert sorted(model.fit(X, targets, verbose=0).history) == [
        "a_loss",
        "b_loss",
        "loss",
    ]


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_history_keys_match_keras():
    keras = pytest.importorskip("keras")
    targets = [Y, np.ones((4, 2), "float32")]
    keys = []
    for k in (lamina, keras):
        model = _two_outputs(k)
        model.compile("adam", loss=["mse", "mse"], metrics=[["mae"], ["mae"]])
        model.compile("adam", loss=[None, "mse"])
        keys.append(sorted(model.fit(X, targets, verbose=0).history))
    assert keys[0] == keys[1]


def _with_features(k):
    # keras-io's miniature GPT returns [logits, features] and compiles
    # loss=[loss_fn, None]; fit gets a single array of targets.
    inputs = k.Input((3,))
    features = k.layers.Dense(4, name="features")(inputs)
    return k.Model(inputs, [k.layers.Dense(2, name="logits")(features), features])


def test_single_targets_go_to_the_only_output_with_a_loss():
    model = _with_features(lamina)
    model.compile("adam", loss=["mse", None], metrics=[["mae"], None])
    history = model.fit(X, np.ones((4, 2), "float32"), epochs=2, verbose=0)
    assert sorted(history.history) == ["logits_mae", "loss"]
    assert history.history["loss"][1] < history.history["loss"][0]
    loss, mae = model.evaluate(X, np.ones((4, 2), "float32"), verbose=0)
    assert loss > 0 and mae > 0


def test_single_targets_with_two_losses_are_still_refused():
    model = _with_features(lamina)
    model.compile("adam", loss=["mse", "mse"])
    with pytest.raises(ValueError, match="single array"):
        model.fit(X, np.ones((4, 2), "float32"), verbose=0)


def test_single_targets_match_keras_losses():
    keras = pytest.importorskip("keras")
    ours, theirs = _with_features(lamina), _with_features(keras)
    theirs.set_weights(ours.get_weights())
    y = np.full((4, 2), 0.5, "float32")
    for model in (ours, theirs):
        model.compile("sgd", loss=["mse", None])
    np.testing.assert_allclose(
        ours.evaluate(X, y, verbose=0), theirs.evaluate(X, y, verbose=0), rtol=1e-5
    )
