"""Crop or pad images to a target aspect ratio before resizing.

Shared by `ops.image.resize` and the `Resizing` layer. It imports torch only,
so the layer module (which `lamina.ops.image` itself imports) can import it
while the package is still initialising.
"""

import torch
import torch.nn.functional as F


def fit_aspect_ratio(
    images: torch.Tensor,
    size,
    crop: bool,
    pad: bool,
    fill_value,
    data_format: str,
) -> torch.Tensor:
    """Images centre-cropped (`crop`) or evenly padded with `fill_value` (`pad`)
    to the aspect ratio of `size = (height, width)`; unchanged when neither.

    The integer arithmetic is Keras's: the crop is the largest centred window
    of the target ratio (at least one pixel), the padding the same on both
    sides of the short axis. Images are `(..., height, width, channels)` for
    `"channels_last"`, `(..., channels, height, width)` for `"channels_first"`.
    """
    if not crop and not pad:
        return images
    rows, cols = (-3, -2) if data_format == "channels_last" else (-2, -1)
    height, width = images.shape[rows], images.shape[cols]
    target_h, target_w = size
    if crop:
        crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
        crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
        top = int(float(height - crop_h) / 2)
        left = int(float(width - crop_w) / 2)
        return images.narrow(rows, top, crop_h).narrow(cols, left, crop_w)
    pad_h = max(height, int(float(width * target_h) / target_w))
    pad_w = max(width, int(float(height * target_w) / target_h))
    top, left = int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)
    # F.pad lists the last axis first: channels (if last), width, height.
    pads = ((0, 0) if data_format == "channels_last" else ()) + (left, left, top, top)
    return F.pad(images, pads, value=float(fill_value))
