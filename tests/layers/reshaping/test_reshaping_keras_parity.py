"""Reshaping layers against Keras 3: same outputs, shapes and configs."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.reshaping.cropping1d import Cropping1D  # noqa: E402
from lamina.layers.reshaping.cropping2d import Cropping2D  # noqa: E402
from lamina.layers.reshaping.cropping3d import Cropping3D  # noqa: E402
from lamina.layers.reshaping.permute import Permute  # noqa: E402
from lamina.layers.reshaping.repeat_vector import RepeatVector  # noqa: E402
from lamina.layers.reshaping.reshape import Reshape  # noqa: E402
from lamina.layers.reshaping.up_sampling1d import UpSampling1D  # noqa: E402
from lamina.layers.reshaping.up_sampling2d import UpSampling2D  # noqa: E402
from lamina.layers.reshaping.up_sampling3d import UpSampling3D  # noqa: E402
from lamina.layers.reshaping.zero_padding1d import ZeroPadding1D  # noqa: E402
from lamina.layers.reshaping.zero_padding2d import ZeroPadding2D  # noqa: E402
from lamina.layers.reshaping.zero_padding3d import ZeroPadding3D  # noqa: E402

CF = {"data_format": "channels_first"}

# (lamina class, constructor kwargs, input shape with batch)
CASES = [
    (Reshape, {"target_shape": (3, 4)}, (2, 12)),
    (Reshape, {"target_shape": (-1, 2)}, (2, 3, 4)),
    (Reshape, {"target_shape": (2, -1, 3)}, (2, 4, 3)),
    (Permute, {"dims": (2, 1)}, (2, 3, 4)),
    (Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5)),
    (RepeatVector, {"n": 3}, (2, 4)),
    (Cropping1D, {}, (2, 5, 3)),
    (Cropping1D, {"cropping": (0, 2)}, (2, 5, 3)),
    (Cropping1D, {"cropping": 2}, (2, 6, 3)),
    (Cropping2D, {}, (2, 5, 6, 3)),
    (Cropping2D, {"cropping": 1}, (2, 5, 6, 3)),
    (Cropping2D, {"cropping": (1, 2)}, (2, 5, 6, 3)),
    (Cropping2D, {"cropping": ((1, 0), (0, 2))}, (2, 5, 6, 3)),
    (Cropping2D, {"cropping": ((1, 2), (2, 1)), **CF}, (2, 3, 5, 6)),
    (Cropping3D, {}, (2, 4, 5, 6, 2)),
    (Cropping3D, {"cropping": ((1, 0), (0, 2), (1, 1))}, (2, 4, 5, 6, 2)),
    (Cropping3D, {"cropping": (1, 0, 2), **CF}, (2, 2, 4, 5, 6)),
    (ZeroPadding1D, {}, (2, 3, 2)),
    (ZeroPadding1D, {"padding": (2, 0)}, (2, 3, 2)),
    (ZeroPadding1D, {"padding": (1, 3), **CF}, (2, 2, 3)),
    (ZeroPadding2D, {}, (2, 3, 4, 2)),
    (ZeroPadding2D, {"padding": 2}, (2, 3, 4, 2)),
    (ZeroPadding2D, {"padding": ((1, 0), (2, 3))}, (2, 3, 4, 2)),
    (ZeroPadding2D, {"padding": (1, 2), **CF}, (2, 2, 3, 4)),
    (ZeroPadding3D, {}, (1, 2, 3, 2, 2)),
    (ZeroPadding3D, {"padding": ((0, 1), (2, 0), (1, 1)), **CF}, (1, 2, 2, 3, 2)),
    (UpSampling1D, {}, (2, 3, 2)),
    (UpSampling1D, {"size": 3}, (2, 3, 2)),
    (UpSampling2D, {}, (2, 3, 4, 2)),
    (UpSampling2D, {"size": (1, 3)}, (2, 3, 4, 2)),
    (UpSampling2D, {"size": (2, 3), **CF}, (2, 2, 3, 4)),
    (UpSampling2D, {"size": (2, 3), "interpolation": "bilinear"}, (2, 3, 4, 2)),
    (UpSampling2D, {"size": 2, "interpolation": "bilinear", **CF}, (2, 2, 3, 4)),
    (UpSampling2D, {"size": (3, 2), "interpolation": "bicubic"}, (2, 3, 4, 2)),
    (UpSampling3D, {}, (1, 2, 3, 2, 2)),
    (UpSampling3D, {"size": (1, 2, 3), **CF}, (1, 2, 2, 3, 2)),
]


def _ids(case):
    cls, kwargs, _ = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def _config(layer):
    config = dict(layer.get_config())
    config.pop("name")
    return config


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_outputs_shapes_and_config_match_keras(case):
    cls, kwargs, shape = case
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours = cls(**kwargs)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    expected = convert_to_numpy(theirs(x))
    got = ours(x).cpu().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert _config(ours) == _config(theirs)
    # Shapes with an unknown batch and, where Keras allows it, an unknown axis.
    symbolic = (None, *shape[1:])
    assert ours.compute_output_shape(symbolic) == tuple(
        theirs.compute_output_shape(symbolic)
    )
    if cls is not Reshape and len(shape) > 2:
        partial = (None, None, *shape[2:])
        assert ours.compute_output_shape(partial) == tuple(
            theirs.compute_output_shape(partial)
        )
    assert ours.count_params() == theirs.count_params() == 0


def test_config_from_keras_builds_the_same_layer():
    theirs = keras.layers.Cropping2D(((1, 2), (3, 4)), data_format="channels_first")
    ours = Cropping2D.from_config(theirs.get_config())
    assert ours.get_config() == theirs.get_config()
