"""Resizing: resize images to a fixed height and width."""

import torch
import torch.nn.functional as F

from lamina import ops
from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer
from lamina.ops.image._aspect_ratio import fit_aspect_ratio
from lamina.utils.bounding_boxes import clip_to_image_size

# Keras's torch backend maps "nearest" to torch's "nearest-exact" (half-pixel
# centers, as TensorFlow's resize does).
_TORCH_MODES = {
    "bilinear": "bilinear",
    "nearest": "nearest-exact",
    "bicubic": "bicubic",
}
# Keras's JAX and TensorFlow backends also resize with these; lamina runs
# `ops.image.resize`'s weight-matrix code for them.
_WEIGHTED_MODES = ("lanczos3", "lanczos5", "area")
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
    target_h, target_w = size
    images = fit_aspect_ratio(
        images,
        size,
        crop_to_aspect_ratio,
        pad_to_aspect_ratio,
        fill_value,
        "channels_first",
    )
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
        interpolation: `"bilinear"` (default), `"nearest"`, `"bicubic"`,
            `"lanczos3"`, `"lanczos5"` or `"area"`. The first three are
            computed by `torch.nn.functional.interpolate`, so the numbers
            equal Keras's with the torch backend; Keras's TensorFlow/JAX
            backends differ for `"bicubic"` (they use a = -0.5 in the cubic
            kernel, torch a = -0.75) and, with `antialias=True`, slightly in the
            antialiasing filter. The Lanczos kernels (which Keras's torch
            backend rejects) follow its JAX backend and `"area"` its
            TensorFlow backend, as `ops.image.resize` does.
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
    _SAME_FOR_EVERY_IMAGE = True

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
        if interpolation not in (*_TORCH_MODES, *_WEIGHTED_MODES):
            raise ValueError(
                "Resizing expects `interpolation` to be one of "
                f"{(*_TORCH_MODES, *_WEIGHTED_MODES)}; got "
                f"interpolation={interpolation!r}."
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
        weighted = self.interpolation in _WEIGHTED_MODES
        resize = ops.image.resize if weighted else resize_images
        return resize(
            images,
            (self.height, self.width),
            interpolation=self.interpolation,
            antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def transform_labels(self, labels, transformation=None, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Scales (and crops or pads, as the images) the boxes to the output
        size, clipped to it. Padding boxes (all coordinates 0 or all -1)
        come back as zeros, as in Keras."""
        input_height, input_width = transformation
        boxes = bounding_boxes["boxes"]
        padding = (boxes == -1).all(dim=-1) | (boxes == 0).all(dim=-1)
        bounding_boxes = self._boxes_to(
            bounding_boxes, "xyxy", input_height, input_width
        )
        boxes = bounding_boxes["boxes"]
        scale_x, scale_y, offset_x, offset_y = self._box_scales(
            input_height, input_width, boxes
        )
        x1, y1, x2, y2 = boxes.unbind(-1)
        bounding_boxes["boxes"] = torch.stack(
            [
                x1 * scale_x + offset_x,
                y1 * scale_y + offset_y,
                x2 * scale_x + offset_x,
                y2 * scale_y + offset_y,
            ],
            dim=-1,
        )
        bounding_boxes = clip_to_image_size(bounding_boxes, self.height, self.width)
        bounding_boxes["boxes"] = torch.where(
            padding.unsqueeze(-1), 0.0, bounding_boxes["boxes"]
        )
        return self._boxes_from(bounding_boxes, "xyxy", self.height, self.width)

    def _box_scales(self, input_height, input_width, boxes):
        """`(scale_x, scale_y, offset_x, offset_y)` taking input pixels to
        output pixels, computed as Keras does (float32, floor division)."""

        def scalar(value):
            return torch.as_tensor(value, dtype=boxes.dtype, device=boxes.device)

        height, width = scalar(float(input_height)), scalar(float(input_width))
        if self.pad_to_aspect_ratio:
            scale = torch.minimum(
                scalar(self.height / height), scalar(self.width / width)
            )
            offset_x = (self.width - width * scale) // 2
            offset_y = (self.height - height * scale) // 2
            return scale, scale, offset_x, offset_y
        if self.crop_to_aspect_ratio:
            source_ratio = width / height
            wider = bool(source_ratio > self.width / self.height)
            new_width = scalar(self.height * source_ratio if wider else self.width)
            new_height = scalar(self.height if wider else self.width / source_ratio)
            offset_x = -((new_width - self.width) // 2)
            offset_y = -((new_height - self.height) // 2)
            return new_width / width, new_height / height, offset_x, offset_y
        return scalar(self.width / width), scalar(self.height / height), 0.0, 0.0

    def transform_segmentation_masks(
        self, segmentation_masks, transformation=None, training=True
    ):
        # Keras: the image resize with nearest interpolation, in the masks'
        # own dtype.
        return resize_images(
            segmentation_masks,
            (self.height, self.width),
            interpolation="nearest",
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

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
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        }
