import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina import random  # noqa: E402
from lamina.backend import convert_to_numpy  # noqa: E402

# Seeded lamina draws are made on the CPU; Keras's torch backend draws on its
# own device, so its side runs under keras.device("cpu") to compare numbers.


def keras_cpu(fn, *args, **kwargs):
    with keras.device("cpu"):
        return convert_to_numpy(fn(*args, **kwargs))


def test_public_names_match_keras():
    keras_names = {n for n in dir(keras.random) if not n.startswith("_")}
    assert set(random.__all__) == keras_names


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("normal", ((3, 4),), {"mean": 1.0, "stddev": 2.0}),
        ("uniform", ((3, 4),), {"minval": -1.0, "maxval": 3.0}),
        ("truncated_normal", ((40, 5),), {"mean": 0.5, "stddev": 3.0}),
        ("randint", ((30,), 0, 9), {}),
        ("gamma", ((6,), 2.5), {}),
        ("beta", ((6,), 2.0, 3.0), {}),
        ("binomial", ((6,), 10, 0.3), {}),
    ],
)
def test_int_seeded_draws_equal_keras_torch_backend(name, args, kwargs):
    ours = convert_to_numpy(getattr(random, name)(*args, seed=17, **kwargs))
    theirs = keras_cpu(getattr(keras.random, name), *args, seed=17, **kwargs)
    np.testing.assert_array_equal(ours, theirs)


def test_seed_generator_sequence_equals_keras():
    ours_gen, keras_gen = random.SeedGenerator(5), keras.random.SeedGenerator(5)
    for _ in range(3):
        ours = convert_to_numpy(random.normal((4,), seed=ours_gen))
        theirs = keras_cpu(keras.random.normal, (4,), seed=keras_gen)
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(
        convert_to_numpy(ours_gen.state), convert_to_numpy(keras_gen.state.value)
    )


@pytest.mark.parametrize("noise_shape", [None, (None, 1)])
def test_seeded_dropout_equals_keras(noise_shape):
    x = np.arange(1.0, 25.0, dtype="float32").reshape(4, 6)
    ours = convert_to_numpy(random.dropout(x, 0.4, noise_shape=noise_shape, seed=3))
    theirs = keras_cpu(
        keras.random.dropout, torch.as_tensor(x), 0.4, noise_shape=noise_shape, seed=3
    )
    # The same mask; the kept values are x / 0.6, which a GPU may round in the
    # last bit differently from Keras's CPU side.
    np.testing.assert_array_equal(ours == 0, theirs == 0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1])
def test_seeded_shuffle_equals_keras(axis):
    x = np.arange(24.0, dtype="float32").reshape(4, 6)
    ours = convert_to_numpy(random.shuffle(x, axis=axis, seed=3))
    theirs = keras_cpu(keras.random.shuffle, torch.as_tensor(x), axis=axis, seed=3)
    np.testing.assert_array_equal(ours, theirs)


def test_seeded_categorical_equals_keras_on_cpu():
    logits = np.random.default_rng(0).standard_normal((3, 5)).astype("float32")
    ours = convert_to_numpy(random.categorical(torch.as_tensor(logits), 12, seed=3))
    theirs = keras_cpu(keras.random.categorical, torch.as_tensor(logits), 12, seed=3)
    np.testing.assert_array_equal(ours, theirs)


def test_seed_generator_config_equals_keras():
    ours = random.SeedGenerator(9, name="gen").get_config()
    theirs = keras.random.SeedGenerator(9, name="gen").get_config()
    assert ours == theirs
