"""RandomGaussianBlur: blur images with a Gaussian kernel at random."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_probability_factor,
)
from lamina.random.random import _uniform


class RandomGaussianBlur(BaseImagePreprocessingLayer):
    """Blurs each image with probability drawn from `factor` while training.

    Per image a probability `p` is drawn uniformly from `factor` and the image
    is blurred when a second uniform draw falls below it. One pair of sigmas
    `(sigma_x, sigma_y)`, uniform in `sigma`, serves the whole batch. The
    blur is a `kernel_size x kernel_size` Gaussian with zero padding; the
    result is clipped to `value_range`.

    Args:
        factor: A number `f` (probabilities in `[0, f]`) or a pair within
            `[0, 1]`. Defaults to 1.0.
        kernel_size: An odd int, or a pair of equal odd ints. Defaults to 3.
        sigma: A number `s` (sigmas in `[0, s]`) or a pair `(lower, upper)`
            within `[0, 1]`. Defaults to 1.0.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        seed: Int seed for reproducible draws.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype.

    Example:
    >>> layer = lamina.layers.RandomGaussianBlur(factor=(1.0, 1.0), seed=1)
    >>> tuple(layer(np.ones((2, 5, 5, 3), "float32"), training=True).shape)
    (2, 5, 5, 3)
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(
        self,
        factor=1.0,
        kernel_size=3,
        sigma=1.0,
        value_range=(0, 255),
        data_format=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self._set_factor(factor)
        self.kernel_size = _kernel_size(kernel_size)
        self.sigma = check_probability_factor("RandomGaussianBlur", "sigma", sigma)
        self.value_range = value_range
        self.seed = seed
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        seed = self.generator if seed is None else seed
        shape, device = (data.shape[0],), data.device
        probability = _uniform(
            shape, self.factor[0], self.factor[1], None, seed, device
        )
        threshold = _uniform(shape, 0.0, 1.0, None, seed, device)
        sigma = _uniform(
            (2,), self.sigma[0], self.sigma[1], self.compute_dtype, seed, device
        )
        return {
            "should_apply_blur": threshold < probability,
            "blur_factor": sigma + 1e-6,
        }

    def transform_images(self, images, transformation=None, training=True):
        images = images.to(self._compute_torch_dtype)
        if not training or transformation is None:
            return images
        x = (
            images
            if self.data_format == "channels_first"
            else images.permute(0, 3, 1, 2)
        )
        sigma = transformation["blur_factor"].to(x.device, x.dtype)
        size = self.kernel_size
        kernel = torch.outer(
            _gaussian_1d(size[1], sigma[1], x.dtype),
            _gaussian_1d(size[0], sigma[0], x.dtype),
        )
        channels = x.shape[1]
        kernel = kernel.reshape(1, 1, size[0], size[1]).expand(channels, 1, *size)
        blurred = torch.nn.functional.conv2d(
            x, kernel, padding=(size[0] // 2, size[1] // 2), groups=channels
        )
        apply = transformation["should_apply_blur"].to(x.device).reshape(-1, 1, 1, 1)
        x = torch.where(apply, blurred, x).clamp(
            self.value_range[0], self.value_range[1]
        )
        return x if self.data_format == "channels_first" else x.permute(0, 2, 3, 1)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "kernel_size": self.kernel_size,
            "sigma": self.sigma,
            "value_range": self.value_range,
            "seed": self.seed,
        }


def _gaussian_1d(size, sigma, dtype):
    x = torch.arange(size, dtype=dtype, device=sigma.device) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _kernel_size(kernel_size):
    sizes = (
        kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * 2
    )
    if len(sizes) != 2 or not all(
        isinstance(k, int) and not isinstance(k, bool) and k > 0 and k % 2 == 1
        for k in sizes
    ):
        raise ValueError(
            "RandomGaussianBlur expects `kernel_size` to be an odd positive int or "
            f"a pair of them; got kernel_size={kernel_size!r}."
        )
    return tuple(sizes)
