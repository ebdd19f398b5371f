"""MixUp: blend each image with another image of the batch."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer


class MixUp(BaseImagePreprocessingLayer):
    """Replaces each image by `w * x + (1 - w) * x[perm]` while training, with
    `perm` a random permutation of the batch and `w ~ Beta(alpha, alpha)` per
    image (Zhang et al., 2017).

    Args:
        alpha: The Beta distribution's concentration. Defaults to 0.2.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible draws.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned unchanged. In a dict
    input, one-hot `"labels"` and `"segmentation_masks"` are blended with the
    images' weights, and each image's boxes are joined by those of the image
    mixed into it.

    Example:
    >>> layer = lamina.layers.MixUp(seed=1)
    >>> x = np.full((2, 2, 2, 1), 3.0, "float32")
    >>> layer(x, training=True).flatten().tolist() == [3.0] * 8
    True
    """

    _COMPUTE_DTYPE_PARTS = ("labels", "segmentation_masks")
    _USE_BASE_FACTOR = False

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(
                f"MixUp expects `alpha` to be a positive number; got alpha={alpha!r}."
            )
        self.alpha = alpha
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        seed = self.generator if seed is None else seed
        batch = data.shape[0]
        if data.device.type == "meta":
            order = torch.arange(batch, device=data.device)
            return {
                "mix_weight": torch.ones(batch, device=data.device),
                "permutation_order": order,
            }
        order = random.shuffle(torch.arange(batch, dtype=torch.int64), seed=seed)
        weight = random.beta((batch,), self.alpha, self.alpha, seed=seed)
        return {"mix_weight": weight, "permutation_order": order}

    def transform_images(self, images, transformation=None, training=True):
        if not training:
            return images
        images = images.to(self._compute_torch_dtype)
        # Keras also takes plain numbers and lists in a hand-made transformation.
        weight = torch.as_tensor(
            transformation["mix_weight"], dtype=images.dtype, device=images.device
        ).reshape(-1, 1, 1, 1)
        order = torch.as_tensor(
            transformation["permutation_order"], device=images.device
        )
        return weight * images + (1.0 - weight) * images[order]

    def transform_labels(self, labels, transformation, training=True):
        """Labels (one-hot or class scores, `(batch, classes)`) blended with
        the same weights as their images."""
        if not training or transformation is None:
            return labels
        labels = labels.to(self._compute_torch_dtype)
        weight = torch.as_tensor(
            transformation["mix_weight"], dtype=labels.dtype, device=labels.device
        ).reshape(-1, 1)
        order = torch.as_tensor(
            transformation["permutation_order"], device=labels.device
        )
        return weight * labels + (1.0 - weight) * labels[order]

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Each image keeps its boxes and gains those of the image mixed into
        it: `(batch, 2 * N, 4)` boxes and `(batch, 2 * N)` labels."""
        if not training or transformation is None:
            return bounding_boxes
        boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
        if boxes.ndim != 3:
            raise ValueError(
                "MixUp.transform_bounding_boxes expects a batch of boxes, shape "
                "(batch, num_boxes, 4), with labels (batch, num_boxes); got boxes "
                f"of shape {tuple(boxes.shape)}. Call the layer on a dict of "
                "images and boxes to mix one image's boxes."
            )
        order = torch.as_tensor(
            transformation["permutation_order"], device=boxes.device
        )
        # Keras 3.15 joins the labels along the batch axis, which leaves them
        # out of step with the boxes; here both grow along the box axis.
        return {
            **bounding_boxes,
            "boxes": torch.cat([boxes, boxes[order]], dim=1),
            "labels": torch.cat([labels, labels[order]], dim=1),
        }

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        """Masks blended like the images, in the compute dtype."""
        if not training or transformation is None:
            return segmentation_masks
        # Keras 3.15 gathers the masks without a batch axis, which breaks
        # their shape; this is the per-image blend it means.
        return self.transform_images(segmentation_masks, transformation)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}
