import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.regularization.activity_regularization import (  # noqa: E402
    ActivityRegularization,
)
from lamina.layers.regularization.alpha_dropout import AlphaDropout  # noqa: E402
from lamina.layers.regularization.gaussian_dropout import (  # noqa: E402
    GaussianDropout,
)
from lamina.layers.regularization.gaussian_noise import GaussianNoise  # noqa: E402
from lamina.layers.regularization.spatial_dropout import (  # noqa: E402
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)

RNG = np.random.default_rng(4)

# (lamina class, Keras name, constructor args, input shape)
CASES = [
    (SpatialDropout1D, "SpatialDropout1D", {"rate": 0.4, "seed": 11}, (3, 4, 6)),
    (SpatialDropout2D, "SpatialDropout2D", {"rate": 0.4, "seed": 12}, (3, 2, 2, 6)),
    (
        SpatialDropout2D,
        "SpatialDropout2D",
        {"rate": 0.5, "seed": 13, "data_format": "channels_first"},
        (3, 6, 2, 2),
    ),
    (SpatialDropout3D, "SpatialDropout3D", {"rate": 0.3, "seed": 14}, (2, 2, 2, 2, 5)),
    (GaussianNoise, "GaussianNoise", {"stddev": 0.7, "seed": 15}, (4, 5)),
    (GaussianDropout, "GaussianDropout", {"rate": 0.3, "seed": 16}, (4, 5)),
    (AlphaDropout, "AlphaDropout", {"rate": 0.3, "seed": 17}, (4, 5)),
    (
        AlphaDropout,
        "AlphaDropout",
        {"rate": 0.3, "seed": 18, "noise_shape": (None, 1, 5)},
        (4, 3, 5),
    ),
]


@pytest.mark.parametrize("cls, name, kwargs, shape", CASES)
def test_seeded_training_outputs_match_keras_call_after_call(cls, name, kwargs, shape):
    ours, theirs = cls(**kwargs), getattr(keras.layers, name)(**kwargs)
    x = RNG.standard_normal(shape).astype("float32")
    for _ in range(3):  # the seed generators advance in step
        np.testing.assert_allclose(
            convert_to_numpy(ours(x, training=True)),
            convert_to_numpy(theirs(x, training=True)),
            rtol=1e-6,
            atol=1e-6,
        )
    np.testing.assert_array_equal(convert_to_numpy(ours(x)), x)


@pytest.mark.parametrize("cls, name, kwargs, shape", CASES)
def test_configs_match_keras(cls, name, kwargs, shape):
    a, b = (
        cls(**kwargs).get_config(),
        getattr(keras.layers, name)(**kwargs).get_config(),
    )
    a.pop("name"), b.pop("name")
    assert a == b


def test_activity_regularization_matches_keras():
    ours = ActivityRegularization(l1=0.1, l2=0.3)
    theirs = keras.layers.ActivityRegularization(l1=0.1, l2=0.3)
    x = RNG.standard_normal((4, 3)).astype("float32")
    ours(x), theirs(x)
    np.testing.assert_allclose(
        [convert_to_numpy(v) for v in ours.losses],
        [convert_to_numpy(v) for v in theirs.losses],
        rtol=1e-6,
    )
    a, b = ours.get_config(), theirs.get_config()
    a.pop("name"), b.pop("name")
    assert a == b
