import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import torch  # noqa: E402

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.normalization.batch_normalization import (  # noqa: E402
    BatchNormalization,
)

RNG = np.random.default_rng(1)


def keras_weights(layer):
    # Keras's own get_weights() trips a NumPy 2 DeprecationWarning (-W error).
    return [convert_to_numpy(v.value) for v in layer.weights]


def twin(**kwargs):
    """A Keras layer and a lamina layer with the same arguments and weights."""
    ours = BatchNormalization(**kwargs)
    theirs = keras.layers.BatchNormalization(**kwargs)
    return ours, theirs


def build_both(ours, theirs, shape):
    theirs.build(shape)
    ours(np.zeros(shape, "float32"))
    weights = keras_weights(theirs)
    # Non-trivial weights so that every term of the formula shows.
    weights = [w + RNG.uniform(0.1, 0.5, w.shape).astype("float32") for w in weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)


def assert_same_state(ours, theirs):
    for a, b in zip(ours.get_weights(), keras_weights(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((8, 5), {}),
        ((4, 6, 3), {"momentum": 0.8}),
        ((2, 5, 5, 4), {"epsilon": 1e-5}),
        ((2, 4, 5, 5), {"axis": 1, "momentum": 0.5}),
        ((3, 4, 2, 5), {"axis": 2, "center": False}),
        ((2, 3, 3, 2, 4), {"scale": False}),
    ],
)
def test_training_steps_and_inference_match_keras(shape, kwargs):
    ours, theirs = twin(**kwargs)
    build_both(ours, theirs, shape)
    for step in range(4):
        x = (RNG.standard_normal(shape) * (step + 1) + step).astype("float32")
        out = ours(x, training=True)
        expected = convert_to_numpy(theirs(x, training=True))
        np.testing.assert_allclose(
            convert_to_numpy(out), expected, rtol=1e-5, atol=1e-5
        )
        assert_same_state(ours, theirs)
    x = RNG.standard_normal(shape).astype("float32")
    np.testing.assert_allclose(
        convert_to_numpy(ours(x, training=False)),
        convert_to_numpy(theirs(x, training=False)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_masked_training_matches_keras():
    ours, theirs = twin(momentum=0.7)
    shape = (3, 6, 4)
    build_both(ours, theirs, shape)
    mask = RNG.uniform(size=shape[:2]) > 0.4
    for _ in range(3):
        x = RNG.standard_normal(shape).astype("float32") * 2
        out = ours(x, training=True, mask=torch.as_tensor(mask))
        expected = theirs(x, training=True, mask=mask)
        np.testing.assert_allclose(
            convert_to_numpy(out), convert_to_numpy(expected), rtol=1e-5, atol=1e-5
        )
        assert_same_state(ours, theirs)


def test_renorm_training_matches_keras():
    kwargs = {
        "renorm": True,
        "renorm_clipping": {"rmax": 1.5, "rmin": 0.7, "dmax": 0.5},
        "renorm_momentum": 0.6,
        "momentum": 0.8,
    }
    ours, theirs = twin(**kwargs)
    shape = (6, 3)
    theirs.build(shape)
    ours(np.zeros(shape, "float32"))
    assert [w.shape for w in ours.get_weights()] == [
        tuple(w.shape) for w in keras_weights(theirs)
    ]
    for step in range(4):
        x = (RNG.standard_normal(shape) * 3 + step).astype("float32")
        out = ours(x, training=True)
        expected = theirs(x, training=True)
        np.testing.assert_allclose(
            convert_to_numpy(out), convert_to_numpy(expected), rtol=1e-5, atol=1e-5
        )
        assert_same_state(ours, theirs)


def test_frozen_layer_matches_keras_in_training_mode():
    ours, theirs = twin()
    build_both(ours, theirs, (4, 3))
    ours.trainable = theirs.trainable = False
    x = RNG.standard_normal((4, 3)).astype("float32")
    np.testing.assert_allclose(
        convert_to_numpy(ours(x, training=True)),
        convert_to_numpy(theirs(x, training=True)),
        rtol=1e-5,
        atol=1e-6,
    )
    assert_same_state(ours, theirs)


def test_weights_params_and_config_match_keras():
    kwargs = {
        "axis": 1,
        "momentum": 0.9,
        "gamma_initializer": "he_normal",
        "beta_regularizer": "l2",
        "gamma_constraint": "non_neg",
    }
    ours, theirs = twin(**kwargs)
    theirs.build((2, 3, 4))
    ours(np.zeros((2, 3, 4), "float32"))
    assert [w.shape for w in ours.get_weights()] == [
        tuple(w.shape) for w in keras_weights(theirs)
    ]
    assert [w.path for w in ours.weights] == [
        w.path.replace(theirs.name, ours.name) for w in theirs.weights
    ]
    assert ours.count_params() == theirs.count_params()
    a, b = ours.get_config(), theirs.get_config()
    a.pop("name"), b.pop("name")
    assert a == b


@pytest.mark.parametrize("masked", [False, True])
def test_training_gradients_match_keras(masked):
    ours, theirs = twin()
    shape = (4, 5, 3)
    build_both(ours, theirs, shape)
    x = RNG.standard_normal(shape).astype("float32")
    # On Keras's device: Keras does not move a mask or a torch input there.
    # lamina moves them to its own; backward() takes the upstream gradient
    # where each output is.
    upstream = keras.ops.convert_to_tensor(RNG.standard_normal(shape), "float32")
    mask = (
        keras.ops.convert_to_tensor(RNG.uniform(size=shape[:2]) > 0.3)
        if masked
        else None
    )
    grads = []
    for layer, params in (
        (ours, [ours.gamma, ours.beta]),
        (theirs, [theirs.gamma.value, theirs.beta.value]),
    ):
        xt = torch.tensor(x, requires_grad=True, device=upstream.device)
        out = layer(xt, training=True, mask=mask)
        out.backward(upstream.to(out.device))
        grads.append(
            [convert_to_numpy(g) for g in [xt.grad] + [p.grad for p in params]]
        )
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
