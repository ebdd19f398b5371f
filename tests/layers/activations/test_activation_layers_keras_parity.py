import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.activations.elu import ELU  # noqa: E402
from lamina.layers.activations.leaky_relu import LeakyReLU  # noqa: E402
from lamina.layers.activations.prelu import PReLU  # noqa: E402
from lamina.layers.activations.relu import ReLU  # noqa: E402
from lamina.layers.activations.softmax import Softmax  # noqa: E402

RNG = np.random.default_rng(5)
X = (RNG.standard_normal((2, 3, 4)) * 3).astype("float32")


def keras_weights(layer):
    # Keras's own get_weights() trips a NumPy 2 DeprecationWarning (-W error).
    return [convert_to_numpy(v.value) for v in layer.weights]


def assert_same_config(ours, theirs):
    a, b = ours.get_config(), theirs.get_config()
    a.pop("name"), b.pop("name")
    assert a == b


@pytest.mark.parametrize(
    "cls, name, kwargs",
    [
        (ReLU, "ReLU", {}),
        (ReLU, "ReLU", {"max_value": 2.0, "negative_slope": 0.2, "threshold": 0.5}),
        (ReLU, "ReLU", {"max_value": 6.0}),
        (ReLU, "ReLU", {"threshold": 1.0}),
        (LeakyReLU, "LeakyReLU", {}),
        (LeakyReLU, "LeakyReLU", {"negative_slope": 0.05}),
        (ELU, "ELU", {}),
        (ELU, "ELU", {"alpha": 0.3}),
        (Softmax, "Softmax", {}),
        (Softmax, "Softmax", {"axis": 1}),
        (Softmax, "Softmax", {"axis": [1, 2]}),
    ],
)
def test_parameter_free_activation_layers_match_keras(cls, name, kwargs):
    ours, theirs = cls(**kwargs), getattr(keras.layers, name)(**kwargs)
    np.testing.assert_allclose(
        convert_to_numpy(ours(X)), convert_to_numpy(theirs(X)), rtol=1e-6, atol=1e-6
    )
    assert_same_config(ours, theirs)


@pytest.mark.parametrize("mask_shape", [(2, 3, 4), (2, 1, 4), (4,)])
def test_masked_softmax_matches_keras(mask_shape):
    mask = RNG.uniform(size=mask_shape) > 0.4
    mask[..., 0] = False  # one fully masked position at least
    ours = Softmax()(X, mask=mask)
    theirs = keras.layers.Softmax()(X, mask=mask)
    np.testing.assert_allclose(
        convert_to_numpy(ours), convert_to_numpy(theirs), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"shared_axes": [1]},
        {"shared_axes": [1, 2]},
        {
            "alpha_initializer": "ones",
            "alpha_regularizer": "l2",
            "alpha_constraint": "non_neg",
        },
    ],
)
def test_prelu_matches_keras(kwargs):
    ours, theirs = PReLU(**kwargs), keras.layers.PReLU(**kwargs)
    theirs.build(X.shape)
    ours(X)
    alpha = RNG.uniform(0.1, 0.9, keras_weights(theirs)[0].shape).astype("float32")
    theirs.set_weights([alpha])
    ours.set_weights([alpha])
    np.testing.assert_allclose(
        convert_to_numpy(ours(X)), convert_to_numpy(theirs(X)), rtol=1e-6, atol=1e-6
    )
    assert [tuple(w.shape) for w in ours.get_weights()] == [alpha.shape]
    assert ours.count_params() == theirs.count_params()
    assert_same_config(ours, theirs)
