"""RandomShear: shear images along x and/or y by random amounts."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    FILL_MODES,
    INTERPOLATIONS,
    BaseImagePreprocessingLayer,
    affine_transform,
)
from lamina.random.random import _uniform
from lamina.utils.bounding_boxes import clip_to_image_size, convert_format


class RandomShear(BaseImagePreprocessingLayer):
    """Shears each image by random amounts while training.

    Per image, shear amounts `sx` and `sy` are drawn uniformly from `x_factor`
    and `y_factor` and share one random sign; the output pixel `(x, y)` reads
    the input at `(x + sx * y, sx' * x + y)` with `sx' = sy`, interpolated and
    filled as in `RandomRotation`.

    Args:
        x_factor: A number `f` in `[0, 1]` (amounts in `[-f, f]`) or a pair
            `(lower, upper)` within `[-1, 1]`. Defaults to 0 (no x shear).
        y_factor: Same form, for the y direction. Defaults to 0.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_mode: `"reflect"` (default), `"wrap"`, `"constant"` or
            `"nearest"`.
        fill_value: The value used by `fill_mode="constant"`. Defaults to 0.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible shears.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype.

    Example:
    >>> layer = lamina.layers.RandomShear(x_factor=0.3, seed=1)
    >>> tuple(layer(np.zeros((2, 8, 8, 3), "float32"), training=True).shape)
    (2, 8, 8, 3)
    """

    supports_jit = False  # as in Keras

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        x_factor=0.0,
        y_factor=0.0,
        interpolation="bilinear",
        fill_mode="reflect",
        fill_value=0.0,
        data_format=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.x_factor = _shear_range("x_factor", x_factor)
        self.y_factor = _shear_range("y_factor", y_factor)
        self._check_choice("RandomShear", "fill_mode", fill_mode, FILL_MODES)
        self._check_choice(
            "RandomShear", "interpolation", interpolation, INTERPOLATIONS
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
        shape, dtype, device = (data.shape[0], 1), self.compute_dtype, data.device
        sign = _uniform(shape, 0, 1, dtype, seed, device)
        sign = torch.where(sign > 0.5, -1.0, 1.0).to(sign.dtype)
        shear_y = _uniform(
            shape, self.y_factor[0], self.y_factor[1], dtype, seed, device
        )
        shear_x = _uniform(
            shape, self.x_factor[0], self.x_factor[1], dtype, seed, device
        )
        shear = torch.cat([shear_x, shear_y], dim=1) * sign
        return {"shear_factor": shear, "input_shape": tuple(data.shape)}

    def _transform_images(self, images, transformation, interpolation=None):
        shear = transformation["shear_factor"].to(images.device, torch.float32)
        ones = torch.ones_like(shear[:, 0])
        zeros = torch.zeros_like(ones)
        matrix = torch.stack(
            [ones, shear[:, 0], zeros, shear[:, 1], ones, zeros, zeros, zeros], dim=1
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
        """Moves the box corners with the shear, clipped to the image.

        As in Keras, the shear is applied to relative coordinates (exact for
        square images) and the y shear uses the x-sheared corners.
        """
        if not training or transformation is None:
            return bounding_boxes
        height, width = self._height_width(transformation["input_shape"])
        dtype = self._compute_torch_dtype
        rel = self._boxes_to(bounding_boxes, "rel_xyxy", height, width)
        boxes = rel["boxes"].to(dtype)
        shear = transformation["shear_factor"].to(boxes.device, dtype)
        sx, sy = shear[:, 0:1], shear[:, 1:2]
        x1, y1, x2, y2 = boxes.unbind(-1)
        # Which edge bounds each side depends on the shear's sign.
        x1 = torch.where(sx < 0, x1 - sx * y1, x1 - sx * y2)
        x2 = torch.where(sx < 0, x2 - sx * y2, x2 - sx * y1)
        y1 = torch.where(sy > 0, y1 - sy * x2, y1 - sy * x1)
        y2 = torch.where(sy > 0, y2 - sy * x1, y2 - sy * x2)
        rel["boxes"] = torch.stack([x1, y1, x2, y2], dim=-1)
        rel = clip_to_image_size(rel, bounding_box_format="rel_xyxy")
        boxes = convert_format(
            rel["boxes"],
            "rel_xyxy",
            self.bounding_box_format,
            height,
            width,
            dtype=self.compute_dtype,
        )
        return {**rel, "boxes": boxes}

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
            "x_factor": self.x_factor,
            "y_factor": self.y_factor,
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "seed": self.seed,
            "fill_value": self.fill_value,
        }


def _shear_range(arg, factor):
    message = (
        f"RandomShear expects `{arg}` to be a number in [0, 1] or a pair of "
        f"numbers in [-1, 1]; got {arg}={factor!r}."
    )
    if isinstance(factor, (tuple, list)):
        # Keras rejects negative pair entries, so its own configs (which hold
        # `(-f, f)`) do not load back; lamina accepts them.
        if len(factor) != 2 or not all(_within(f, -1) for f in factor):
            raise ValueError(message)
        return tuple(sorted(factor))
    if not _within(factor, 0):
        raise ValueError(message)
    return (-abs(factor), abs(factor))


def _within(value, low):
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and low <= value <= 1
    )
