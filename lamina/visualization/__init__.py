"""lamina.visualization: boxes and segmentation masks drawn on images, and
galleries of images (Keras 3's `keras.visualization`). Drawing uses NumPy
(Pillow for label text); galleries use matplotlib. Both are optional and
imported on first use: `pip install "lamina[plot,image]"`."""

from lamina.visualization._draw_bounding_boxes import draw_bounding_boxes
from lamina.visualization._draw_segmentation_masks import draw_segmentation_masks
from lamina.visualization._plot_bounding_box_gallery import plot_bounding_box_gallery
from lamina.visualization._plot_image_gallery import plot_image_gallery
from lamina.visualization._plot_segmentation_mask_gallery import (
    plot_segmentation_mask_gallery,
)

__all__ = [
    "draw_bounding_boxes",
    "draw_segmentation_masks",
    "plot_bounding_box_gallery",
    "plot_image_gallery",
    "plot_segmentation_mask_gallery",
]
