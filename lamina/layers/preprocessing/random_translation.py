"""RandomTranslation: shift images by a random offset while training."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    FILL_MODES,
    INTERPOLATIONS,
    BaseImagePreprocessingLayer,
    affine_transform,
)
from lamina.layers.preprocessing.random_zoom import _factor_range
from lamina.random.random import _uniform


class RandomTranslation(BaseImagePreprocessingLayer):
    """Shifts each image by a random fraction of its size while training.

    Args:
        height_factor: A number `f` or a pair `(lower, upper)` in `[-1, 1]`,
            fractions of the height: the vertical shift is uniform in
            `[lower * H, upper * H]` pixels (`f` means `(-f, f)`); positive
            shifts move the content down.
        width_factor: The same for the horizontal shift (positive: right).
        fill_mode: `"reflect"` (default), `"wrap"`, `"constant"` or `"nearest"`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: Int seed for reproducible shifts.
        fill_value: The value used by `fill_mode="constant"`. Defaults to 0.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape.

    Example:
    >>> layer = lamina.layers.RandomTranslation(0.2, 0.2, seed=1)
    >>> tuple(layer(np.zeros((2, 8, 8, 3), "float32"), training=True).shape)
    (2, 8, 8, 3)
    """

    supports_jit = False  # as in Keras

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = _factor_range(
            "RandomTranslation", "height_factor", height_factor, low_open=False
        )
        self.width_factor = width_factor
        self.width_lower, self.width_upper = _factor_range(
            "RandomTranslation", "width_factor", width_factor, low_open=False
        )
        self._check_choice("RandomTranslation", "fill_mode", fill_mode, FILL_MODES)
        self._check_choice(
            "RandomTranslation", "interpolation", interpolation, INTERPOLATIONS
        )
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.interpolation = interpolation
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        height, width = self._height_width(data.shape)
        shape = (data.shape[0], 1)
        dy = _uniform(
            shape, self.height_lower, self.height_upper, None, seed, data.device
        )
        dy = dy * height
        dx = _uniform(
            shape, self.width_lower, self.width_upper, None, seed, data.device
        )
        dx = dx * width
        translations = torch.cat([dx, dy], dim=1).to(torch.float32)
        return {"translations": translations, "input_shape": tuple(data.shape)}

    def _transform_images(self, images, transformation, interpolation=None):
        shifts = transformation["translations"].to(images.device, torch.float32)
        ones = torch.ones_like(shifts[:, 0:1])
        zeros = torch.zeros_like(ones)
        matrix = torch.cat(
            [ones, zeros, -shifts[:, 0:1], zeros, ones, -shifts[:, 1:2], zeros, zeros],
            dim=1,
        )
        return affine_transform(
            images,
            matrix,
            interpolation=interpolation or self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Shifts the boxes with the images, clipped to the image."""
        if not training or transformation is None:
            return bounding_boxes
        height, width = self._height_width(transformation["input_shape"])
        bounding_boxes = self._boxes_to(bounding_boxes, "xyxy", height, width)
        boxes = bounding_boxes["boxes"]
        shifts = transformation["translations"].to(boxes.device, boxes.dtype)
        dx, dy = shifts[:, None, 0:1], shifts[:, None, 1:2]
        x1, y1, x2, y2 = torch.split(boxes, 1, dim=-1)
        boxes = torch.cat([x1 + dx, y1 + dy, x2 + dx, y2 + dy], dim=-1)
        bounding_boxes["boxes"] = boxes
        return self._clip_boxes_from_xyxy(bounding_boxes, height, width)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        # Keras: the image resampling with nearest interpolation, in the
        # masks' own dtype.
        if not training or transformation is None:
            return segmentation_masks
        return self._transform_images(segmentation_masks, transformation, "nearest")

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "seed": self.seed,
            "fill_value": self.fill_value,
        }
