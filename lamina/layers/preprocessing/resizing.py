"""Resizing: resize images to a fixed height and width."""

import torch
import torch.nn.functional as F

from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer

# Keras's torch backend maps "nearest" to torch's "nearest-exact" (half-pixel
# centers, as TensorFlow's resize does).
_TORCH_MODES = {
    "bilinear": "bilinear",
    "nearest": "nearest-exact",
    "bicubic": "bicubic",
}
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def resize_images(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_value=0.0,
    data_format="channels_last",
):
    """Resize `(B, H, W, C)` (or `(B, C, H, W)`) images to `size = (h, w)` with
    `F.interpolate`, as `keras.ops.image.resize` does on the torch backend.

    Float16/bfloat16 and integer images are resized in float32 and cast back
    (integers rounded first).
    """
    out_dtype = images.dtype
    if out_dtype not in (torch.float32, torch.float64):
        images = images.to(torch.float32)
    if data_format == "channels_last":
        images = images.permute(0, 3, 1, 2)  # a view; interpolate keeps NHWC memory
    height, width = images.shape[-2], images.shape[-1]
    target_h, target_w = size
    if crop_to_aspect_ratio:
        crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
        crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
        top = int(float(height - crop_h) / 2)
        left = int(float(width - crop_w) / 2)
        images = images[:, :, top : top + crop_h, left : left + crop_w]
    elif pad_to_aspect_ratio:
        pad_h = max(height, int(float(width * target_h) / target_w))
        pad_w = max(width, int(float(height * target_w) / target_h))
        top = int(float(pad_h - height) / 2)
        left = int(float(pad_w - width) / 2)
        # Keras pads the same amount on both sides.
        images = F.pad(images, (left, left, top, top), value=float(fill_value))
    if antialias and interpolation not in ("bilinear", "bicubic"):
        antialias = False
    resized = F.interpolate(
        images,
        size=(target_h, target_w),
        mode=_TORCH_MODES[interpolation],
        align_corners=False if interpolation in ("bilinear", "bicubic") else None,
        antialias=antialias,
    )
    if interpolation == "bicubic" and out_dtype == torch.uint8:
        resized = resized.clamp(0, 255)
    if data_format == "channels_last":
        resized = resized.permute(0, 2, 3, 1)
    if resized.dtype != out_dtype:
        if out_dtype in _INT_DTYPES:
            resized = torch.round(resized)
        resized = resized.to(out_dtype)
    return resized


class Resizing(BaseImagePreprocessingLayer):
    """Resizes images to `(height, width)`, at training and inference alike.

    Args:
        height, width: The output size in pixels.
        interpolation: `"bilinear"` (default), `"nearest"` or `"bicubic"`.
            Computed by `torch.nn.functional.interpolate`, so the numbers
            equal Keras's with the torch backend; Keras's TensorFlow/JAX
            backends differ for `"bicubic"` (they use a = -0.5 in the cubic
            kernel, torch a = -0.75) and, with `antialias=True`, slightly in the
            antialiasing filter. `"lanczos3"`/`"lanczos5"` are not supported,
            as on Keras's torch backend.
        crop_to_aspect_ratio: If `True`, first crop the largest centered region
            with the target aspect ratio (no distortion).
        pad_to_aspect_ratio: If `True`, first pad evenly with `fill_value` to
            the target aspect ratio (no distortion).
        fill_mode: Only `"constant"` (the padding is `fill_value`).
        fill_value: The padding value. Defaults to `0.0`.
        antialias: Whether to low-pass filter when downsampling. Defaults to
            `False`.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output `(batch, height, width, C)`
    with the input's dtype (integers are rounded).

    Example:
    >>> layer = lamina.layers.Resizing(2, 2)
    >>> layer(np.arange(16, dtype="float32").reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        for arg, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Resizing expects `{arg}` to be a positive int; got "
                    f"{arg}={value!r}."
                )
        if interpolation not in _TORCH_MODES:
            raise ValueError(
                "Resizing expects `interpolation` to be one of "
                f"{sorted(_TORCH_MODES)}; got interpolation={interpolation!r} "
                "(lanczos is not available on torch)."
            )
        if fill_mode != "constant":
            raise ValueError(
                f"Resizing supports only fill_mode='constant'; got fill_mode={fill_mode!r}."
            )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                "Resizing takes at most one of crop_to_aspect_ratio=True and "
                "pad_to_aspect_ratio=True."
            )
        self.height = height
        self.width = width
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)

    def get_random_transformation(self, data, training=True, seed=None):
        return self._height_width(data.shape)

    def transform_images(self, images, transformation=None, training=True):
        return resize_images(
            images,
            (self.height, self.width),
            interpolation=self.interpolation,
            antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        h_axis = len(shape) - (2 if self.data_format == "channels_first" else 3)
        shape[h_axis], shape[h_axis + 1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        }
