"""ReversibleEmbedding against Keras 3, and layers.serialize / deserialize."""

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
IDS = np.array([[0, 3, 5, 1], [2, 2, 0, 6]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"tie_weights": False},
        {"logit_soft_cap": 2.0, "mask_zero": True},
        {"tie_weights": False, "reverse_dtype": "float64"},
    ],
)
def test_reversible_embedding_matches_keras(kwargs):
    theirs = keras.layers.ReversibleEmbedding(7, 4, **kwargs)
    theirs(IDS)
    ours = layers.ReversibleEmbedding(7, 4, **kwargs)
    ours(IDS)
    weights = [
        RNG.normal(size=tuple(w.shape)).astype("float32") for w in theirs.weights
    ]
    theirs.set_weights(weights)
    assert_weights_match_keras(ours, theirs)
    np.testing.assert_allclose(to_numpy(ours(IDS)), to_numpy(theirs(IDS)), rtol=1e-6)
    hidden = RNG.normal(size=(2, 4, 4)).astype("float32")
    logits, expected = ours(hidden, reverse=True), theirs(hidden, reverse=True)
    assert logits.dtype == getattr(torch, kwargs.get("reverse_dtype", "float32"))
    np.testing.assert_allclose(
        to_numpy(logits), to_numpy(expected), rtol=1e-5, atol=1e-5
    )
    assert_config_matches_keras(ours, theirs)


def test_reversible_embedding_mask_rides_on_lookups_only():
    layer = layers.ReversibleEmbedding(7, 4, mask_zero=True)
    out = layer(IDS)
    np.testing.assert_array_equal(to_numpy(out._keras_mask), IDS != 0)
    assert getattr(layer(out, reverse=True), "_keras_mask", None) is None


def test_reversible_embedding_tied_logits_are_hidden_times_embeddings_transposed():
    layer = layers.ReversibleEmbedding(5, 3, logit_soft_cap=1.5)
    hidden = RNG.normal(size=(2, 3)).astype("float32")
    layer(np.array([[1]]))
    table = to_numpy(layer.embeddings)
    expected = np.tanh(hidden @ table.T / 1.5) * 1.5
    np.testing.assert_allclose(
        to_numpy(layer(hidden, reverse=True)), expected, rtol=1e-5
    )


def test_reversible_embedding_symbolic_shapes_config_and_file(tmp_path):
    layer = layers.ReversibleEmbedding(7, 4, tie_weights=False)
    ids = lamina.Input((4,), dtype="int32")
    hidden = layer(ids)
    assert tuple(hidden.shape) == (None, 4, 4)
    assert tuple(layer(hidden, reverse=True).shape) == (None, 4, 7)
    clone = assert_from_config_round_trip(layer)
    assert clone.tie_weights is False
    loaded = assert_model_file_round_trip(
        layers.ReversibleEmbedding(7, 4, tie_weights=False),
        (4,),
        IDS,
        tmp_path,
        dtype="int32",
    )
    names = [w.path.split("/")[-1] for w in loaded.layers[-1].weights]
    assert names == ["embeddings", "reverse_embeddings"]


@pytest.mark.parametrize("cap", [0, -1.0, "big"])
def test_reversible_embedding_rejects_bad_soft_cap(cap):
    with pytest.raises(ValueError, match="logit_soft_cap"):
        layers.ReversibleEmbedding(5, 3, logit_soft_cap=cap)


# --- layers.serialize / layers.deserialize ----------------------------------------


def test_serialize_gives_keras_schema_and_keras_reads_it():
    layer = layers.Dense(3, activation="relu", name="head")
    config = layers.serialize(layer)
    assert config["module"] == "keras.layers"
    assert config["class_name"] == "Dense"
    assert config["registered_name"] is None
    assert config["config"]["units"] == 3
    theirs = keras.layers.deserialize(config)
    assert isinstance(theirs, keras.layers.Dense) and theirs.name == "head"


def test_deserialize_reads_keras_configs_including_new_layers():
    for layer in (
        keras.layers.RMSNormalization(epsilon=1e-4),
        keras.layers.GroupQueryAttention(4, 4, 2),
        keras.layers.SpectralNormalization(keras.layers.Dense(2)),
        keras.layers.ConvLSTM2D(3, 3),
    ):
        ours = layers.deserialize(keras.layers.serialize(layer))
        assert type(ours).__name__ in (type(layer).__name__, "GroupQueryAttention")
        assert ours.name == layer.name


def test_serialize_round_trip_keeps_config():
    layer = layers.AdaptiveMaxPooling2D((2, 3), name="pool")
    clone = layers.deserialize(layers.serialize(layer))
    assert isinstance(clone, layers.AdaptiveMaxPooling2D)
    assert clone.get_config() == layer.get_config()


def test_deserialize_accepts_a_config_without_module():
    clone = layers.deserialize({"class_name": "Dense", "config": {"units": 2}})
    assert isinstance(clone, layers.Dense) and clone.units == 2


def test_deserialize_rejects_configs_of_other_objects():
    config = lamina.initializers.serialize(lamina.initializers.Ones())
    with pytest.raises(ValueError, match="config of a layer"):
        layers.deserialize(config)


def test_serialize_rejects_non_layers():
    with pytest.raises(TypeError, match="layer instance"):
        layers.serialize(torch.nn.Linear(2, 2))
