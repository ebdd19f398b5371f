"""Same weights and data in lamina and Keras 3 (torch backend): same training."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

import lamina  # noqa: E402


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype("float32")
    y = rng.integers(0, 3, n)
    return x, y


def build_pair(optimizer_name, **optimizer_kwargs):
    def layers_of(lib):
        return [
            lib.Input((6,)),
            lib.layers.Dense(8, activation="relu"),
            lib.layers.Dense(3, activation="softmax"),
        ]

    k_model = keras.Sequential(layers_of(keras))
    l_model = lamina.Sequential(layers_of(lamina))
    l_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    k_model.compile(
        optimizer=getattr(keras.optimizers, optimizer_name)(**optimizer_kwargs),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    l_model.compile(
        optimizer=getattr(lamina.optimizers, optimizer_name)(**optimizer_kwargs),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return k_model, l_model


@pytest.mark.parametrize(
    "optimizer_name,kwargs",
    [
        ("Adam", {"learning_rate": 0.01}),
        ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
        ("RMSprop", {"learning_rate": 0.01}),
    ],
)
def test_fit_follows_the_same_trajectory_as_keras(optimizer_name, kwargs):
    x, y = data()
    k_model, l_model = build_pair(optimizer_name, **kwargs)
    k_hist = k_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    l_hist = l_model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(
        l_hist.history["loss"], k_hist.history["loss"], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        l_hist.history["accuracy"], k_hist.history["accuracy"], atol=1e-6
    )
    for l_w, k_w in zip(l_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(l_w, np.asarray(k_w), rtol=1e-4, atol=1e-5)


def test_evaluate_and_predict_match_keras():
    x, y = data(seed=1)
    k_model, l_model = build_pair("Adam")
    np.testing.assert_allclose(
        l_model.predict(x, verbose=0),
        k_model.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        l_model.evaluate(x, y, batch_size=10, verbose=0),
        k_model.evaluate(x, y, batch_size=10, verbose=0),
        rtol=1e-5,
    )


def test_validation_split_and_regularizers_match_keras():
    x, y = data(seed=2)

    def layers_of(lib):
        return [
            lib.Input((6,)),
            lib.layers.Dense(
                8, activation="tanh", kernel_regularizer=lib.regularizers.L2(0.01)
            ),
            lib.layers.Dense(3, activation="softmax"),
        ]

    k_model = keras.Sequential(layers_of(keras))
    l_model = lamina.Sequential(layers_of(lamina))
    l_model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    for model, lib in ((k_model, keras), (l_model, lamina)):
        model.compile(
            optimizer=lib.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy"
        )
    k_hist = k_model.fit(
        x, y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0
    )
    l_hist = l_model.fit(
        x, y, batch_size=8, epochs=2, shuffle=False, validation_split=0.25, verbose=0
    )
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(l_hist.history[key], k_hist.history[key], rtol=1e-5)
