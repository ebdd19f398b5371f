"""RandomElasticTransform: displace pixels along smooth random fields."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    INTERPOLATIONS,
    KEPT,
    KERAS_UNSUPPORTED,
    BaseImagePreprocessingLayer,
    check_probability_factor,
    check_value_range,
    gaussian_blur_single_channel,
    sample_pixels,
)
from lamina.random.random import _normal, _uniform

_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


class RandomElasticTransform(BaseImagePreprocessingLayer):
    """Distorts images elastically, like a rubber sheet, while training.

    One distortion strength `s` is drawn per batch from `scale`; it sets
    `alpha = 0.1 * s * max(H, W)` and `sigma = 0.05 * s * min(H, W)`. Two
    standard normal fields per image, times `sigma`, are smoothed by a
    Gaussian of std `sigma`, and output pixel `(x, y)` reads the input at
    `(x + alpha * dx, y + alpha * dy)`. As in Keras 3, `factor` is a
    probability range (per image a probability is drawn from it, and the
    distortion applies with that probability), and every output is clipped
    to `value_range`.

    Args:
        factor: A number `f` (probabilities in `[0, f]`) or a pair `(lower,
            upper)`, within `[0, 1]`. Defaults to 1.0.
        scale: A number `s` (strengths in `[0, s]`) or a pair, within
            `[0, 1]`. Defaults to 1.0.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_mode: How points outside the image are read: `"reflect"`
            (default), `"mirror"`, `"wrap"`, `"constant"` or `"nearest"`.
        fill_value: The value used by `fill_mode="constant"`. Defaults to 0.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        seed: Int seed for reproducible distortions.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned (cast) unchanged.

    Example:
    >>> layer = lamina.layers.RandomElasticTransform(factor=(1, 1), seed=1)
    >>> tuple(layer(np.ones((2, 16, 16, 3), "float32"), training=True).shape)
    (2, 16, 16, 3)
    """

    # Keras: the elastic transform cannot move bounding boxes.
    _DICT_PARTS = {"labels": KEPT, "bounding_boxes": KERAS_UNSUPPORTED}
    _COMPUTE_DTYPE_PARTS = ("segmentation_masks",)
    _USE_BASE_FACTOR = False

    def __init__(
        self,
        factor=1.0,
        scale=1.0,
        interpolation="bilinear",
        fill_mode="reflect",
        fill_value=0.0,
        value_range=(0, 255),
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        owner = "RandomElasticTransform"
        self.factor = check_probability_factor(owner, "factor", factor)
        self.scale = check_probability_factor(owner, "scale", scale)
        self._check_choice(owner, "interpolation", interpolation, INTERPOLATIONS)
        self._check_choice(owner, "fill_mode", fill_mode, _FILL_MODES)
        self.interpolation = interpolation
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.value_range = type(value_range)(check_value_range(owner, value_range))
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training or self.scale[1] == 0 or self.factor[1] == 0:
            return None
        seed = self.generator if seed is None else seed
        batch, device = data.shape[0], data.device
        height, width = self._height_width(data.shape)
        probability = _uniform(
            (batch,), self.factor[0], self.factor[1], None, seed, device
        )
        threshold = _uniform((batch,), 0.0, 1.0, None, seed, device)
        strength = _uniform((), self.scale[0], self.scale[1], None, seed, device)
        # The displacement noise is drawn here (Keras draws it inside the op),
        # so that one transformation always gives the same output.
        noise = _normal((2, batch, height, width), 0.0, 1.0, None, seed, device)
        return {
            "apply_transform": threshold < probability,
            "distortion_factor": strength,
            "noise": noise,
        }

    def transform_images(self, images, transformation, training=True):
        images = images.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return images
        return self._warp(images, transformation, self.interpolation)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        """Masks displaced by the images' fields with nearest interpolation
        (class ids stay whole), clipped and cast like the images."""
        masks = segmentation_masks.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return masks
        # Keras 3.15 draws new noise for the masks, so they drift from their
        # images; here both read the transformation's noise.
        return self._warp(masks, transformation, "nearest")

    def _warp(self, images, transformation, interpolation):
        if images.device.type == "meta":
            return images
        height, width = self._height_width(images.shape)
        strength = float(transformation["distortion_factor"])
        alpha = max(height, width) * 0.1 * strength
        sigma = min(height, width) * 0.05 * strength
        noise = transformation.get("noise")
        if noise is None:
            # A transformation written as Keras's (a "seed", no "noise"): draw
            # the displacement fields from that seed.
            noise = _normal(
                (2, images.shape[0], height, width),
                0.0,
                1.0,
                None,
                transformation.get("seed", self.generator),
                images.device,
            )
        noise = noise.to(images.device, torch.float32) * sigma
        dx = gaussian_blur_single_channel(noise[0], sigma)
        dy = gaussian_blur_single_channel(noise[1], sigma)
        ys = torch.arange(height, dtype=dx.dtype, device=dx.device).reshape(-1, 1)
        xs = torch.arange(width, dtype=dx.dtype, device=dx.device)
        x = (
            images
            if self.data_format == "channels_first"
            else images.permute(0, 3, 1, 2)
        )
        warped = sample_pixels(
            x,
            xs + alpha * dx,
            ys + alpha * dy,
            interpolation,
            self.fill_mode,
            self.fill_value,
        )
        if self.data_format == "channels_last":
            warped = warped.permute(0, 2, 3, 1)
        apply = transformation["apply_transform"].to(images.device)
        images = torch.where(apply.reshape(-1, 1, 1, 1), warped, images)
        return images.clamp(self.value_range[0], self.value_range[1])

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "scale": self.scale,
            "interpolation": self.interpolation,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "value_range": self.value_range,
            "seed": self.seed,
        }
