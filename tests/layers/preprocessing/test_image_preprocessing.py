import numpy as np
import pytest
import torch

import lamina
from lamina.layers.preprocessing._base_image_layer import affine_transform
from lamina.layers.preprocessing.center_crop import CenterCrop
from lamina.layers.preprocessing.random_contrast import RandomContrast
from lamina.layers.preprocessing.random_flip import RandomFlip
from lamina.layers.preprocessing.random_rotation import RandomRotation
from lamina.layers.preprocessing.random_translation import RandomTranslation
from lamina.layers.preprocessing.random_zoom import RandomZoom
from lamina.layers.preprocessing.resizing import Resizing

GRID = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
IMAGES = np.random.default_rng(0).uniform(0, 1, size=(4, 6, 6, 3)).astype("float32")
RANDOM_LAYERS = [
    lambda: RandomFlip(seed=1),
    lambda: RandomRotation(0.2, seed=1),
    lambda: RandomZoom(0.3, seed=1),
    lambda: RandomTranslation(0.3, 0.3, seed=1),
    lambda: RandomContrast(0.5, value_range=(0, 1), seed=1),
]


def _np(x):
    return x.detach().cpu().numpy()


def test_resizing_bilinear_downsample_averages_pixel_pairs():
    out = _np(Resizing(2, 2)(GRID))[0, :, :, 0]
    np.testing.assert_allclose(out, [[2.5, 4.5], [10.5, 12.5]])


def test_resizing_nearest_upsample_repeats_pixels():
    out = _np(Resizing(4, 4, interpolation="nearest")(GRID[:, ::2, ::2]))[0, :, :, 0]
    np.testing.assert_allclose(
        out, [[0, 0, 2, 2], [0, 0, 2, 2], [8, 8, 10, 10], [8, 8, 10, 10]]
    )


def test_resizing_aspect_ratio_options_and_dtypes():
    wide = np.ones((1, 2, 6, 1), "float32")
    padded = _np(Resizing(3, 3, pad_to_aspect_ratio=True, fill_value=-1.0)(wide))[
        0, :, :, 0
    ]
    np.testing.assert_allclose(padded[0], [-1.0, -1.0, -1.0])
    np.testing.assert_allclose(padded[1], [1.0, 1.0, 1.0])
    cropped = Resizing(2, 2, crop_to_aspect_ratio=True)(
        np.arange(12.0).reshape(1, 2, 6, 1)
    )
    np.testing.assert_allclose(_np(cropped)[0, :, :, 0], [[2.0, 3.0], [8.0, 9.0]])
    out = Resizing(2, 2)(GRID.astype("uint8"))
    assert out.dtype == torch.uint8
    np.testing.assert_array_equal(
        _np(out)[0, :, :, 0], [[2, 4], [10, 12]]
    )  # half to even
    assert tuple(Resizing(3, 5)(GRID[0]).shape) == (3, 5, 1)


def test_resizing_channels_first_and_shapes():
    layer = Resizing(2, 3, data_format="channels_first")
    assert tuple(layer(np.zeros((2, 3, 4, 4), "float32")).shape) == (2, 3, 2, 3)
    assert layer.compute_output_shape((None, 3, 8, 8)) == (None, 3, 2, 3)
    assert Resizing(5, 6)(lamina.Input((8, 8, 3))).shape == (None, 5, 6, 3)


def test_center_crop_takes_the_middle_or_resizes_small_images():
    out = _np(CenterCrop(2, 2)(GRID))[0, :, :, 0]
    np.testing.assert_allclose(out, [[5.0, 6.0], [9.0, 10.0]])
    assert tuple(CenterCrop(3, 2)(GRID[0]).shape) == (3, 2, 1)
    small = CenterCrop(8, 8)(GRID)
    np.testing.assert_allclose(_np(small), _np(Resizing(8, 8)(GRID)))
    assert CenterCrop(2, 2).compute_output_shape((None, 4, 4, 3)) == (None, 2, 2, 3)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Resizing(0, 2),
        lambda: Resizing(2, 2, interpolation="lanczos4"),
        lambda: Resizing(2, 2, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
        lambda: CenterCrop(2, -1),
        lambda: RandomFlip("diagonal"),
        lambda: RandomRotation(1.5),
        lambda: RandomZoom(-1.0),
        lambda: RandomTranslation(0.1, (0.1, 0.2, 0.3)),
        lambda: RandomContrast(2.0),
    ],
)
def test_rejects_bad_arguments(build):
    with pytest.raises(ValueError):
        build()


def test_rejects_unknown_fill_mode_and_bad_ranks():
    with pytest.raises(NotImplementedError, match="fill_mode"):
        RandomRotation(0.1, fill_mode="mirror-ish")
    with pytest.raises(ValueError, match="rank 4"):
        RandomFlip()(np.zeros((2, 3), "float32"), training=True)


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_are_identity_at_inference(make):
    layer = make()
    out = layer(IMAGES, training=False)
    np.testing.assert_array_equal(_np(out), IMAGES)
    assert layer.compute_output_shape((None, 6, 6, 3)) == (None, 6, 6, 3)
    assert layer(lamina.Input((6, 6, 3))).shape == (None, 6, 6, 3)


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_are_random_in_training_and_seeded(make):
    first, second = make(), make()
    a, b = _np(first(IMAGES, training=True)), _np(second(IMAGES, training=True))
    assert a.shape == IMAGES.shape
    np.testing.assert_array_equal(a, b)  # the same seed, the same draws
    later = _np(first(IMAGES, training=True))  # the generator moves on
    assert not np.array_equal(a, later)
    assert not np.array_equal(a, IMAGES)
    # Interpolation, reflection and clipping keep values in [0, 1].
    assert a.min() >= 0.0 and a.max() <= 1.0 + 1e-6
    single = make()(IMAGES[0], training=True)
    assert tuple(single.shape) == IMAGES.shape[1:]


def test_random_layers_augment_when_called_directly_but_not_in_predict_or_eval():
    layer = RandomFlip(seed=3)
    assert not np.array_equal(_np(layer(IMAGES)), IMAGES)
    model = lamina.Sequential([lamina.Input((6, 6, 3)), layer])
    np.testing.assert_array_equal(model.predict(IMAGES, verbose=0), IMAGES)
    layer.eval()
    np.testing.assert_array_equal(_np(layer(IMAGES)), IMAGES)


def test_random_flip_modes_are_exact_flips():
    draws = _np(
        RandomFlip(seed=5).get_random_transformation(torch.tensor(IMAGES))["flips"]
    )
    out = _np(RandomFlip(seed=5)(IMAGES, training=True))
    for image, flipped, flip in zip(IMAGES, out, draws.reshape(-1)):
        np.testing.assert_array_equal(flipped, image[::-1, ::-1] if flip else image)
    horizontal = _np(RandomFlip("horizontal", seed=5)(IMAGES, training=True))
    for image, flipped, flip in zip(IMAGES, horizontal, draws.reshape(-1)):
        np.testing.assert_array_equal(flipped, image[:, ::-1] if flip else image)


def test_half_turn_rotation_equals_flipping_both_axes():
    out = _np(RandomRotation((0.5, 0.5))(IMAGES, training=True))
    np.testing.assert_allclose(out, IMAGES[:, ::-1, ::-1], atol=1e-5)


def test_integer_translation_with_constant_fill():
    layer = RandomTranslation(0.0, 0.0, fill_mode="constant", fill_value=-1.0)
    shifted = _np(
        layer.transform_images(
            torch.tensor(GRID), {"translations": torch.tensor([[1.0, 0.0]])}
        )
    )
    np.testing.assert_allclose(
        shifted[0, :, :, 0],
        [[-1, 0, 1, 2], [-1, 4, 5, 6], [-1, 8, 9, 10], [-1, 12, 13, 14]],
    )


@pytest.mark.parametrize(
    "fill_mode, outside",
    [
        ("reflect", [1, 0]),
        ("wrap", [2, 3]),
        ("nearest", [0, 0]),
        ("constant", [9, 9]),
        ("mirror", [2, 1]),
    ],
)
def test_fill_modes_follow_scipy_conventions(fill_mode, outside):
    # An 8-pixel row [0, 1, 2, 3, 0, 1, 2, 3]; output column x reads column x - 2,
    # so columns 0 and 1 read -2 and -1, outside the image.
    row = torch.tensor([0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0, 3.0]).reshape(1, 1, 8, 1)
    transform = torch.tensor([[1.0, 0.0, -2.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    out = affine_transform(row, transform, "nearest", fill_mode, 9.0)
    np.testing.assert_allclose(out[0, 0, :, 0].numpy(), outside + [0, 1, 2, 3, 0, 1])
    bilinear = affine_transform(row, transform, "bilinear", fill_mode, 9.0)
    np.testing.assert_allclose(bilinear.numpy(), out.numpy(), atol=1e-5)


def test_zoom_out_with_constant_fill_shrinks_the_content():
    layer = RandomZoom((1.0, 1.0), fill_mode="constant", interpolation="nearest")
    out = _np(layer(GRID, training=True))[0, :, :, 0]
    assert (out == 0).sum() > (GRID == 0).sum()  # zooming out exposes fill


def test_random_contrast_keeps_channel_means_and_clips():
    layer = RandomContrast((0.5, 0.5), value_range=(0, 1), seed=1)
    flat = np.full((2, 4, 4, 1), 0.5, "float32")
    np.testing.assert_allclose(_np(layer(flat, training=True)), flat)
    factor = torch.tensor([3.0, 3.0]).reshape(2, 1, 1, 1)
    out = _np(
        layer.transform_images(torch.tensor(IMAGES[:2]), {"contrast_factor": factor})
    )
    assert out.min() >= 0.0 and out.max() <= 1.0
    ints = np.zeros((1, 2, 2, 1), "uint8")
    assert (
        layer(ints, training=False).dtype == torch.uint8
    )  # Keras returns inputs as is


def test_configs_round_trip():
    for layer in (
        RandomFlip("vertical", seed=2),
        RandomRotation((-0.1, 0.3), fill_mode="constant", fill_value=1.0, seed=2),
        RandomZoom(0.2, (-0.1, 0.1), interpolation="nearest", seed=2),
        RandomTranslation(0.1, 0.2, fill_mode="wrap", seed=2),
        RandomContrast(0.3, value_range=(0, 1), seed=2),
        Resizing(3, 4, interpolation="bicubic", antialias=True),
        CenterCrop(3, 4, data_format="channels_first"),
    ):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config


def test_augmentation_inside_fit():
    model = lamina.Sequential(
        [
            lamina.Input((6, 6, 3)),
            RandomFlip(seed=1),
            RandomRotation(0.1, seed=1),
            Resizing(4, 4),
            lamina.layers.Flatten(),
            lamina.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(IMAGES, np.ones((4, 1), "float32"), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
