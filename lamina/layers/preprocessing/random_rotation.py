"""RandomRotation: rotate images by a random angle while training."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    FILL_MODES,
    INTERPOLATIONS,
    BaseImagePreprocessingLayer,
    affine_transform,
    compute_affine_matrix,
)
from lamina.random.random import _uniform
from lamina.utils import bounding_boxes as bounding_boxes_utils


class RandomRotation(BaseImagePreprocessingLayer):
    """Rotates each image about its center by a random angle while training.

    Args:
        factor: Fraction of a full turn: a number `f` gives angles in
            `[-f * 360, f * 360]` degrees, a pair `(lower, upper)` angles in
            `[lower * 360, upper * 360]`; positive angles turn counter-clockwise.
        fill_mode: How points outside the image are filled: `"reflect"`
            (default), `"wrap"`, `"constant"` or `"nearest"`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: Int seed for reproducible angles.
        fill_value: The value used by `fill_mode="constant"`. Defaults to 0.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape.

    Example:
    >>> layer = lamina.layers.RandomRotation(0.1, seed=1)
    >>> tuple(layer(np.zeros((2, 8, 8, 3), "float32"), training=True).shape)
    (2, 8, 8, 3)
    """

    supports_jit = False  # as in Keras

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(factor=factor, data_format=data_format, **kwargs)
        self._check_choice("RandomRotation", "fill_mode", fill_mode, FILL_MODES)
        self._check_choice(
            "RandomRotation", "interpolation", interpolation, INTERPOLATIONS
        )
        self.seed = seed
        self.generator = random.SeedGenerator(seed)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        batch = data.shape[0]
        height, width = self._height_width(data.shape)
        angle = _uniform(
            (batch,),
            self.factor[0] * 360.0,
            self.factor[1] * 360.0,
            None,
            self.generator if seed is None else seed,
            data.device,
        )
        zeros = torch.zeros_like(angle)
        matrix = compute_affine_matrix(
            0.5,
            0.5,
            angle,
            zeros,
            zeros,
            torch.ones_like(angle),
            zeros,
            zeros,
            height,
            width,
        )
        return {
            "angle": angle,
            "rotation_matrix": matrix,
            "image_height": height,
            "image_width": width,
            "batch_size": batch,
        }

    def _transform_images(self, images, transformation, interpolation=None):
        return affine_transform(
            images,
            transformation["rotation_matrix"],
            interpolation=interpolation or self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Each box becomes the axis-aligned box around its rotated corners,
        clipped to the image."""
        if not training or transformation is None:
            return bounding_boxes
        height = transformation["image_height"]
        width = transformation["image_width"]
        # Keras skips this conversion (it reads any format as "xyxy"); lamina
        # converts, which is the same for "xyxy" and right for the others.
        bounding_boxes = self._boxes_to(bounding_boxes, "xyxy", height, width)
        angle = transformation["angle"]
        zeros = torch.zeros_like(angle)
        bounding_boxes["boxes"] = bounding_boxes_utils.affine_transform(
            bounding_boxes["boxes"],
            angle=angle,
            translate_x=zeros,
            translate_y=zeros,
            scale=torch.ones_like(angle),
            shear_x=zeros,
            shear_y=zeros,
            height=height,
            width=width,
        )
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
            "factor": self.factor,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }
