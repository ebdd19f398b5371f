"""RandomPerspective: move the corners of images at random, warping between."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    INTERPOLATIONS,
    BaseImagePreprocessingLayer,
    check_probability_factor,
    perspective_transform,
)
from lamina.random.random import _uniform


class RandomPerspective(BaseImagePreprocessingLayer):
    """Warps images as if seen from another angle, while training.

    Per image, the four corners `(x, y)` move to `(x, y) * (1 + d)`, each
    coordinate's `d` drawn uniformly from `[-scale / 2, scale / 2]`, and the
    image is resampled through the homography between the two sets of
    corners; points from outside the input read `fill_value`. As in Keras 3,
    `factor` is a probability range: per image a probability `p` is drawn from
    it, and the warp applies with probability `p`.

    Args:
        factor: A number `f` (probabilities in `[0, f]`) or a pair `(lower,
            upper)`, within `[0, 1]`. `0` never warps; `(1, 1)` always does.
            Defaults to 1.0.
        scale: How far the corners move, a number in `[0, 1]`. Defaults to 1.0.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        fill_value: The value of points outside the input. Defaults to 0.
        seed: Int seed for reproducible warps.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned (cast) unchanged.

    Example:
    >>> layer = lamina.layers.RandomPerspective(factor=(1, 1), scale=0.2, seed=1)
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32"), training=True).shape)
    (2, 8, 8, 3)
    """

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        factor=1.0,
        scale=1.0,
        interpolation="bilinear",
        fill_value=0.0,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.factor = check_probability_factor("RandomPerspective", "factor", factor)
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float))
            or not 0 <= scale <= 1
        ):
            raise ValueError(
                "RandomPerspective expects `scale` to be a number in [0, 1] (how "
                f"far the corners move); got scale={scale!r}."
            )
        self._check_choice(
            "RandomPerspective", "interpolation", interpolation, INTERPOLATIONS
        )
        self.scale = scale
        self.interpolation = interpolation
        self.fill_value = fill_value
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        batch, device = data.shape[0], data.device
        height, width = self._height_width(data.shape)
        # Keras's draws, in its order: probability, threshold, corner offsets.
        probability = _uniform(
            (batch,), self.factor[0], self.factor[1], None, seed, device
        )
        threshold = _uniform((batch,), 0.0, 1.0, None, seed, device)
        offsets = _uniform(
            (batch, 4, 2), -0.5 * self.scale, 0.5 * self.scale, None, seed, device
        )
        corners = [[0.0, 0.0], [width - 1, 0.0], [0.0, height - 1]]
        corners.append([width - 1, height - 1])
        start = torch.tensor(corners, dtype=offsets.dtype, device=device)
        start = start.expand(batch, 4, 2)
        return {
            "apply_perspective": threshold < probability,
            "start_points": start,
            "end_points": start + start * offsets,
            "input_shape": tuple(data.shape),
        }

    def _transform_images(self, images, transformation):
        warped = perspective_transform(
            images,
            transformation["start_points"],
            transformation["end_points"],
            interpolation=self.interpolation,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )
        apply = transformation["apply_perspective"].to(images.device)
        return torch.where(apply.reshape(-1, 1, 1, 1), warped, images)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "scale": self.scale,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }
