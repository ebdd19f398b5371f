"""Differences from Keras found by Keras's layers/ unit tests (session 10)."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


# --- `layer.build()` without a shape is saved and rebuilt on load ------------


# Sequential([layer]) without an Input is not built: both libraries warn on save.
_UNBUILT_SAVE = [
    pytest.mark.filterwarnings("ignore:Saving model .* not built yet"),
    pytest.mark.filterwarnings("ignore:You are saving a model that has not yet"),
]


@pytest.mark.parametrize("mode", [None, "int8", "int4"])
@pytest.mark.parametrize("cls", ["Embedding", "ReversibleEmbedding"])
@_UNBUILT_SAVE[0]
def test_embedding_built_without_shape_round_trips(tmp_path, cls, mode):
    layer = getattr(layers, cls)(input_dim=10, output_dim=8)
    layer.build()
    if mode:
        layer.quantize(mode)
    assert layer.get_build_config() == {"shapes_dict": {}}
    x = np.array([[1, 2, 3], [9, 0, 4]])
    before = lamina.ops.convert_to_numpy(layer(x))
    path = str(tmp_path / "m.keras")
    lamina.models.Sequential([layer]).save(path)
    loaded = lamina.saving.load_model(path)
    assert loaded.layers[0].built
    assert len(loaded.weights) == len(layer.weights)
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(loaded(x)), before, rtol=1e-6, atol=1e-6
    )


@_UNBUILT_SAVE[0]
@_UNBUILT_SAVE[1]
def test_build_without_shape_files_interchange_with_keras(tmp_path):
    keras = pytest.importorskip("keras")
    k_layer = keras.layers.Embedding(6, 3)
    k_layer.build()
    k_path = str(tmp_path / "k.keras")
    keras.models.Sequential([k_layer]).save(k_path)
    loaded = lamina.saving.load_model(k_path)
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(loaded.layers[0].embeddings),
        keras.ops.convert_to_numpy(k_layer.embeddings),
    )

    l_layer = layers.Embedding(6, 3)
    l_layer.build()
    l_path = str(tmp_path / "l.keras")
    lamina.models.Sequential([l_layer]).save(l_path)
    k_loaded = keras.saving.load_model(l_path)
    assert k_loaded.layers[0].built
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(k_loaded.layers[0].embeddings),
        lamina.ops.convert_to_numpy(l_layer.embeddings),
    )


def test_custom_build_without_arguments_saves_empty_shapes_dict():
    class Bias(layers.Layer):
        def build(self):
            self.b = self.add_weight(shape=(2,), initializer="ones")

        def call(self, x):
            return x + self.b

    layer = Bias()
    layer.build()
    assert layer.built
    assert layer.get_build_config() == {"shapes_dict": {}}
    fresh = Bias()
    fresh.build_from_config(layer.get_build_config())
    assert fresh.built and len(fresh.weights) == 1


# --- messages carry Keras's key phrases --------------------------------------


def test_input_spec_mismatch_says_incompatible_with_the_layer():
    layer = layers.Dense(2)
    layer(lamina.KerasTensor((1, 2)))
    with pytest.raises(ValueError, match="incompatible with the layer") as err:
        layer(lamina.KerasTensor((1, 3)))
    assert "last axis has size 2" in str(err.value)


def test_wrapper_rejects_a_non_layer_with_keras_phrase():
    with pytest.raises(
        ValueError, match=r"Layer .* supplied to Wrapper isn't a supported layer type"
    ):
        layers.Wrapper("not a layer")


# --- RandomElasticTransform accepts Keras's seed-based transformation ---------


def test_elastic_transform_with_seeded_transformation():
    images = np.zeros((8, 8, 1), "float32")
    images[3:5, 3:5] = 1.0
    layer = layers.RandomElasticTransform()
    transformation = {
        "apply_transform": np.array([True]),
        "distortion_factor": np.float32(0.9),
        "seed": 42,
    }
    out = lamina.ops.convert_to_numpy(layer.transform_images(images, transformation))
    again = lamina.ops.convert_to_numpy(layer.transform_images(images, transformation))
    assert out.shape == images.shape
    assert not np.allclose(out, images)
    np.testing.assert_allclose(out, again)  # the same seed, the same fields
    skipped = dict(transformation, apply_transform=np.array([False]))
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(layer.transform_images(images, skipped)), images
    )


# --- MixUp: boxes without a batch axis get a clear error ----------------------


def test_mix_up_transform_bounding_boxes_needs_batched_boxes():
    layer = layers.MixUp(seed=1, bounding_box_format="xyxy")
    boxes = {
        "boxes": np.array([[2, 1, 4, 3], [6, 4, 8, 6]], "float32"),
        "labels": np.array([1, 2]),
    }
    transformation = {
        "mix_weight": np.array([0.5, 0.5], "float32"),
        "permutation_order": np.array([1, 0]),
    }
    with pytest.raises(ValueError, match=r"\(batch, num_boxes, 4\).*\(2, 4\)"):
        layer.transform_bounding_boxes(boxes, transformation)
    # Through the layer, one image's boxes are mixed as a batch of one.
    data = {
        "images": np.random.random((10, 8, 3)).astype("float32"),
        "bounding_boxes": boxes,
    }
    out = layer(data, training=True)
    assert tuple(out["images"].shape) == (10, 8, 3)
    assert tuple(out["bounding_boxes"]["boxes"].shape) == (4, 4)
    assert tuple(out["bounding_boxes"]["labels"].shape) == (4,)


@pytest.mark.parametrize(
    "make, phrase",
    [
        (
            lambda: layers.StringLookup(output_mode="int", sparse=True),
            r"`sparse` may only be true if `output_mode` is `'one_hot'`",
        ),
        (
            lambda: layers.Hashing(num_bins=3, output_mode="int", sparse=True),
            r"`sparse` may only be true if `output_mode` is",
        ),
        (
            lambda: layers.ConvLSTM1D(2, 3, strides=2, dilation_rate=3),
            r"Specifying `strides > 1` is not compatible with `dilation_rate > 1`",
        ),
        (
            lambda: layers.Conv1D(2, 3, strides=2, dilation_rate=3),
            r"`strides > 1` not supported in conjunction with `dilation_rate > 1`",
        ),
    ],
)
def test_errors_carry_keras_phrases(make, phrase):
    with pytest.raises(ValueError, match=phrase):
        make()


def test_sparse_lookup_in_a_dense_mode_keeps_lamina_wording():
    with pytest.raises(ValueError, match="dense. Use sparse=False") as err:
        layers.StringLookup(output_mode="multi_hot", sparse=True)
    assert "may only be true" not in str(err.value)
