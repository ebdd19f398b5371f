"""RandomErasing: overwrite a random rectangle of each image."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    image_axes,
)
from lamina.random.random import _normal, _uniform


def box_masks(shape, data_format, x0, x1, y0, y1, dtype, device):
    """Boolean `(B, H, W, C)` masks (or channels first) of the pixels with
    `x0 <= x < x1` and `y0 <= y < y1`, per image."""
    h_axis, w_axis, c_axis = image_axes(data_format)
    height, width = shape[h_axis], shape[w_axis]
    ys = torch.arange(height, dtype=dtype, device=device).reshape(1, height, 1)
    xs = torch.arange(width, dtype=dtype, device=device).reshape(1, 1, width)
    x0, x1, y0, y1 = (v.to(device, dtype).reshape(-1, 1, 1) for v in (x0, x1, y0, y1))
    masks = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    masks = masks.unsqueeze(c_axis)
    expand = [-1] * 4
    expand[c_axis] = shape[c_axis]
    return masks.expand(*expand)


def random_span(batch, length, fraction, dtype, seed, device):
    """`(start, end)` of spans `fraction * length` long at uniform positions."""
    span = fraction * length
    start = _uniform((batch,), 0, 1, dtype, seed, device) * (length - span)
    return start, start + span


class RandomErasing(BaseImagePreprocessingLayer):
    """Fills a random rectangle of some images while training (Cutout).

    Per image, side fractions `sqrt(u)` with `u` uniform in `scale` give the
    rectangle's width and height, placed uniformly within the image. An image
    is erased when a uniform draw falls below a probability drawn from
    `factor`.

    Args:
        factor: A number `f` (probabilities in `[0, f]`) or a pair within
            `[0, 1]`. Defaults to 1.0.
        scale: A number or a pair `(lower, upper)` within `[0, 1]`: the range
            of the squared side fractions. Defaults to `(0.02, 0.33)`.
        fill_value: A number, three numbers (one per channel) or `None`
            (Gaussian noise times `value_range[1]`), clipped to
            `value_range`. Defaults to `None`.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        seed: Int seed for reproducible draws.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype.

    Example:
    >>> layer = lamina.layers.RandomErasing(factor=(1.0, 1.0), fill_value=0, seed=1)
    >>> out = layer(np.ones((1, 8, 8, 1), "float32"), training=True)
    >>> bool((out == 0).any()), bool((out == 1).any())
    (True, True)
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(
        self,
        factor=1.0,
        scale=(0.02, 0.33),
        fill_value=None,
        value_range=(0, 255),
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(scale)
        self.scale = self.factor
        self._set_factor(factor)
        if fill_value is not None and not (
            (isinstance(fill_value, (int, float)) and not isinstance(fill_value, bool))
            or (isinstance(fill_value, (tuple, list)) and len(fill_value) == 3)
        ):
            raise ValueError(
                "RandomErasing expects `fill_value` to be a number, a list of three "
                f"numbers or None; got fill_value={fill_value!r}."
            )
        self.fill_value = fill_value
        self.value_range = value_range
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        batch, dtype, device = data.shape[0], self.compute_dtype, data.device
        height, width = self._height_width(data.shape)
        sides = _uniform((batch, 2), self.scale[0], self.scale[1], dtype, seed, device)
        sides = torch.sqrt(sides)
        x0, x1 = random_span(batch, width, sides[:, 0], dtype, seed, device)
        y0, y1 = random_span(batch, height, sides[:, 1], dtype, seed, device)
        masks = box_masks(
            data.shape, self.data_format, x0, x1, y0, y1, sides.dtype, device
        )
        probability = _uniform(
            (batch,), self.factor[0], self.factor[1], None, seed, device
        )
        threshold = _uniform((batch,), 0.0, 1.0, None, seed, device)
        return {
            "apply_erasing": threshold < probability,
            "batch_masks": masks,
            "fill_value": self._fill(data, seed),
        }

    def _fill(self, data, seed):
        dtype = self._compute_torch_dtype
        if self.fill_value is None:
            fill = _normal(
                tuple(data.shape), 0.0, 1.0, self.compute_dtype, seed, data.device
            )
            fill = fill * self.value_range[1]
        elif isinstance(self.fill_value, (tuple, list)):
            fill = torch.tensor(self.fill_value, dtype=dtype, device=data.device)
            if self.data_format == "channels_first":
                fill = fill.reshape(3, 1, 1)
            fill = fill.expand(data.shape).to(dtype)
        else:
            fill = torch.full(
                data.shape, float(self.fill_value), dtype=dtype, device=data.device
            )
        return fill.clamp(self.value_range[0], self.value_range[1])

    def transform_images(self, images, transformation=None, training=True):
        images = images.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return images
        # Keras also takes a plain number as a hand-made `fill_value`.
        masks = torch.as_tensor(transformation["batch_masks"], device=images.device)
        fill = torch.as_tensor(
            transformation["fill_value"], dtype=images.dtype, device=images.device
        )
        erased = torch.where(masks, fill, images)
        apply = torch.as_tensor(transformation["apply_erasing"], device=images.device)
        apply = apply.reshape(-1, 1, 1, 1)
        return torch.where(apply, erased, images)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "scale": self.scale,
            "fill_value": self.fill_value,
            "value_range": self.value_range,
            "seed": self.seed,
        }
