"""Image ops (`keras.ops.image`): resizing, affine, perspective and elastic
warps, crops and pads, colour-space conversions, blurs and edges, SSIM, patch
extraction, `scale_and_translate` and `map_coordinates`.

Images are `(batch, height, width, channels)` or a single
`(height, width, channels)` image (`data_format="channels_last"`, the default
of `image_data_format()`), or channels first. Resizing and affine warps run the
torch code of the preprocessing layers (`Resizing`, the random affine layers).
"""

from lamina.ops.image.color import hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv
from lamina.ops.image.filters import gaussian_blur, sobel_edges, ssim
from lamina.ops.image.patches import extract_patches, extract_patches_3d
from lamina.ops.image.resizing import crop_images, pad_images, resize
from lamina.ops.image.warps import (
    affine_transform,
    elastic_transform,
    map_coordinates,
    perspective_transform,
    scale_and_translate,
)

__all__ = [
    "affine_transform",
    "crop_images",
    "extract_patches",
    "hsv_to_rgb",
    "map_coordinates",
    "pad_images",
    "resize",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "elastic_transform",
    "extract_patches_3d",
    "gaussian_blur",
    "perspective_transform",
    "scale_and_translate",
    "sobel_edges",
    "ssim",
]
