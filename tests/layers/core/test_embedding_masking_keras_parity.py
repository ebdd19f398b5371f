"""Embedding, Masking and Identity against Keras 3: outputs, masks, configs."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.core.embedding import Embedding  # noqa: E402
from lamina.layers.core.identity import Identity  # noqa: E402
from lamina.layers.core.masking import Masking  # noqa: E402


def _config(layer):
    config = dict(layer.get_config())
    config.pop("name")
    return config


def _keras_weights(layer):
    # Not get_weights(): Keras 3.15's Variable.__array__ warns under NumPy 2.
    return [convert_to_numpy(v.value) for v in layer.weights]


def _mask(tensor):
    mask = getattr(tensor, "_keras_mask", None)
    return None if mask is None else convert_to_numpy(mask)


EMBEDDING_CASES = [
    {},
    {"mask_zero": True},
    {"embeddings_initializer": "glorot_normal", "embeddings_regularizer": "l2"},
    {"embeddings_constraint": "non_neg", "activity_regularizer": "l1"},
]


@pytest.mark.parametrize("kwargs", EMBEDDING_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
def test_embedding_outputs_masks_weights_and_config_match_keras(kwargs, dtype):
    x = np.array([[3, 0, 7, 1], [0, 0, 9, 2]]).astype(dtype)
    if dtype == "float32":
        x = x + 0.6  # truncated to the same indices by both
    theirs = keras.layers.Embedding(10, 4, **kwargs)
    expected = theirs(x)
    ours = Embedding(10, 4, **kwargs)
    ours.build()
    ours.set_weights(_keras_weights(theirs))
    got = ours(x)
    np.testing.assert_allclose(
        convert_to_numpy(got), convert_to_numpy(expected), rtol=1e-6, atol=1e-6
    )
    if kwargs.get("mask_zero"):
        np.testing.assert_array_equal(_mask(got), _mask(expected))
    else:
        assert _mask(got) is None and _mask(expected) is None
    assert [w.shape for w in ours.get_weights()] == [
        w.shape for w in _keras_weights(theirs)
    ]
    assert ours.count_params() == theirs.count_params()
    assert _config(ours) == _config(theirs)
    assert ours.compute_output_shape((None, 4)) == theirs.compute_output_shape(
        (None, 4)
    )


def test_embedding_built_from_a_keras_config_matches_it():
    theirs = keras.layers.Embedding(
        6, 3, mask_zero=True, embeddings_initializer="he_uniform"
    )
    ours = Embedding.from_config(theirs.get_config())
    assert ours.get_config() == theirs.get_config()


def test_embedding_weights_argument_matches_keras():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    x = np.array([[0, 3, 2]])
    theirs = keras.layers.Embedding(4, 3, weights=table)
    ours = Embedding(4, 3, weights=table)
    np.testing.assert_array_equal(
        convert_to_numpy(ours(x)), convert_to_numpy(theirs(x))
    )


MASKING_INPUT = np.array(
    [[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]], [[0.0, 0.0], [5.0, 5.0], [5.0, 5.0]]],
    "float32",
)


@pytest.mark.parametrize("mask_value", [0.0, 5.0, 3.0])
def test_masking_outputs_masks_and_config_match_keras(mask_value):
    theirs = keras.layers.Masking(mask_value=mask_value)
    ours = Masking(mask_value=mask_value)
    expected, got = theirs(MASKING_INPUT), ours(MASKING_INPUT)
    np.testing.assert_array_equal(convert_to_numpy(got), convert_to_numpy(expected))
    np.testing.assert_array_equal(_mask(got), _mask(expected))
    np.testing.assert_array_equal(
        convert_to_numpy(ours.compute_mask(got)),
        convert_to_numpy(theirs.compute_mask(expected)),
    )
    assert _config(ours) == _config(theirs)
    assert ours.compute_output_shape((None, 3, 2)) == tuple(
        theirs.compute_output_shape((None, 3, 2))
    )


def test_identity_output_and_config_match_keras():
    theirs, ours = keras.layers.Identity(), Identity()
    np.testing.assert_array_equal(
        convert_to_numpy(ours(MASKING_INPUT)), convert_to_numpy(theirs(MASKING_INPUT))
    )
    assert _config(ours) == _config(theirs)
