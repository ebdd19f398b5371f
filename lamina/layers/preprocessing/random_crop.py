"""RandomCrop: cut a random `height x width` window out of images."""

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer
from lamina.layers.preprocessing.resizing import resize_images
from lamina.random.random import _uniform
from lamina.random.seed_generator import make_default_seed
from lamina.utils.bounding_boxes import crop


class RandomCrop(BaseImagePreprocessingLayer):
    """Crops each batch to a random `(height, width)` window while training.

    One window position is drawn per batch (as in Keras). When the image is
    not larger than the target on both sides, and at inference, the largest
    central window with the target's aspect ratio is taken and resized
    (bilinear) to `(height, width)`.

    Args:
        height, width: The output size in pixels, positive ints.
        seed: Int seed for reproducible windows. Defaults to a random int,
            stored so that `get_config` reproduces the layer.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output `(batch, height, width, C)`
    in the layer's compute dtype.

    Example:
    >>> layer = lamina.layers.RandomCrop(2, 3, seed=1)
    >>> tuple(layer(np.zeros((4, 5, 6, 3), "float32"), training=True).shape)
    (4, 2, 3, 3)
    """

    supports_jit = False  # as in Keras

    # Keras: masks go through `transform_images`, into the compute dtype.
    _COMPUTE_DTYPE_PARTS = ("segmentation_masks",)
    _USE_BASE_FACTOR = False
    _SAME_FOR_EVERY_IMAGE = True  # one window per batch

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(data_format=data_format, name=name, **kwargs)
        for arg, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"RandomCrop expects `{arg}` to be a positive int; got "
                    f"{arg}={value!r}."
                )
        self.height = height
        self.width = width
        self.seed = seed if seed is not None else make_default_seed()
        self.generator = random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        seed = self.generator if seed is None else seed
        height, width = self._height_width(data.shape)
        if data.device.type == "meta":  # shape inference: no draw
            return {"start": (0, 0), "resize": False, "image_size": (height, width)}
        if training and height > self.height and width > self.width:
            h_start = _uniform((), 0, float(height - self.height + 1), None, seed, _CPU)
            w_start = _uniform((), 0, float(width - self.width + 1), None, seed, _CPU)
            return {
                "start": (int(h_start), int(w_start)),
                "resize": False,
                "image_size": (height, width),
            }
        # The largest central window with the target aspect ratio.
        crop_height = max(min(height, int(width * self.height / self.width)), 1)
        crop_width = max(min(width, int(height * self.width / self.height)), 1)
        return {
            "start": ((height - crop_height) // 2, (width - crop_width) // 2),
            "size": (crop_height, crop_width),
            "resize": True,
            "image_size": (height, width),
        }

    def transform_images(self, images, transformation, training=True):
        images = images.to(self._compute_torch_dtype)
        top, left = transformation["start"]
        size = transformation.get("size", (self.height, self.width))
        rows, cols = slice(top, top + size[0]), slice(left, left + size[1])
        if self.data_format == "channels_first":
            images = images[:, :, rows, cols]
        else:
            images = images[:, rows, cols, :]
        if tuple(self._height_width(images.shape)) != (self.height, self.width):
            images = resize_images(
                images, (self.height, self.width), data_format=self.data_format
            ).to(self._compute_torch_dtype)
        return images

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Shifts the boxes into the window, clipped to it, and scales them
        when the window is resized.

        Keras 3.15's RandomCrop mixes up x and y here (it subtracts the row
        offset from x) and leaves boxes in place at inference while cropping
        the images; lamina moves the boxes with the images.
        """
        height, width = transformation["image_size"]
        top, left = transformation["start"]
        crop_height, crop_width = transformation.get("size", (self.height, self.width))
        bounding_boxes = self._boxes_to(bounding_boxes, "xyxy", height, width)
        boxes = crop(bounding_boxes["boxes"], top, left, crop_height, crop_width)
        if (crop_height, crop_width) != (self.height, self.width):
            scale = torch.tensor(
                [
                    self.width / crop_width,
                    self.height / crop_height,
                    self.width / crop_width,
                    self.height / crop_height,
                ],
                dtype=boxes.dtype,
                device=boxes.device,
            )
            boxes = boxes * scale
        bounding_boxes["boxes"] = boxes
        return self._clip_boxes_from_xyxy(bounding_boxes, self.height, self.width)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        # The images' window, in the compute dtype as Keras returns masks;
        # a resized window uses nearest interpolation, keeping class ids.
        top, left = transformation["start"]
        size = transformation.get("size", (self.height, self.width))
        rows, cols = slice(top, top + size[0]), slice(left, left + size[1])
        if self.data_format == "channels_first":
            masks = segmentation_masks[:, :, rows, cols]
        else:
            masks = segmentation_masks[:, rows, cols, :]
        if tuple(size) != (self.height, self.width):
            masks = resize_images(
                masks,
                (self.height, self.width),
                interpolation="nearest",
                data_format=self.data_format,
            )
        return masks.to(self._compute_torch_dtype)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            return self._dict_output_shape(input_shape)
        shape = list(input_shape)
        h_axis = len(shape) - (2 if self.data_format == "channels_first" else 3)
        shape[h_axis], shape[h_axis + 1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "seed": self.seed,
        }


_CPU = torch.device("cpu")
