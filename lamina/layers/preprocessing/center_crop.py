"""CenterCrop: cut the central `height x width` region out of images."""

import torch

from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer
from lamina.layers.preprocessing.resizing import resize_images
from lamina.utils.bounding_boxes import convert_format


class CenterCrop(BaseImagePreprocessingLayer):
    """Crops the center of each image to `(height, width)`.

    An image smaller than the target on either side is instead cropped to the
    target aspect ratio and resized (bilinear), as Keras does.

    Args:
        height, width: The output size in pixels.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output `(batch, height, width, C)`
    in the layer's compute dtype.

    Example:
    >>> layer = lamina.layers.CenterCrop(2, 2)
    >>> layer(np.arange(16, dtype="float32").reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
    [[5.0, 6.0], [9.0, 10.0]]
    """

    # Keras: masks go through `transform_images`, into the compute dtype.
    _COMPUTE_DTYPE_PARTS = ("segmentation_masks",)
    _USE_BASE_FACTOR = False
    _SAME_FOR_EVERY_IMAGE = True

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        for arg, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"CenterCrop expects `{arg}` to be a positive int; got "
                    f"{arg}={value!r}."
                )
        self.height = height
        self.width = width

    def get_random_transformation(self, data, training=True, seed=None):
        return {"input_shape": tuple(data.shape)}

    def transform_images(self, images, transformation=None, training=True):
        images = images.to(self._compute_torch_dtype)
        height, width = self._height_width(images.shape)
        top, left = (height - self.height) // 2, (width - self.width) // 2
        if height < self.height or width < self.width:
            return resize_images(
                images,
                (self.height, self.width),
                crop_to_aspect_ratio=True,
                data_format=self.data_format,
            )
        rows, cols = slice(top, top + self.height), slice(left, left + self.width)
        if self.data_format == "channels_first":
            return images[:, :, rows, cols]
        return images[:, rows, cols, :]

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Shifts the boxes into the crop, clipped to it (and scaled with the
        image when a small image is resized instead)."""
        height, width = self._height_width(transformation["input_shape"])
        bounding_boxes = self._boxes_to(bounding_boxes, "xyxy", height, width)
        if height >= self.height and width >= self.width:
            top, left = (height - self.height) // 2, (width - self.width) // 2
            crop_height, crop_width = self.height, self.width
        else:
            # The centered window of the target aspect ratio, resized.
            crop_height = max(min(height, int(width * self.height / self.width)), 1)
            crop_width = max(min(width, int(height * self.width / self.height)), 1)
            top, left = (height - crop_height) // 2, (width - crop_width) // 2
        x1, y1, x2, y2 = torch.split(bounding_boxes["boxes"], 1, dim=-1)
        x1 = torch.clamp(x1, left, left + crop_width) - left
        y1 = torch.clamp(y1, top, top + crop_height) - top
        x2 = torch.clamp(x2, left, left + crop_width) - left
        y2 = torch.clamp(y2, top, top + crop_height) - top
        boxes = torch.cat([x1, y1, x2, y2], dim=-1)
        if (crop_height, crop_width) != (self.height, self.width):
            # Keras's route: relative to the window, then absolute in the output.
            boxes = convert_format(boxes, "xyxy", "rel_xyxy", crop_height, crop_width)
            boxes = convert_format(boxes, "rel_xyxy", "xyxy", self.height, self.width)
        bounding_boxes["boxes"] = boxes
        return self._clip_boxes_from_xyxy(bounding_boxes, self.height, self.width)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        # Keras crops masks as images (in the compute dtype). A small image is
        # resized instead; masks then use nearest interpolation (Keras's
        # bilinear would blend class ids).
        height, width = self._height_width(segmentation_masks.shape)
        if height >= self.height and width >= self.width:
            return self.transform_images(segmentation_masks, transformation, training)
        masks = resize_images(
            segmentation_masks,
            (self.height, self.width),
            interpolation="nearest",
            crop_to_aspect_ratio=True,
            data_format=self.data_format,
        )
        return masks.to(self._compute_torch_dtype)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            return self._dict_output_shape(input_shape)
        shape = list(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(
                "CenterCrop expects an input shape of rank 4 (batch, H, W, C) or 3 "
                f"(H, W, C); got {tuple(input_shape)}."
            )
        h_axis = len(shape) - (2 if self.data_format == "channels_first" else 3)
        shape[h_axis], shape[h_axis + 1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
