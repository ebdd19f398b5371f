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
    compute dtype. At inference the input is returned unchanged.

    Example:
    >>> layer = lamina.layers.MixUp(seed=1)
    >>> x = np.full((2, 2, 2, 1), 3.0, "float32")
    >>> layer(x, training=True).flatten().tolist() == [3.0] * 8
    True
    """

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
        weight = transformation["mix_weight"].to(images.device, images.dtype)
        weight = weight.reshape(-1, 1, 1, 1)
        order = transformation["permutation_order"].to(images.device)
        return weight * images + (1.0 - weight) * images[order]

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}
