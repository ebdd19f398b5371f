"""Regressions found by running Keras's developer guides side by side with Keras."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina import layers, ops  # noqa: E402


def _sampling_layer(lib):
    """The guides' VAE `Sampling` layer, written against `lib` (lamina or keras)."""

    class Sampling(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = lib.random.SeedGenerator(3)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = lib.random.normal(
                shape=lib.ops.shape(z_mean), seed=self.seed_generator
            )
            return z_mean + lib.ops.exp(0.5 * z_log_var) * epsilon

    return Sampling()


def _functional_sampler(lib):
    layer = _sampling_layer(lib)
    a, b = lib.Input((2,)), lib.Input((2,))
    return layer, lib.Model([a, b], layer((a, b)))


def test_building_a_functional_model_leaves_seed_generators_unadvanced():
    layer, _ = _functional_sampler(lamina)
    # Keras traces symbolic calls in a stateless scope: the counter stays at 0.
    assert ops.convert_to_numpy(layer.seed_generator.state).tolist() == [3, 0]


def test_functional_model_draws_the_same_noise_as_keras():
    keras = pytest.importorskip("keras")
    zeros = np.zeros((2, 2), "float32")
    _, model = _functional_sampler(lamina)
    ours = [ops.convert_to_numpy(model([zeros, zeros])) for _ in range(2)]
    with keras.device("cpu"):
        _, keras_model = _functional_sampler(keras)
        theirs = [
            keras.ops.convert_to_numpy(keras_model([zeros, zeros])) for _ in range(2)
        ]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_eager_draws_still_advance_the_generator():
    layer = _sampling_layer(lamina)
    zeros = np.zeros((2, 2), "float32")
    first = ops.convert_to_numpy(layer((zeros, zeros)))
    second = ops.convert_to_numpy(layer((zeros, zeros)))
    assert not np.allclose(first, second)
    assert ops.convert_to_numpy(layer.seed_generator.state).tolist() == [3, 2]


def _names_after_sequential_builds(lib):
    lib.backend.clear_session(free_memory=False)
    seq = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
    seq.add(lib.layers.Dense(3))
    lazy = lib.Sequential([lib.layers.Dense(2)])
    lazy(np.ones((1, 3), "float32"))
    inputs = lib.Input((3,))
    model = lib.Model(inputs, lib.layers.Dense(2)(inputs))
    return seq.name, lazy.name, model.name


def test_each_sequential_build_uses_up_a_functional_name():
    # Keras runs a built Sequential through an unnamed Functional model (one
    # per build), so the next Model(...) is "functional_3" here.
    assert _names_after_sequential_builds(lamina) == (
        "sequential",
        "sequential_1",
        "functional_3",
    )
    lamina.backend.clear_session(free_memory=False)


def test_functional_names_after_sequential_builds_match_keras():
    keras = pytest.importorskip("keras")
    ours = _names_after_sequential_builds(lamina)
    theirs = _names_after_sequential_builds(keras)
    lamina.backend.clear_session(free_memory=False)
    keras.backend.clear_session()
    assert ours == theirs


def test_unbuilt_sequential_uses_no_functional_name():
    lamina.backend.clear_session(free_memory=False)
    layers_list = [layers.Dense(2), layers.Dense(1)]
    lamina.Sequential(layers_list)
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, layers.Dense(2)(inputs))
    lamina.backend.clear_session(free_memory=False)
    assert model.name == "functional"
