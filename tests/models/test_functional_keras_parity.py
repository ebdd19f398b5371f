"""Functional models in lamina and Keras 3: same weights, same outputs, shared
configs."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

import lamina  # noqa: E402


def build(lib):
    a = lib.Input((4,), name="a")
    b = lib.Input((3,), name="b")
    shared = lib.layers.Dense(5, activation="tanh", name="shared")
    x = lib.layers.concatenate(
        [
            shared(lib.layers.Dense(5, name="pre_a")(a)),
            lib.layers.Dense(5, name="pre_b")(b),
        ]
    )
    residual = lib.layers.add([x, lib.layers.Dense(10, name="res")(x)])
    out_reg = lib.layers.Dense(1, name="out_reg")(lib.ops.multiply(residual, 0.5))
    out_cls = lib.layers.Dense(3, activation="softmax", name="out_cls")(
        lib.layers.Dropout(0.3, name="drop")(x)
    )
    return lib.Model([a, b], [out_reg, out_cls], name="twin")


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((6, 4)).astype("float32"),
        rng.standard_normal((6, 3)).astype("float32"),
    ]


def test_same_weights_give_the_same_predictions():
    # Both libraries number unnamed layers per session: start both afresh
    # (lamina's test fixture resets its own; Keras's counters carry over
    # from earlier tests).
    keras.backend.clear_session()
    k_model, l_model = build(keras), build(lamina)
    assert [layer.name for layer in l_model.layers] == [
        layer.name for layer in k_model.layers
    ]
    l_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    for got, want in zip(
        l_model.predict(inputs(), verbose=0), k_model.predict(inputs(), verbose=0)
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_lamina_config_builds_the_same_model_in_keras():
    l_model = build(lamina)
    config = json.loads(json.dumps(l_model.get_config()))
    k_model = keras.Model.from_config(config)
    k_model.set_weights(l_model.get_weights())
    for got, want in zip(
        k_model.predict(inputs(1), verbose=0), l_model.predict(inputs(1), verbose=0)
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_keras_config_builds_the_same_model_in_lamina():
    k_model = build(keras)
    config = json.loads(json.dumps(k_model.get_config()))
    l_model = lamina.models.Functional.from_config(config)
    l_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    for got, want in zip(
        l_model.predict(inputs(2), verbose=0), k_model.predict(inputs(2), verbose=0)
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_multi_output_training_matches_keras():
    k_model, l_model = build(keras), build(lamina)
    l_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    y = [np.ones((6, 1), "float32"), np.array([0, 1, 2, 0, 1, 2])]
    for model, lib in ((k_model, keras), (l_model, lamina)):
        model.compile(
            optimizer=lib.optimizers.SGD(0.05),
            loss=["mse", "sparse_categorical_crossentropy"],
            loss_weights=[1.0, 0.5],
            metrics=[["mae"], ["accuracy"]],
        )
    # Dropout is random: compare the deterministic evaluation, then one SGD step
    # each, then evaluation again.
    k_logs = k_model.evaluate(inputs(), y, return_dict=True, verbose=0)
    l_logs = l_model.evaluate(inputs(), y, return_dict=True, verbose=0)
    assert set(l_logs) == set(k_logs)
    for key in k_logs:
        assert l_logs[key] == pytest.approx(k_logs[key], rel=1e-5), key
