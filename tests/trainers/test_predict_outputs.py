"""predict() joins its per-batch outputs into NumPy arrays without an extra copy;
the arrays are the caller's own, in the structure and dtype Keras returns."""

import numpy as np
import torch

import lamina
from lamina import layers


def _mlp(**dense_kwargs):
    model = lamina.Sequential(
        [lamina.Input((3,)), layers.Dense(4, kernel_initializer="ones", **dense_kwargs)]
    )
    return model


def test_predict_array_is_writable_and_independent_of_later_calls():
    model = _mlp()
    x = np.arange(30, dtype="float32").reshape(10, 3)
    first = model.predict(x, batch_size=4, verbose=0)
    assert first.shape == (10, 4) and first.flags.writeable
    expected = x.sum(1, keepdims=True).repeat(4, 1)
    np.testing.assert_allclose(first, expected)
    first[:] = -1.0
    again = model.predict(x, batch_size=4, verbose=0)
    np.testing.assert_allclose(again, expected)


def test_predict_of_bfloat16_outputs_gives_float32_arrays():
    model = _mlp(dtype="bfloat16")
    out = model.predict(np.ones((5, 3), "float32"), batch_size=2, verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 3.0)


def test_predict_of_a_multi_output_model_joins_each_output():
    inputs = lamina.Input((3,))
    a = layers.Dense(2, kernel_initializer="ones", name="a")(inputs)
    b = layers.Dense(1, kernel_initializer="zeros", name="b")(inputs)
    model = lamina.Model(inputs, {"a": a, "b": b})
    out = model.predict(np.ones((7, 3), "float32"), batch_size=3, verbose=0)
    assert set(out) == {"a", "b"}
    assert out["a"].shape == (7, 2) and out["b"].shape == (7, 1)
    np.testing.assert_allclose(out["a"], 3.0)
    np.testing.assert_allclose(out["b"], 0.0)


def test_predict_batch_end_callbacks_see_each_batch_of_outputs():
    seen = []

    class Recorder(lamina.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append((batch, tuple(logs["outputs"].shape)))

    model = _mlp()
    model.predict(
        np.ones((5, 3), "float32"), batch_size=2, verbose=0, callbacks=[Recorder()]
    )
    assert seen == [(0, (2, 4)), (1, (2, 4)), (2, (1, 4))]


def test_predict_matches_calling_the_model_for_a_cnn():
    model = lamina.Sequential(
        [
            lamina.Input((12, 12, 1)),
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).random((600, 12, 12, 1), dtype=np.float32)
    out = model.predict(x, batch_size=512, verbose=0)
    # The model called with gradients on takes torch's kernels throughout.
    expected = model(torch.from_numpy(x)).detach().cpu().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-7)
