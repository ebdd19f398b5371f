"""RandomPerspective: move the corners of images at random, warping between."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    INTERPOLATIONS,
    KEPT,
    BaseImagePreprocessingLayer,
    check_probability_factor,
    compute_homography_matrix,
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

    supports_jit = False  # as in Keras

    _DICT_PARTS = {"labels": KEPT}
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

    def _transform_images(self, images, transformation, interpolation=None):
        warped = perspective_transform(
            images,
            transformation["start_points"],
            transformation["end_points"],
            interpolation=interpolation or self.interpolation,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )
        apply = transformation["apply_perspective"].to(images.device)
        return torch.where(apply.reshape(-1, 1, 1, 1), warped, images)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes around the warped corners of each box, clipped to the image
        (a box left with no area gets label -1)."""
        if not training or transformation is None:
            return bounding_boxes
        height, width = self._height_width(transformation["input_shape"])
        xyxy = self._boxes_to(bounding_boxes, "xyxy", height, width)
        boxes = xyxy["boxes"]
        exact = torch.float32 if boxes.device.type == "mps" else torch.float64
        # The homography maps output pixels to input pixels; its inverse
        # carries the box corners forward.
        matrix = compute_homography_matrix(
            transformation["start_points"].to(boxes.device, exact),
            transformation["end_points"].to(boxes.device, exact),
        )
        ones = torch.ones_like(matrix[:, :1])
        matrix = torch.cat([matrix, ones], dim=1).reshape(-1, 3, 3)
        forward = torch.linalg.inv(matrix).unsqueeze(1)  # (batch, 1, 3, 3)
        x0, y0, x1, y1 = boxes.to(exact).unbind(-1)
        corner_x = torch.stack([x0, x1, x0, x1], dim=-1)
        corner_y = torch.stack([y0, y1, y1, y0], dim=-1)
        points = torch.stack([corner_x, corner_y, torch.ones_like(corner_x)], -2)
        moved = forward @ points  # (batch, N, 3, 4)
        xs, ys = (
            moved[..., 0, :] / moved[..., 2, :],
            moved[..., 1, :] / moved[..., 2, :],
        )
        warped = torch.stack(
            [xs.amin(-1), ys.amin(-1), xs.amax(-1), ys.amax(-1)], dim=-1
        ).to(boxes.dtype)
        apply = transformation["apply_perspective"].to(boxes.device)
        xyxy["boxes"] = torch.where(apply.reshape(-1, 1, 1), warped, boxes)
        return self._clip_boxes_from_xyxy(xyxy, height, width)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        """Masks warped like the images with nearest interpolation, in their
        own dtype (as Keras does)."""
        if not training or transformation is None:
            return segmentation_masks
        return self._transform_images(segmentation_masks, transformation, "nearest")

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "scale": self.scale,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }
