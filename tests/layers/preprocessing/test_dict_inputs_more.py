"""Dict inputs of the mixing and composite augmentations (MixUp, CutMix,
AugMix, RandAugment, RandomPerspective, RandomElasticTransform), and the
symbolic dict outputs of every augmentation layer."""

import copy
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

from lamina import Input, backend, layers  # noqa: E402
from lamina.utils import bounding_boxes as bbox_utils  # noqa: E402

# Keras's own Equalization (torch backend) warns about `Tensor.T` on 0-d tensors.
pytestmark = pytest.mark.filterwarnings("ignore:Tensor.T is deprecated")

XYXY = np.array([[1, 2, 6, 9], [8, 3, 15, 11], [4, 1, 9, 5]], dtype="float32")


def _data(batch=4, height=12, width=16, fmt="xyxy"):
    rng = np.random.RandomState(0)
    boxes = bbox_utils.convert_format(
        np.stack([XYXY] * batch), "xyxy", fmt, height=height, width=width
    )
    return {
        "images": (rng.rand(batch, height, width, 3) * 255).astype("float32"),
        "labels": np.eye(5, dtype="float32")[rng.randint(0, 5, batch)],
        "bounding_boxes": {
            "boxes": boxes.cpu().numpy(),
            "labels": np.tile(np.array([1, 2, 3]), (batch, 1)),
        },
        "segmentation_masks": rng.randint(0, 4, (batch, height, width, 1)).astype(
            "uint8"
        ),
    }


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _tensor(x):
    """A tensor on lamina's device, where the transformations are drawn: for
    the transform methods called directly (Layer.__call__ would move it)."""
    return torch.as_tensor(x, device=backend.get_device())


def _keras():
    return pytest.importorskip("keras")


def _only(data, *parts):
    return {key: copy.deepcopy(data[key]) for key in ("images", *parts)}


# --- MixUp ----------------------------------------------------------------


def test_mix_up_labels_match_keras_seeded():
    keras = _keras()
    data = _only(_data(), "labels")
    ours = layers.MixUp(seed=3)(copy.deepcopy(data), training=True)
    theirs = keras.layers.MixUp(seed=3)(copy.deepcopy(data), training=True)
    assert ours["labels"].dtype == torch.float32
    np.testing.assert_allclose(_np(ours["labels"]), _np(theirs["labels"]), atol=1e-6)
    np.testing.assert_allclose(_np(ours["images"]), _np(theirs["images"]), atol=1e-4)


def test_mix_up_boxes_gain_the_mixed_images_boxes_as_in_keras():
    keras = _keras()
    data = _only(_data(), "bounding_boxes")
    ours = layers.MixUp(seed=3, bounding_box_format="xyxy")(
        copy.deepcopy(data), training=True
    )["bounding_boxes"]
    theirs = keras.layers.MixUp(seed=3, bounding_box_format="xyxy")(
        copy.deepcopy(data), training=True
    )["bounding_boxes"]
    np.testing.assert_allclose(_np(ours["boxes"]), _np(theirs["boxes"]))
    assert tuple(ours["boxes"].shape) == (4, 6, 4)
    # Keras stacks the labels along the batch axis; lamina along the boxes'.
    labels, keras_labels = _np(ours["labels"]), _np(theirs["labels"])
    np.testing.assert_array_equal(labels[:, :3], keras_labels[:4])
    np.testing.assert_array_equal(labels[:, 3:], keras_labels[4:])


def test_mix_up_masks_blend_with_the_images_weights():
    data = _only(_data(), "segmentation_masks")
    layer = layers.MixUp(seed=5)
    transformation = layers.MixUp(seed=5).get_random_transformation(
        _tensor(data["images"])
    )
    out = layer(data, training=True)["segmentation_masks"]
    weight = _np(transformation["mix_weight"]).reshape(-1, 1, 1, 1)
    order = _np(transformation["permutation_order"])
    masks = data["segmentation_masks"].astype("float32")
    expected = weight * masks + (1 - weight) * masks[order]
    assert out.dtype == torch.float32 and tuple(out.shape) == masks.shape
    np.testing.assert_allclose(_np(out), expected, atol=1e-5)
    assert not np.array_equal(order, np.arange(4))


# --- CutMix -----------------------------------------------------------------


def test_cut_mix_labels_and_masks_match_keras_seeded():
    keras = _keras()
    data = _only(_data(), "labels", "segmentation_masks")
    ours = layers.CutMix(seed=3)(copy.deepcopy(data), training=True)
    theirs = keras.layers.CutMix(seed=3)(copy.deepcopy(data), training=True)
    np.testing.assert_allclose(_np(ours["images"]), _np(theirs["images"]))
    np.testing.assert_allclose(_np(ours["labels"]), _np(theirs["labels"]), atol=1e-6)
    masks = ours["segmentation_masks"]
    # Keras gives the masks the images' 3 channels, each the same mask.
    assert masks.dtype == torch.float32 and tuple(masks.shape) == (4, 12, 16, 1)
    np.testing.assert_array_equal(
        _np(masks)[..., 0], _np(theirs["segmentation_masks"])[..., 0]
    )
    assert not np.array_equal(_np(masks), data["segmentation_masks"])


def test_cut_mix_pastes_the_same_rectangle_into_images_and_masks():
    masks = np.random.RandomState(2).randint(0, 9, (4, 10, 10, 1))
    data = {"images": masks.astype("float32"), "segmentation_masks": masks}
    out = layers.CutMix(seed=4, data_format="channels_last")(data, training=True)
    np.testing.assert_array_equal(_np(out["images"]), _np(out["segmentation_masks"]))


# --- RandomPerspective --------------------------------------------------------


@pytest.mark.parametrize("seed", [3, 4])
def test_perspective_boxes_and_masks_match_keras_seeded(seed):
    keras = _keras()
    data = _only(_data(), "bounding_boxes", "segmentation_masks")
    kwargs = {"factor": 0.8, "scale": 0.4, "seed": seed, "bounding_box_format": "xyxy"}
    ours = layers.RandomPerspective(**kwargs)(copy.deepcopy(data), training=True)
    theirs = keras.layers.RandomPerspective(**kwargs)(
        copy.deepcopy(data), training=True
    )
    masks = ours["segmentation_masks"]
    assert masks.dtype == torch.uint8
    # Keras's torch backend warps uint8 masks off its own nearest image path
    # (about 9% of pixels); compare with that path on float masks.
    reference = keras.layers.RandomPerspective(
        factor=0.8, scale=0.4, seed=seed, interpolation="nearest"
    )
    expected = reference(data["segmentation_masks"].astype("float32"), training=True)
    np.testing.assert_array_equal(_np(masks), _np(expected).astype("uint8"))
    for key in ("boxes", "labels"):
        np.testing.assert_allclose(
            _np(ours["bounding_boxes"][key]),
            _np(theirs["bounding_boxes"][key]),
            atol=1e-3,
        )
    assert not np.allclose(_np(ours["bounding_boxes"]["boxes"]), np.stack([XYXY] * 4))


@pytest.mark.parametrize("fmt", ["rel_xyxy", "center_xywh"])
def test_perspective_returns_boxes_in_the_layers_format(fmt):
    # Keras 3.15 returns "xyxy" boxes whatever the format; lamina converts back.
    kwargs = {"factor": (1, 1), "scale": 0.4, "seed": 7}
    xyxy = layers.RandomPerspective(bounding_box_format="xyxy", **kwargs)(
        _data(), training=True
    )
    other = layers.RandomPerspective(bounding_box_format=fmt, **kwargs)(
        _data(fmt=fmt), training=True
    )
    expected = bbox_utils.convert_format(
        xyxy["bounding_boxes"]["boxes"], "xyxy", fmt, height=12, width=16
    )
    np.testing.assert_allclose(
        _np(other["bounding_boxes"]["boxes"]), _np(expected), atol=1e-4
    )


def test_perspective_masks_move_with_the_images():
    masks = np.random.RandomState(1).randint(0, 5, (3, 9, 11, 1))
    data = {"images": masks.astype("float32"), "segmentation_masks": masks}
    layer = layers.RandomPerspective((1, 1), 0.5, interpolation="nearest", seed=2)
    out = layer(data, training=True)
    assert not np.array_equal(_np(out["images"]), masks)
    np.testing.assert_array_equal(
        _np(out["images"]), _np(out["segmentation_masks"]).astype("float32")
    )


# --- RandomElasticTransform ---------------------------------------------------


def test_elastic_masks_move_with_the_images_by_nearest_interpolation():
    masks = np.random.RandomState(1).randint(0, 5, (3, 16, 16, 1))
    data = {"images": masks.astype("float32"), "segmentation_masks": masks}
    layer = layers.RandomElasticTransform(
        factor=(1, 1), interpolation="nearest", seed=2
    )
    out = layer(data, training=True)
    assert out["segmentation_masks"].dtype == torch.float32
    assert not np.array_equal(_np(out["images"]), masks)
    np.testing.assert_array_equal(_np(out["images"]), _np(out["segmentation_masks"]))


def test_elastic_masks_keep_class_ids_under_bilinear_images():
    data = _only(_data(height=16), "segmentation_masks")
    layer = layers.RandomElasticTransform(factor=(1, 1), seed=2)
    out = layer(data, training=True)
    masks = _np(out["segmentation_masks"])
    assert set(np.unique(masks)) <= {0.0, 1.0, 2.0, 3.0}
    assert not np.array_equal(masks, data["segmentation_masks"])


# --- AugMix -------------------------------------------------------------------


def test_aug_mix_masks_follow_the_chains_with_nearest_interpolation():
    data = _only(_data(), "segmentation_masks")
    layer = layers.AugMix(num_chains=3, chain_depth=3, seed=6)
    images = _tensor(data["images"])
    transformation = layer.get_random_transformation(images)
    masks = _tensor(data["segmentation_masks"])
    out = layer.transform_segmentation_masks(masks, transformation)
    geometric = {"random_shear", "random_translation", "random_rotation"}
    mix = np.zeros(masks.shape, "float32")
    steps = 0
    for weight, chain in zip(
        _np(transformation["chain_mixing_weights"]),
        transformation["chain_transforms"],
    ):
        augmented = masks
        for step in chain:
            if step["layer_name"] in geometric:
                steps += 1
                sub = getattr(layer, step["layer_name"])
                augmented = sub._transform_images(
                    augmented, step["transformation"], "nearest"
                )
        mix += _np(augmented).astype("float32") * weight
    blend = float(transformation["weight_sample"])
    expected = blend * _np(masks).astype("float32") + (1 - blend) * mix
    assert steps > 0
    assert out.dtype == torch.float32
    np.testing.assert_allclose(_np(out), expected, atol=1e-4)


def test_aug_mix_passes_labels_and_boxes_through_as_keras_does():
    data = _only(_data(), "labels", "bounding_boxes")
    out = layers.AugMix(seed=1, bounding_box_format="xyxy")(data, training=True)
    np.testing.assert_array_equal(_np(out["labels"]), data["labels"])
    np.testing.assert_array_equal(
        _np(out["bounding_boxes"]["boxes"]), data["bounding_boxes"]["boxes"]
    )


# --- RandAugment --------------------------------------------------------------


# Seeds picking shear, brightness, solarization, auto-contrast and translation
# (Keras's rotation warps masks by a transposed matrix, see test_dict_inputs).
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 29])
def test_rand_augment_one_op_boxes_and_masks_match_keras_seeded(seed):
    keras = _keras()
    data = _only(_data(), "bounding_boxes", "segmentation_masks")
    kwargs = {"num_ops": 1, "factor": 0.5, "seed": seed, "bounding_box_format": "xyxy"}
    ours = layers.RandAugment(**kwargs)(copy.deepcopy(data), training=True)
    theirs = keras.layers.RandAugment(**kwargs)(copy.deepcopy(data), training=True)
    assert ours["segmentation_masks"].dtype == torch.uint8
    np.testing.assert_array_equal(
        _np(ours["segmentation_masks"]), _np(theirs["segmentation_masks"])
    )
    for key in ("boxes", "labels"):
        np.testing.assert_allclose(
            _np(ours["bounding_boxes"][key]),
            _np(theirs["bounding_boxes"][key]),
            atol=1e-3,
        )


def test_rand_augment_moves_boxes_and_masks_through_the_picks_in_order():
    data = _only(_data(), "bounding_boxes", "segmentation_masks")
    layer = layers.RandAugment(
        num_ops=4, factor=0.6, seed=5, bounding_box_format="xyxy"
    )
    images = _tensor(data["images"])
    transformation = layer.get_random_transformation(images)
    boxes = layer._dense_bounding_boxes(data["bounding_boxes"], batched=True)
    masks = _tensor(data["segmentation_masks"])
    out_boxes = layer.transform_bounding_boxes(boxes, transformation)
    out_masks = layer.transform_segmentation_masks(masks, transformation)
    names = [
        layers.preprocessing.rand_augment._AUGMENT_LAYERS[i]
        for i in transformation["layer_idxes"].tolist()
    ]
    for name in names:
        sub = getattr(layer, name)
        boxes = sub.transform_bounding_boxes(boxes, transformation["transforms"][name])
        masks = sub.transform_segmentation_masks(
            masks, transformation["transforms"][name]
        )
    np.testing.assert_allclose(_np(out_boxes["boxes"]), _np(boxes["boxes"]))
    np.testing.assert_array_equal(_np(out_masks), _np(masks))


# --- symbolic dict calls --------------------------------------------------------

CLAHE = "ContrastLimitedAdaptiveHistogramEqualization"
SYMBOLIC_CASES = [
    ("AugMix", {}),
    ("AutoContrast", {}),
    ("CutMix", {}),
    ("Equalization", {}),
    ("MixUp", {}),
    ("RandAugment", {}),
    ("RandomBrightness", {"factor": 0.2}),
    ("RandomColorDegeneration", {"factor": 0.2}),
    ("RandomColorJitter", {}),
    ("RandomContrast", {"factor": 0.2}),
    ("RandomElasticTransform", {}),
    ("RandomErasing", {}),
    ("RandomFlip", {}),
    ("RandomGaussianBlur", {}),
    ("RandomGrayscale", {}),
    ("RandomHue", {"factor": 0.2}),
    ("RandomInvert", {}),
    ("RandomPerspective", {}),
    ("RandomPosterization", {"factor": 4}),
    ("RandomRotation", {"factor": 0.2}),
    ("RandomSaturation", {"factor": 0.2}),
    ("RandomSharpness", {"factor": 0.2}),
    ("RandomShear", {"x_factor": 0.2}),
    ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.2}),
    ("RandomZoom", {"height_factor": 0.2}),
    ("Solarization", {}),
    (CLAHE, {"value_range": (0, 255)}),
]
# Keras's symbolic dict call fails for these (a KeyError, a missing `.shape`).
KERAS_SYMBOLIC_FAILS = {"RandomColorDegeneration", "RandomGrayscale"}
# Their eager labels (and masks) come out in the compute dtype.
BLENDS_LABELS = {"MixUp", "CutMix"}
BLENDS_MASKS = {"MixUp", "CutMix", "AugMix", "RandomElasticTransform", "RandomFlip"}


def _symbolic_inputs(keras_module):
    return {
        "images": keras_module.Input((8, 8, 3)),
        "labels": keras_module.Input((4,), dtype="int32"),
        "segmentation_masks": keras_module.Input((8, 8, 1), dtype="uint8"),
        "bounding_boxes": {
            "boxes": keras_module.Input((3, 4)),
            "labels": keras_module.Input((3,), dtype="int32"),
        },
    }


def _shapes(outputs):
    return {
        key: _shapes(value) if isinstance(value, dict) else tuple(value.shape)
        for key, value in outputs.items()
    }


@pytest.mark.parametrize("name, kwargs", SYMBOLIC_CASES)
def test_symbolic_dict_calls_give_keras_shapes_and_eager_dtypes(name, kwargs):
    import lamina

    kwargs = {**kwargs, "bounding_box_format": "xyxy"}
    outputs = getattr(layers, name)(**kwargs)(_symbolic_inputs(lamina))
    expected = {
        "images": (None, 8, 8, 3),
        "labels": (None, 4),
        "segmentation_masks": (None, 8, 8, 1),
        "bounding_boxes": {"boxes": (None, 3, 4), "labels": (None, 3)},
    }
    assert _shapes(outputs) == expected
    if name not in KERAS_SYMBOLIC_FAILS:
        keras = _keras()
        theirs = getattr(keras.layers, name)(**kwargs)(_symbolic_inputs(keras))
        assert _shapes(outputs) == _shapes(theirs)
    assert outputs["images"].dtype == "float32"
    assert outputs["bounding_boxes"]["boxes"].dtype == "float32"
    assert outputs["bounding_boxes"]["labels"].dtype == "int32"
    labels = "float32" if name in BLENDS_LABELS else "int32"
    assert outputs["labels"].dtype == labels
    masks = "float32" if name in BLENDS_MASKS else "uint8"
    assert outputs["segmentation_masks"].dtype == masks


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomFlip", {"seed": 1}),
        ("RandomPerspective", {"factor": (1, 1), "seed": 1}),
        ("RandAugment", {"seed": 1}),
        ("MixUp", {"seed": 1}),
        ("CutMix", {"seed": 1}),
        ("AugMix", {"seed": 1}),
        ("RandomElasticTransform", {"seed": 1}),
        ("RandomBrightness", {"factor": 0.2, "seed": 1}),
        ("RandomZoom", {"height_factor": 0.2, "seed": 1}),
        ("CenterCrop", {"height": 4, "width": 6}),
        ("RandomCrop", {"height": 4, "width": 6, "seed": 1}),
        ("Resizing", {"height": 4, "width": 6}),
    ],
)
def test_symbolic_dtypes_match_the_eager_call(name, kwargs):
    import lamina

    data = _only(_data(height=8, width=8), "segmentation_masks")
    data["labels"] = np.eye(4, dtype="int32")[[0, 1, 2, 3]]
    layer = getattr(layers, name)(**kwargs)
    eager = layer(data, training=True)
    symbolic = layer(
        {
            "images": lamina.Input((8, 8, 3)),
            "labels": lamina.Input((4,), dtype="int32"),
            "segmentation_masks": lamina.Input((8, 8, 1), dtype="uint8"),
        }
    )
    for key in ("images", "labels", "segmentation_masks"):
        assert str(eager[key].dtype).replace("torch.", "") == symbolic[key].dtype


def test_colour_degeneration_symbolic_dict_checks_the_channels():
    inputs = {"images": Input((8, 8, 4)), "labels": Input((2,))}
    with pytest.raises(ValueError, match="3 channels"):
        layers.RandomColorDegeneration(0.2)(inputs)


# --- per-class declarations -----------------------------------------------------


def test_subclasses_inherit_their_parents_dict_parts():
    class Brighter(layers.RandomBrightness):
        pass

    data = _data()
    out = Brighter(0.2, seed=1, bounding_box_format="xyxy")(copy.deepcopy(data))
    np.testing.assert_array_equal(_np(out["labels"]), data["labels"])
    np.testing.assert_array_equal(
        _np(out["segmentation_masks"]), data["segmentation_masks"]
    )
    with pytest.raises(NotImplementedError, match="Keras 3 does not either"):
        layers.CutMix(seed=1, bounding_box_format="xyxy")(
            _only(data, "bounding_boxes"), training=True
        )
