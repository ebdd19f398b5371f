"""RandomFlip: flip images left-right and/or up-down at random while training."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer
from lamina.random.random import _uniform
from lamina.utils.bounding_boxes import clip_to_image_size

HORIZONTAL = "horizontal"
VERTICAL = "vertical"
HORIZONTAL_AND_VERTICAL = "horizontal_and_vertical"


class RandomFlip(BaseImagePreprocessingLayer):
    """Flips each image with probability 1/2 while training.

    Args:
        mode: `"horizontal"` (left-right), `"vertical"` (up-down) or
            `"horizontal_and_vertical"`. In the last mode one draw per image
            decides both flips, as in Keras (so an image is either unchanged
            or rotated by 180 degrees). Defaults to `"horizontal_and_vertical"`.
        seed: Int seed for reproducible flips.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape, in the
    layer's compute dtype.

    Example:
    >>> flip = lamina.layers.RandomFlip("horizontal", seed=1)
    >>> x = np.arange(4, dtype="float32").reshape(1, 1, 4, 1)
    >>> flip(x, training=False)[0, 0, :, 0].tolist()
    [0.0, 1.0, 2.0, 3.0]
    """

    # Keras: masks go through `transform_images`, into the compute dtype.
    _COMPUTE_DTYPE_PARTS = ("segmentation_masks",)
    _USE_BASE_FACTOR = False

    def __init__(
        self, mode=HORIZONTAL_AND_VERTICAL, seed=None, data_format=None, **kwargs
    ):
        super().__init__(data_format=data_format, **kwargs)
        if mode not in (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL):
            raise ValueError(
                "RandomFlip expects `mode` to be 'horizontal', 'vertical' or "
                f"'horizontal_and_vertical'; got mode={mode!r}."
            )
        self.seed = seed
        self.generator = random.SeedGenerator(seed)
        self.mode = mode

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        shape = (data.shape[0], 1, 1, 1)
        draws = _uniform(
            shape, 0.0, 1.0, None, self.generator if seed is None else seed, data.device
        )
        return {"flips": draws <= 0.5, "input_shape": tuple(data.shape)}

    def _transform_images(self, images, transformation):
        flips = transformation["flips"].to(images.device)
        if self.data_format == "channels_first":
            width_axis, height_axis = -1, -2
        else:
            width_axis, height_axis = -2, -3
        axes = {
            HORIZONTAL: (width_axis,),
            VERTICAL: (height_axis,),
            HORIZONTAL_AND_VERTICAL: (height_axis, width_axis),  # one draw, both flips
        }[self.mode]
        return torch.where(flips, images.flip(axes), images)

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Mirrors the boxes of the flipped images."""
        if not training or transformation is None:
            return bounding_boxes
        height, width = self._height_width(transformation["input_shape"])
        boxes = bounding_boxes["boxes"]
        # One draw per image, against `(batch, N, 4)` boxes or, as Keras
        # takes them, one image's `(N, 4)`.
        flips = torch.as_tensor(transformation["flips"], device=boxes.device)
        flips = flips.reshape(-1, *([1] * (boxes.ndim - 1)))
        # Keras flips in relative coordinates: x -> 1 - x, y -> 1 - y.
        rel = self._boxes_to(bounding_boxes, "rel_xyxy", height, width)
        x1, y1, x2, y2 = torch.split(rel["boxes"], 1, dim=-1)
        if self.mode in (HORIZONTAL, HORIZONTAL_AND_VERTICAL):
            x1, x2 = (
                torch.where(flips, 1 - x2, x1),
                torch.where(flips, 1 - x1, x2),
            )
        if self.mode in (VERTICAL, HORIZONTAL_AND_VERTICAL):
            y1, y2 = (
                torch.where(flips, 1 - y2, y1),
                torch.where(flips, 1 - y1, y2),
            )
        rel["boxes"] = torch.cat([x1, y1, x2, y2], dim=-1)
        # Keras clips with the pixel bounds here: only boxes with no area
        # change (their label becomes -1).
        rel = clip_to_image_size(rel, height, width, "xyxy")
        return self._boxes_from(rel, "rel_xyxy", height, width)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        # Keras: masks go through `transform_images`, so they come back in the
        # compute dtype.
        return self.transform_images(segmentation_masks, transformation, training)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}
