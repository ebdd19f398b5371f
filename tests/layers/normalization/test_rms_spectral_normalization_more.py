"""RMSNormalization and SpectralNormalization against Keras 3."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from tests.layers._parity_more import (  # noqa: E402
    assert_config_matches_keras,
    assert_from_config_round_trip,
    assert_model_file_round_trip,
    assert_weights_match_keras,
    to_numpy,
)

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3, 4)).astype("float32")


# --- RMSNormalization -----------------------------------------------------------


def test_rms_normalization_divides_by_root_mean_square():
    layer = layers.RMSNormalization(epsilon=0.0)
    out = to_numpy(layer(np.array([[3.0, 4.0]], "float32")))
    np.testing.assert_allclose(out, [[3.0, 4.0]] / np.sqrt(12.5), rtol=1e-6)


@pytest.mark.parametrize("axis", [1, [0, 2]])
def test_rms_normalization_over_leading_axes_matches_numpy(axis):
    # Keras 3.15's torch backend fails on these axes (F.rms_norm over a
    # non-trailing axis), so NumPy is the reference.
    layer = layers.RMSNormalization(axis=axis, epsilon=1e-3)
    layer(X)
    scale = RNG.normal(size=tuple(layer.scale.shape)).astype("float32")
    layer.set_weights([scale])
    axes = tuple(axis) if isinstance(axis, list) else (axis,)
    shape = [X.shape[a] if a in axes else 1 for a in range(X.ndim)]
    rms = np.sqrt(np.mean(X**2, axis=axes, keepdims=True) + 1e-3)
    expected = X / rms * scale.reshape(shape)
    np.testing.assert_allclose(to_numpy(layer(X)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_rms_normalization_matches_keras(axis):
    theirs = keras.layers.RMSNormalization(axis=axis, epsilon=1e-3)
    theirs(X)
    theirs.scale.assign(RNG.normal(size=tuple(theirs.scale.shape)).astype("float32"))
    ours = layers.RMSNormalization(axis=axis, epsilon=1e-3)
    ours(X)
    assert_weights_match_keras(ours, theirs)
    np.testing.assert_allclose(
        to_numpy(ours(X)), to_numpy(theirs(X)), rtol=1e-5, atol=1e-5
    )
    assert_config_matches_keras(ours, theirs)


def test_rms_normalization_keeps_half_precision_inputs_dtype():
    layer = layers.RMSNormalization(dtype="float16")
    out = layer(torch.ones((2, 4), dtype=torch.float16))
    assert out.dtype == torch.float16
    np.testing.assert_allclose(to_numpy(out.float()), np.ones((2, 4)), rtol=1e-3)


def test_rms_normalization_symbolic_config_and_file(tmp_path):
    out = layers.RMSNormalization(axis=[1, 2])(lamina.Input((3, 4)))
    assert tuple(out.shape) == (None, 3, 4)
    layer = layers.RMSNormalization(axis=[1, 2], epsilon=1e-4)
    layer(X)
    clone = assert_from_config_round_trip(layer)
    assert clone.axis == [1, 2] and clone.epsilon == 1e-4
    assert_model_file_round_trip(layers.RMSNormalization(), (3, 4), X, tmp_path)


def test_rms_normalization_file_loads_in_keras(tmp_path):
    inputs = lamina.Input((3, 4))
    model = lamina.Model(inputs, layers.RMSNormalization()(inputs))
    model.layers[-1].scale.data.fill_(2.0)
    path = str(tmp_path / "rms.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        to_numpy(loaded(X)), to_numpy(model(X)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("axis", [5, [-4]])
def test_rms_normalization_rejects_out_of_range_axis(axis):
    with pytest.raises(ValueError, match="out of range"):
        layers.RMSNormalization(axis=axis)(X)


def test_rms_normalization_rejects_bad_axis_type():
    with pytest.raises(TypeError, match="axis"):
        layers.RMSNormalization(axis="last")


# --- Wrapper ----------------------------------------------------------------------


class _Doubled(layers.Wrapper):
    def call(self, inputs):
        return 2 * self.layer(inputs)


def test_wrapper_builds_the_wrapped_layer_and_round_trips_its_config():
    wrapped = _Doubled(layers.Dense(3, kernel_initializer="ones", name="inner"))
    out = wrapped(np.ones((1, 2), "float32"))
    np.testing.assert_allclose(to_numpy(out), [[4.0, 4.0, 4.0]])
    assert [w.path.split("/")[-1] for w in wrapped.weights] == ["kernel", "bias"]
    config = wrapped.get_config()
    assert config["layer"]["class_name"] == "Dense"
    clone = _Doubled.from_config(config)
    assert isinstance(clone.layer, layers.Dense) and clone.layer.name == "inner"


def test_wrapper_rejects_what_is_not_a_layer():
    with pytest.raises(ValueError, match="layer instance"):
        layers.Wrapper(torch.nn.Linear(2, 2))


# --- SpectralNormalization ---------------------------------------------------------


def _pair(make_inner, x, **kwargs):
    theirs = keras.layers.SpectralNormalization(make_inner(keras.layers), **kwargs)
    theirs(x)
    ours = layers.SpectralNormalization(make_inner(layers), **kwargs)
    ours(x)
    assert_weights_match_keras(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("power_iterations", [1, 3])
def test_spectral_normalization_training_step_matches_keras(power_iterations):
    x = RNG.normal(size=(4, 5)).astype("float32")
    ours, theirs = _pair(lambda lib: lib.Dense(3), x, power_iterations=power_iterations)
    assert [w.path.split("/")[-1] for w in ours.weights] == [
        "kernel",
        "vector_u",
        "bias",
    ]
    for _ in range(2):  # the kept vector_u carries over between calls
        expected = to_numpy(theirs(x, training=True))
        np.testing.assert_allclose(
            to_numpy(ours(x, training=True)), expected, rtol=1e-5, atol=1e-5
        )
    for mine, other in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(to_numpy(mine), to_numpy(other), atol=1e-5)
    assert_config_matches_keras(ours, theirs)


def test_spectral_normalization_training_brings_the_spectral_norm_to_one():
    layer = layers.SpectralNormalization(layers.Dense(4), power_iterations=20)
    x = RNG.normal(size=(2, 6)).astype("float32")
    layer(x)
    with torch.no_grad():
        layer.layer.kernel.mul_(5.0)
    before = to_numpy(layer(x))
    after = to_numpy(layer(x, training=True))
    sigma = np.linalg.svd(to_numpy(layer.layer.kernel), compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=1e-3)
    assert not np.allclose(before, after)
    # Inference leaves the kernel alone.
    kernel = to_numpy(layer.layer.kernel).copy()
    layer(x)
    np.testing.assert_array_equal(to_numpy(layer.layer.kernel), kernel)


def test_spectral_normalization_of_conv_and_embedding_matches_keras():
    x = RNG.normal(size=(2, 6, 6, 3)).astype("float32")
    ours, theirs = _pair(lambda lib: lib.Conv2D(4, 3), x)
    np.testing.assert_allclose(
        to_numpy(ours(x, training=True)),
        to_numpy(theirs(x, training=True)),
        rtol=1e-5,
        atol=1e-5,
    )
    ids = np.array([[1, 2, 3]])
    ours, theirs = _pair(lambda lib: lib.Embedding(5, 4), ids)
    assert [w.path.split("/")[-1] for w in ours.weights] == ["embeddings", "vector_u"]


def test_spectral_normalization_leaves_an_all_zero_kernel():
    layer = layers.SpectralNormalization(layers.Dense(2, kernel_initializer="zeros"))
    x = np.ones((1, 3), "float32")
    layer(x)
    u = to_numpy(layer.vector_u).copy()
    layer(x, training=True)
    assert not np.isnan(to_numpy(layer.layer.kernel)).any()
    np.testing.assert_array_equal(to_numpy(layer.vector_u), u)


def test_spectral_normalization_symbolic_config_and_file(tmp_path):
    out = layers.SpectralNormalization(layers.Dense(3))(lamina.Input((5,)))
    assert tuple(out.shape) == (None, 3)
    layer = layers.SpectralNormalization(layers.Dense(3), power_iterations=2)
    x = RNG.normal(size=(2, 5)).astype("float32")
    layer(x)
    clone = assert_from_config_round_trip(layer)
    assert clone.power_iterations == 2 and isinstance(clone.layer, layers.Dense)
    loaded = assert_model_file_round_trip(layer, (5,), x, tmp_path)
    spectral = loaded.layers[-1]
    np.testing.assert_array_equal(to_numpy(spectral.vector_u), to_numpy(layer.vector_u))


@pytest.mark.parametrize("power_iterations", [0, -1, 1.5])
def test_spectral_normalization_rejects_bad_power_iterations(power_iterations):
    with pytest.raises(ValueError, match="power_iterations"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=power_iterations)


def test_spectral_normalization_needs_a_kernel():
    with pytest.raises(ValueError, match="no `kernel` nor `embeddings`"):
        layers.SpectralNormalization(layers.ReLU())(np.ones((1, 2), "float32"))


def test_spectral_normalization_file_loads_in_keras_and_back(tmp_path):
    inputs = lamina.Input((5,))
    model = lamina.Model(inputs, layers.SpectralNormalization(layers.Dense(3))(inputs))
    x = RNG.normal(size=(2, 5)).astype("float32")
    path = str(tmp_path / "spectral.keras")
    model.save(path)
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(theirs(x)), to_numpy(model(x)), atol=1e-6)
    np.testing.assert_array_equal(
        to_numpy(theirs.layers[-1].vector_u), to_numpy(model.layers[-1].vector_u)
    )
    back_path = str(tmp_path / "back.keras")
    theirs.save(back_path)
    back = lamina.saving.load_model(back_path)
    np.testing.assert_allclose(to_numpy(back(x)), to_numpy(model(x)), atol=1e-6)
