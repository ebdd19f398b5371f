"""CutMix: paste a rectangle from another image of the batch into each image."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    KERAS_UNSUPPORTED,
    BaseImagePreprocessingLayer,
)
from lamina.layers.preprocessing.random_erasing import box_masks, random_span
from lamina.random.random import _uniform


class CutMix(BaseImagePreprocessingLayer):
    """Pastes a rectangle of another (randomly permuted) image of the batch
    into each image while training (Yun et al., 2019).

    A concentration `a` is drawn uniformly from `factor` (plus 1e-6), then per
    image `w ~ Beta(a, a)`; the rectangle's sides are `sqrt(1 - w)` of the
    image's, placed uniformly within the image. Single images (rank 3) are returned as they are.

    Args:
        factor: A number `f` (concentrations in `[0, f]`) or a pair within
            `[0, 1]`. Defaults to 1.0.
        seed: Int seed for reproducible draws.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)`; output the same shape in the compute dtype. In
    a dict input, one-hot `"labels"` are blended by the uncovered share of
    each image and `"segmentation_masks"` get the same rectangle; bounding
    boxes raise `NotImplementedError`, as in Keras.

    Example:
    >>> layer = lamina.layers.CutMix(seed=1)
    >>> tuple(layer(np.zeros((4, 8, 8, 3), "float32"), training=True).shape)
    (4, 8, 8, 3)
    """

    # Keras: CutMix cannot move bounding boxes.
    _DICT_PARTS = {"bounding_boxes": KERAS_UNSUPPORTED}
    _COMPUTE_DTYPE_PARTS = ("labels", "segmentation_masks")
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def call(self, data, training=True):
        if isinstance(data, torch.Tensor) and data.ndim == 3:
            return data.to(self._compute_torch_dtype)  # Keras: nothing to mix
        return super().call(data, training=training)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training or data.device.type == "meta":
            return None
        seed = self.generator if seed is None else seed
        batch, dtype = data.shape[0], self.compute_dtype
        height, width = self._height_width(data.shape)
        alpha = _uniform((), self.factor[0], self.factor[1], dtype, seed, data.device)
        alpha = float(alpha) + 1e-6
        weight = random.beta((batch,), alpha, alpha, dtype=dtype, seed=seed)
        ratio = torch.sqrt(1.0 - weight.to(data.device))
        x0, x1 = random_span(batch, width, ratio, dtype, seed, data.device)
        y0, y1 = random_span(batch, height, ratio, dtype, seed, data.device)
        masks = box_masks(
            data.shape, self.data_format, x0, x1, y0, y1, x0.dtype, data.device
        )
        order = random.shuffle(torch.arange(batch, dtype=torch.int32), seed=seed)
        mix_weight = 1.0 - (x1 - x0) * (y1 - y0) / (width * height)
        mix_weight = mix_weight.reshape(-1, 1, 1, 1)
        return {
            "permutation_order": order.to(data.device),
            "batch_masks": masks,
            "mix_weight": mix_weight,
        }

    def transform_images(self, images, transformation=None, training=True):
        images = images.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return images
        order = transformation["permutation_order"].to(images.device).long()
        masks = transformation["batch_masks"].to(images.device)
        return torch.where(masks, images[order], images)

    def transform_labels(self, labels, transformation, training=True):
        """Labels (one-hot or class scores, `(batch, classes)`) blended by the
        share of each image left uncovered by the pasted rectangle."""
        if not training or transformation is None:
            return labels
        labels = labels.to(self._compute_torch_dtype)
        weight = transformation["mix_weight"].to(labels.device, labels.dtype)
        weight = weight.reshape(-1, 1)
        order = transformation["permutation_order"].to(labels.device).long()
        return weight * labels + (1.0 - weight) * labels[order]

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        """Masks with the same rectangle pasted from the same images, in the
        compute dtype."""
        masks = segmentation_masks.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return masks
        # Keras 3.15 uses the images' channel count for the masks too; here
        # the masks keep theirs.
        region = transformation["batch_masks"].to(masks.device)
        channel_axis = 1 if self.data_format == "channels_first" else 3
        region = region.narrow(channel_axis, 0, 1)
        order = transformation["permutation_order"].to(masks.device).long()
        return torch.where(region, masks[order], masks)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}
