"""ContrastLimitedAdaptiveHistogramEqualization (CLAHE): histogram
equalization per tile, with clipped histograms and blended tile borders."""

import torch

from lamina.layers.preprocessing._base_image_layer import (
    KERAS_UNSUPPORTED,
    BaseImagePreprocessingLayer,
    check_value_range,
    transform_value_range,
)

_BINS = 256


class ContrastLimitedAdaptiveHistogramEqualization(BaseImagePreprocessingLayer):
    """Equalizes the contrast of each image locally, tile by tile.

    Each image channel (values mapped from `value_range` onto `[0, 255]` and
    truncated to integers for the histograms) is cut into a `tile_grid_size`
    grid of tiles, the bottom and right edges padded by reflection to whole
    tiles. Each tile's 256-bin histogram is clipped at `int(clip_limit *
    pixels / 256)` per bin (truncated, as in Keras's torch backend), the clipped excess spread evenly over all bins, and its
    normalized cumulative sum maps values onto `[0, 255]`. A pixel's output
    blends the maps of the four nearest tile centers bilinearly.
    Deterministic, and applied in training and inference alike.

    Args:
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        clip_limit: Limit on a histogram bin, relative to a flat histogram; 0
            or less disables clipping. Defaults to 4.0.
        tile_grid_size: `(rows, columns)` of tiles. Defaults to `(8, 8)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape and dtype
    as the input (integer inputs get truncated results, as in Keras).

    Example:
    >>> layer = lamina.layers.ContrastLimitedAdaptiveHistogramEqualization(
    ...     clip_limit=0, tile_grid_size=(1, 1))
    >>> x = np.array([[[[100.0], [100.0]], [[100.0], [200.0]]]], "float32")
    >>> layer(x).flatten().tolist()
    [191.25, 191.25, 191.25, 255.0]
    """

    # Keras: CLAHE raises for labels, boxes and masks alike.
    _DICT_PARTS = dict.fromkeys(
        ("labels", "bounding_boxes", "segmentation_masks"), KERAS_UNSUPPORTED
    )

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        value_range=(0, 255),
        clip_limit=4.0,
        tile_grid_size=(8, 8),
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        owner = "ContrastLimitedAdaptiveHistogramEqualization"
        self.value_range = check_value_range(owner, value_range)
        if isinstance(clip_limit, bool) or not isinstance(clip_limit, (int, float)):
            raise ValueError(
                f"{owner} expects `clip_limit` to be a number; got "
                f"clip_limit={clip_limit!r}."
            )
        if (
            not isinstance(tile_grid_size, (tuple, list))
            or len(tile_grid_size) != 2
            or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0
                for n in tile_grid_size
            )
        ):
            raise ValueError(
                f"{owner} expects `tile_grid_size` to be a pair of positive ints "
                f"(rows, columns); got tile_grid_size={tile_grid_size!r}."
            )
        self.clip_limit = clip_limit
        self.tile_grid_size = tuple(tile_grid_size)

    def transform_images(self, images, transformation=None, training=True):
        dtype = images.dtype
        x = (
            images
            if self.data_format == "channels_first"
            else images.permute(0, 3, 1, 2)
        )
        x = transform_value_range(x.to(torch.float32), self.value_range, (0, 255))
        if x.device.type != "meta":
            x = self._equalize(x)
        x = transform_value_range(x, (0, 255), self.value_range)
        x = x if self.data_format == "channels_first" else x.permute(0, 2, 3, 1)
        return x.to(dtype)

    def _equalize(self, images):
        """CLAHE of float `images (B, C, H, W)` with values in [0, 255]."""
        batch, channels, height, width = images.shape
        grid_h, grid_w = self.tile_grid_size
        tile_h, tile_w = -(-height // grid_h), -(-width // grid_w)
        padded_h, padded_w = tile_h * grid_h, tile_w * grid_w
        # 1. Pad to whole tiles by reflection including the edge (NumPy's
        #    "symmetric"), which repeats periodically past the image size.
        rows = _symmetric_indices(padded_h, height, images.device)
        cols = _symmetric_indices(padded_w, width, images.device)
        padded = images[:, :, rows][:, :, :, cols]
        pixels = padded.to(torch.int32).clamp(0, _BINS - 1).to(torch.int64)
        # 2. One histogram per (image, channel, tile row, tile column).
        tiles = pixels.reshape(batch, channels, grid_h, tile_h, grid_w, tile_w)
        tiles = tiles.permute(0, 1, 2, 4, 3, 5).reshape(-1, tile_h * tile_w)
        hists = torch.zeros(tiles.shape[0], _BINS, device=images.device)
        hists.scatter_add_(1, tiles, torch.ones_like(tiles, dtype=hists.dtype))
        area = tile_h * tile_w
        if self.clip_limit > 0:
            # Keras (torch backend) counts in integers, so the limit is
            # truncated to an int, as OpenCV does (which keeps it >= 1).
            clipped = hists.clamp(0, int(self.clip_limit * area / _BINS))
            excess = (hists - clipped).sum(dim=-1, keepdim=True)
            hists = clipped + excess / _BINS
        # 3. Each tile's lookup table from its cumulative histogram.
        cdf = torch.cumsum(hists, dim=-1)
        cdf_min = cdf.amin(dim=-1, keepdim=True)
        denominator = area - cdf_min
        denominator = torch.where(denominator == 0, 1.0, denominator)
        tables = ((cdf - cdf_min) * 255.0 / denominator).clamp(0, 255)
        # Border tiles repeated once around, so every pixel has 4 neighbours.
        tables = tables.reshape(batch, channels, grid_h, grid_w, _BINS)
        tables = torch.nn.functional.pad(
            tables.permute(0, 1, 4, 2, 3).reshape(-1, _BINS, grid_h, grid_w),
            (1, 1, 1, 1),
            mode="replicate",
        ).reshape(batch, channels, _BINS, grid_h + 2, grid_w + 2)
        tables = tables.permute(0, 1, 3, 4, 2)
        # 4. Blend the four nearest tiles' tables, weighted by distance.
        y0, y1, wy = _neighbours(padded_h, tile_h, grid_h, images.device)
        x0, x1, wx = _neighbours(padded_w, tile_w, grid_w, images.device)
        wy, wx = wy.reshape(-1, 1), wx.reshape(1, -1)
        b = torch.arange(batch, device=images.device).reshape(-1, 1, 1, 1)
        c = torch.arange(channels, device=images.device).reshape(1, -1, 1, 1)

        def lookup(ty, tx):
            return tables[b, c, ty.reshape(-1, 1), tx.reshape(1, -1), pixels]

        top = lookup(y0, x0) * (1.0 - wx) + lookup(y0, x1) * wx
        bottom = lookup(y1, x0) * (1.0 - wx) + lookup(y1, x1) * wx
        result = top * (1.0 - wy) + bottom * wy
        return result[:, :, :height, :width]

    def get_config(self):
        return {
            **super().get_config(),
            "value_range": self.value_range,
            "clip_limit": self.clip_limit,
            "tile_grid_size": self.tile_grid_size,
        }


def _symmetric_indices(size, length, device):
    """Indices `0..size-1` folded into `[0, length)` as NumPy's symmetric pad."""
    index = torch.arange(size, device=device) % (2 * length)
    return torch.where(index < length, index, 2 * length - 1 - index)


def _neighbours(size, tile, grid, device):
    """Per pixel row (or column): the two nearest tile centers, as indices into
    the border-padded tables, and the weight of the second."""
    position = torch.arange(size, dtype=torch.float32, device=device) - tile / 2.0
    position = position / tile + 1.0
    lower = torch.floor(position)
    weight = position - lower
    lower_index = lower.clamp(0, grid + 1).to(torch.int64)
    upper_index = (lower + 1.0).clamp(0, grid + 1).to(torch.int64)
    return lower_index, upper_index, weight
