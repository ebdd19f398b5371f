"""RandAugment: apply a few augmentations picked at random from a fixed list."""

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    INTERPOLATIONS,
    KEPT,
    BaseImagePreprocessingLayer,
    check_value_range,
)

# Keras's list and order: a draw `i` picks _AUGMENT_LAYERS[i].
_AUGMENT_LAYERS = (
    "random_shear",
    "random_translation",
    "random_rotation",
    "random_brightness",
    "random_color_degeneration",
    "random_contrast",
    "random_sharpness",
    "random_posterization",
    "solarization",
    "auto_contrast",
    "equalization",
)


def make_augment_layers(owner, factor, value_range, interpolation, seed, **kwargs):
    """The augmentation layers RandAugment and AugMix pick from, by attribute
    name, each set up from the strength range `factor` as Keras sets them."""
    # Imported here: lamina.layers imports this module.
    from lamina.layers.preprocessing.auto_contrast import AutoContrast
    from lamina.layers.preprocessing.equalization import Equalization
    from lamina.layers.preprocessing.random_brightness import RandomBrightness
    from lamina.layers.preprocessing.random_color_degeneration import (
        RandomColorDegeneration,
    )
    from lamina.layers.preprocessing.random_contrast import RandomContrast
    from lamina.layers.preprocessing.random_posterization import (
        RandomPosterization,
    )
    from lamina.layers.preprocessing.random_rotation import RandomRotation
    from lamina.layers.preprocessing.random_sharpness import RandomSharpness
    from lamina.layers.preprocessing.random_shear import RandomShear
    from lamina.layers.preprocessing.random_translation import RandomTranslation
    from lamina.layers.preprocessing.solarization import Solarization

    BaseImagePreprocessingLayer._check_choice(
        owner, "interpolation", interpolation, INTERPOLATIONS
    )
    geometry = {"interpolation": interpolation, "seed": seed, **kwargs}
    colour = {"value_range": value_range, "seed": seed, **kwargs}
    return {
        "random_shear": RandomShear(x_factor=factor, y_factor=factor, **geometry),
        "random_translation": RandomTranslation(
            height_factor=factor, width_factor=factor, **geometry
        ),
        "random_rotation": RandomRotation(factor=factor, **geometry),
        "random_brightness": RandomBrightness(factor=factor, **colour),
        "random_color_degeneration": RandomColorDegeneration(factor=factor, **colour),
        "random_contrast": RandomContrast(factor=factor, **colour),
        "random_sharpness": RandomSharpness(factor=factor, **colour),
        "random_posterization": RandomPosterization(
            factor=max(1, int(8 * factor[1])), **colour
        ),
        "solarization": Solarization(
            addition_factor=factor, threshold_factor=factor, **colour
        ),
        "auto_contrast": AutoContrast(value_range=value_range, **kwargs),
        "equalization": Equalization(value_range=value_range, **kwargs),
    }


def sublayer_kwargs(data_format, kwargs):
    """What the augmentation layers share with their owner: data format,
    bounding box format and dtype (not the name, which each layer keeps its
    own)."""
    shared = {"data_format": data_format}
    if kwargs.get("bounding_box_format") is not None:
        shared["bounding_box_format"] = kwargs["bounding_box_format"]
    if kwargs.get("dtype") is not None:
        shared["dtype"] = kwargs["dtype"]
    return shared


class RandAugment(BaseImagePreprocessingLayer):
    """Applies `num_ops` augmentations, picked at random per batch, while
    training (RandAugment, Cubuk et al., 2019).

    The candidates are, as in Keras 3: RandomShear, RandomTranslation,
    RandomRotation, RandomBrightness, RandomColorDegeneration,
    RandomContrast, RandomSharpness, RandomPosterization, Solarization,
    AutoContrast and Equalization, all built from the strength range
    `factor`. Each call draws the `num_ops` picks (the same one may come
    twice) and one set of random parameters per candidate, then applies the
    picks in order to the whole batch.

    Args:
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        num_ops: How many augmentations to apply. Defaults to 2.
        factor: The strength: a number `f` (range `[0, f]`) or a pair
            `(lower, upper)`, within `[0, 1]`. Defaults to 0.5.
        interpolation: `"bilinear"` (default) or `"nearest"`, for the
            geometric augmentations.
        seed: Int seed for reproducible picks and parameters.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned (cast) unchanged.

    Example:
    >>> layer = lamina.layers.RandAugment(seed=1)
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32"), training=True).shape)
    (2, 8, 8, 3)
    """

    _DICT_PARTS = {"labels": KEPT}
    _FACTOR_BOUNDS = (0, 1)

    def __init__(
        self,
        value_range=(0, 255),
        num_ops=2,
        factor=0.5,
        interpolation="bilinear",
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(factor=factor, data_format=data_format, **kwargs)
        if isinstance(num_ops, bool) or not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(
                "RandAugment expects `num_ops` to be a non-negative int (how many "
                f"augmentations to apply); got num_ops={num_ops!r}."
            )
        self.value_range = check_value_range("RandAugment", value_range)
        self.num_ops = num_ops
        self.interpolation = interpolation
        self.seed = seed
        self.generator = random.SeedGenerator(seed)
        augmenters = make_augment_layers(
            "RandAugment",
            self.factor,
            self.value_range,
            interpolation,
            seed,
            **sublayer_kwargs(self.data_format, kwargs),
        )
        for name in _AUGMENT_LAYERS:
            setattr(self, name, augmenters[name])

    def get_random_transformation(self, data, training=True, seed=None):
        if not training or data.device.type == "meta":
            return None
        seed = self.generator if seed is None else seed
        # Keras's draws, in its order: the picks, then each candidate's.
        picks = random.randint((self.num_ops,), 0, len(_AUGMENT_LAYERS), seed=seed)
        transforms = {
            name: getattr(self, name).get_random_transformation(
                data, training=True, seed=seed
            )
            for name in _AUGMENT_LAYERS
        }
        return {"transforms": transforms, "layer_idxes": picks}

    def transform_images(self, images, transformation, training=True):
        images = images.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return images
        transforms = transformation["transforms"]
        for index in transformation["layer_idxes"].tolist():
            name = _AUGMENT_LAYERS[index]
            images = getattr(self, name).transform_images(images, transforms[name])
        return images.to(self._compute_torch_dtype)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes moved by the picked augmentations, in the order they apply
        to the images (colour augmentations leave them as they are)."""
        if not training or transformation is None:
            return bounding_boxes
        # Keras 3.15 moves the boxes by each picked candidate once, in the
        # candidates' order; here they follow the images' order and repeats.
        transforms = transformation["transforms"]
        for index in transformation["layer_idxes"].tolist():
            name = _AUGMENT_LAYERS[index]
            bounding_boxes = getattr(self, name).transform_bounding_boxes(
                bounding_boxes, transforms[name]
            )
        return bounding_boxes

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        """Masks moved by the picked augmentations in order (geometric ones
        with nearest interpolation), in their own dtype."""
        if not training or transformation is None:
            return segmentation_masks
        transforms = transformation["transforms"]
        for index in transformation["layer_idxes"].tolist():
            name = _AUGMENT_LAYERS[index]
            segmentation_masks = getattr(self, name).transform_segmentation_masks(
                segmentation_masks, transforms[name]
            )
        return segmentation_masks

    def get_config(self):
        return {
            **super().get_config(),
            "value_range": self.value_range,
            "num_ops": self.num_ops,
            "factor": self.factor,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }
