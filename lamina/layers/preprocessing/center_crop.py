"""CenterCrop: cut the central `height x width` region out of images."""

from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer
from lamina.layers.preprocessing.resizing import resize_images


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

    _USE_BASE_FACTOR = False

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

    def compute_output_shape(self, input_shape):
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
