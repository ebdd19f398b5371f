"""Equalization: histogram equalization of each image channel."""

import torch

from lamina.layers.preprocessing._base_image_layer import (
    COLOUR_ONLY,
    BaseImagePreprocessingLayer,
    check_value_range,
    transform_value_range,
)


class Equalization(BaseImagePreprocessingLayer):
    """Spreads the pixel values of each channel evenly over the value range.

    As in Keras 3, the histogram of a channel (`bins` bins over `[0, 255]`
    after mapping from `value_range`) is taken over the whole batch, and the
    values are remapped through its normalized cumulative sum. A channel whose
    values all fall into one bin is left as it is. Applied when training (the
    default for a direct call); at inference the input is returned unchanged.

    Args:
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        bins: Number of histogram bins. Defaults to 256.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype.

    Example:
    >>> layer = lamina.layers.Equalization()
    >>> layer(np.array([[[[0.0], [50.0], [100.0]]]], "float32")).flatten().tolist()
    [0.0, 128.0, 255.0]
    """

    _DICT_PARTS = COLOUR_ONLY

    _USE_BASE_FACTOR = False

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise ValueError(
                f"Equalization expects `bins` to be an int >= 2; got bins={bins!r}."
            )
        self.bins = bins
        self.value_range = check_value_range("Equalization", value_range)

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        images = images.to(self._compute_torch_dtype)
        axis = -3 if self.data_format == "channels_first" else -1
        channels = [self._equalize(c) for c in images.unbind(dim=axis)]
        return torch.stack(channels, dim=axis)

    def _equalize(self, channel):
        channel = transform_value_range(channel, self.value_range, (0, 255))
        bins = self.bins
        # No value is read on the host (a GPU would wait for each): the
        # histogram is a scatter_add (bincount reads the largest index) and
        # the one-bin case is chosen by `where`.
        # 1. Histogram over [0, 255] (indices truncated, as Keras casts).
        scaled = channel.to(torch.float32) * (bins - 1) / 255.0
        indices = scaled.to(torch.int32).clamp(0, bins - 1).reshape(-1).long()
        hist = torch.zeros(bins, dtype=torch.int64, device=channel.device)
        hist.scatter_add_(0, indices, torch.ones_like(indices))
        # 2. The lookup table from the cumulative histogram; `cdf_min` is the
        # count of the first non-empty bin, the smallest positive `cdf`.
        cdf = torch.cumsum(hist, dim=0)
        cdf_min = torch.where(cdf > 0, cdf, cdf[-1]).amin()
        denominator = cdf[-1] - cdf_min  # 0 when every value is in one bin
        table = ((cdf - cdf_min) * 255) / denominator.clamp(min=1)
        table = table.round().clamp(0, 255).to(channel.dtype)
        # 3. Remap; a channel in one bin is left as it is.
        positions = (channel / 255.0) * (bins - 1)
        positions = positions.clamp(0, bins - 1).to(torch.int64)
        equalized = torch.where(denominator > 0, table[positions], channel)
        return transform_value_range(equalized, (0, 255), self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "bins": self.bins,
            "value_range": self.value_range,
        }
