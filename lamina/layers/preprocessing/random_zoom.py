"""RandomZoom: zoom images in or out by a random factor while training."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    FILL_MODES,
    INTERPOLATIONS,
    BaseImagePreprocessingLayer,
    affine_transform,
)
from lamina.random.random import _uniform
from lamina.utils.bounding_boxes import clip_to_image_size


def _factor_range(layer_name, arg, factor, low_open):
    """`(lower, upper)` from a number `f` (`(-f, f)`) or a pair, each in
    `(-1, 1]` (`low_open`) or `[-1, 1]`."""
    interval = "(-1.0, 1.0]" if low_open else "[-1.0, 1.0]"

    def check(value):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value > 1.0
            or (value <= -1.0 if low_open else value < -1.0)
        ):
            raise ValueError(
                f"{layer_name} expects `{arg}` to be a number or a pair of numbers "
                f"in {interval}; got {arg}={factor!r}."
            )

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            check(None)
        check(factor[0])
        check(factor[1])
        return tuple(sorted(factor))
    check(factor)
    return -abs(factor), abs(factor)


class RandomZoom(BaseImagePreprocessingLayer):
    """Zooms each image about its center by a random factor while training.

    Args:
        height_factor: A number `f` or a pair `(lower, upper)` in `(-1, 1]`:
            the vertical zoom is `1 + u` with `u` uniform in `[lower, upper]`
            (`f` means `(-f, f)`). Positive values zoom out (the content
            shrinks), negative values zoom in.
        width_factor: The same for the horizontal zoom. Defaults to `None`:
            the vertical zoom is used, keeping the aspect ratio.
        fill_mode: `"reflect"` (default), `"wrap"`, `"constant"` or `"nearest"`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: Int seed for reproducible zooms.
        fill_value: The value used by `fill_mode="constant"`. Defaults to 0.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape.

    Example:
    >>> layer = lamina.layers.RandomZoom(0.2, seed=1)
    >>> tuple(layer(np.zeros((2, 8, 8, 3), "float32"), training=True).shape)
    (2, 8, 8, 3)
    """

    supports_jit = False  # as in Keras

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        height_factor,
        width_factor=None,
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
            "RandomZoom", "height_factor", height_factor, low_open=True
        )
        self.width_factor = width_factor
        if width_factor is not None:
            self.width_lower, self.width_upper = _factor_range(
                "RandomZoom", "width_factor", width_factor, low_open=True
            )
        self._check_choice("RandomZoom", "fill_mode", fill_mode, FILL_MODES)
        self._check_choice("RandomZoom", "interpolation", interpolation, INTERPOLATIONS)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.interpolation = interpolation
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        shape = (data.shape[0], 1)
        height_zoom = _uniform(
            shape,
            1.0 + self.height_lower,
            1.0 + self.height_upper,
            None,
            seed,
            data.device,
        )
        if self.width_factor is not None:
            width_zoom = _uniform(
                shape,
                1.0 + self.width_lower,
                1.0 + self.width_upper,
                None,
                seed,
                data.device,
            )
        else:
            width_zoom = height_zoom
        return {
            "height_zoom": height_zoom,
            "width_zoom": width_zoom,
            "input_shape": tuple(data.shape),
        }

    def _transform_images(self, images, transformation, interpolation=None):
        zooms = torch.cat(
            [transformation["width_zoom"], transformation["height_zoom"]], dim=1
        ).to(device=images.device, dtype=torch.float32)
        height, width = self._height_width(images.shape)
        return affine_transform(
            images,
            self._get_zoom_matrix(zooms, height, width),
            interpolation=interpolation or self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Scales the boxes about the image center with the images, clipped
        to the image."""
        if not training or transformation is None:
            return bounding_boxes
        height, width = self._height_width(transformation["input_shape"])
        bounding_boxes = self._boxes_to(bounding_boxes, "xyxy", height, width)
        boxes = bounding_boxes["boxes"]
        zooms = torch.cat(
            [transformation["width_zoom"], transformation["height_zoom"]], dim=1
        ).to(device=boxes.device, dtype=torch.float32)
        matrix = self._get_zoom_matrix(zooms, height, width)
        # The input window the output shows: from the image of the output's
        # corner (0, 0) to that of (W, H); boxes are clipped to it, then
        # stretched to the whole image (Keras's arithmetic, step by step).
        zx, x_start, zy, y_start = (matrix[:, i, None, None] for i in (0, 2, 4, 5))
        x_end = zx * width + x_start
        y_end = zy * height + y_start
        x1, y1, x2, y2 = torch.split(boxes, 1, dim=-1)
        x1 = torch.clamp(x1, x_start, x_end) - x_start
        y1 = torch.clamp(y1, y_start, y_end) - y_start
        x2 = torch.clamp(x2, x_start, x_end) - x_start
        y2 = torch.clamp(y2, y_start, y_end) - y_start
        window_w, window_h = x_end - x_start, y_end - y_start
        rel = torch.cat(
            [x1 / window_w, y1 / window_h, x2 / window_w, y2 / window_h], dim=-1
        )
        bounding_boxes["boxes"] = rel
        bounding_boxes = clip_to_image_size(
            bounding_boxes, bounding_box_format="rel_xyxy"
        )
        return self._boxes_from(bounding_boxes, "rel_xyxy", height, width)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        # Keras: the image resampling with nearest interpolation, in the
        # masks' own dtype.
        if not training or transformation is None:
            return segmentation_masks
        return self._transform_images(segmentation_masks, transformation, "nearest")

    @staticmethod
    def _get_zoom_matrix(zooms, height, width):
        # Zoom about the image center: x_in = zx * x + (W - 1) / 2 * (1 - zx).
        zx, zy = zooms[:, 0:1], zooms[:, 1:2]
        x_offset = ((float(width) - 1.0) / 2.0) * (1.0 - zx)
        y_offset = ((float(height) - 1.0) / 2.0) * (1.0 - zy)
        zeros = torch.zeros_like(zx)
        return torch.cat(
            [zx, zeros, x_offset, zeros, zy, y_offset, zeros, zeros], dim=1
        )

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
