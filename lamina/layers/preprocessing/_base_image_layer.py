"""Shared machinery of the image preprocessing layers: the Keras 3 base-class
contract (`get_random_transformation` / `transform_images`), factor ranges,
and an affine image sampler with Keras's fill modes."""

import math

import torch

from lamina import backend
from lamina.layers.layer import Layer

# Keras's fill modes, with SciPy's `ndimage` meanings:
#   reflect  (d c b a | a b c d | d c b a)  mirror (d c b | a b c d | c b a)
#   wrap     (a b c d | a b c d | a b c d)  nearest (a a a | a b c d | d d d)
#   constant (k k k k | a b c d | k k k k)
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def standardize_data_format(data_format) -> str:
    if data_format is None:
        return backend.image_data_format()
    fmt = str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last' or 'channels_first'; got "
            f"data_format={data_format!r}."
        )
    return fmt


class BaseImagePreprocessingLayer(Layer):
    """Base of the image layers: turns `call(images)` into
    `transform_images(images, get_random_transformation(images))`.

    Images are `(batch, H, W, C)` (or `(H, W, C)`; `channels_first` swaps the
    channel axis). Random layers transform only when training: inside `fit`,
    when called with `training=True`, or when called directly while in torch's
    train mode, which is how these layers start (Keras applies them when called
    directly; `model.predict` / `evaluate` and `layer.eval()` turn them off).

    Args:
        factor: A number or a pair `(lower, upper)` within `_FACTOR_BOUNDS`,
            stored as `self.factor = (lower, upper)` (layers that use it).
        bounding_box_format: Accepted for Keras compatibility; lamina's image
            layers transform image tensors only.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()`.
    """

    _USE_BASE_FACTOR = True
    _FACTOR_BOUNDS = (-1, 1)

    def __init__(
        self, factor=None, bounding_box_format=None, data_format=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.bounding_box_format = bounding_box_format
        self.data_format = standardize_data_format(data_format)
        if self._USE_BASE_FACTOR:
            self._set_factor(factor or 0.0)
        elif factor is not None:
            raise ValueError(
                f"{type(self).__name__} does not take a `factor` argument; got "
                f"factor={factor!r}."
            )
        # Keras applies random augmentation when a layer is called directly;
        # torch's train flag gives the same default and lets `.eval()` stop it.
        self.training = True
        self.built = True

    def _set_factor(self, factor):
        low, high = self._FACTOR_BOUNDS
        message = (
            f"{type(self).__name__} expects `factor` to be a number or a pair of "
            f"numbers in [{low}, {high}]; got factor={factor!r}."
        )
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or factor[0] > high or factor[1] < low:
                raise ValueError(message)
            lower, upper = sorted(factor)
        elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
            if factor < low or factor > high:
                raise ValueError(message)
            factor = abs(factor)
            lower, upper = max(-factor, low), factor
        else:
            raise ValueError(message)
        self.factor = (lower, upper)

    # --- the Keras 3 contract ---------------------------------------------------

    def get_random_transformation(self, data, training=True, seed=None):
        """The random parameters for one batch (a dict), or None."""
        return None

    def transform_images(self, images, transformation, training=True):
        images = images.to(self._compute_torch_dtype)
        if training and transformation is not None:
            return self._transform_images(images, transformation)
        return images

    def _transform_images(self, images, transformation):
        raise NotImplementedError

    def call(self, data, training=True):
        if isinstance(data, dict):
            raise NotImplementedError(
                f"Layer '{self.name}' ({type(self).__name__}) got a dict; lamina's "
                "image layers take an image tensor (batch, H, W, C) or (H, W, C) "
                "only (no bounding boxes or segmentation masks yet)."
            )
        if not isinstance(data, torch.Tensor):
            data = backend.convert_to_tensor(data)
        if data.ndim not in (3, 4):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects images of rank "
                "4 (batch, height, width, channels) or 3 (one image); got shape "
                f"{tuple(data.shape)}."
            )
        unbatched = data.ndim == 3
        if unbatched:
            data = data.unsqueeze(0)
        transformation = self.get_random_transformation(data, training=training)
        outputs = self.transform_images(data, transformation, training=training)
        return outputs.squeeze(0) if unbatched else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        if self.bounding_box_format is not None:
            config["bounding_box_format"] = self.bounding_box_format
        return config

    # --- helpers for subclasses -------------------------------------------------

    def _height_width(self, shape):
        if self.data_format == "channels_first":
            return shape[-2], shape[-1]
        return shape[-3], shape[-2]

    @staticmethod
    def _check_choice(layer_name, arg, value, choices):
        if value not in choices:
            raise NotImplementedError(
                f"{layer_name} got {arg}={value!r}; supported: {choices}."
            )


def compute_affine_matrix(
    center_x,
    center_y,
    angle,
    translate_x,
    translate_y,
    scale,
    shear_x,
    shear_y,
    height,
    width,
):
    """Keras's `(B, 8)` projective transforms `[a0, a1, a2, b0, b1, b2, 0, 0]`
    for rotations (degrees) about `(center_x, center_y)` (fractions of the
    image), scalings, shears (degrees) and translations (pixels).

    An output pixel `(x, y)` reads the input at `(a0 x + a1 y + a2,
    b0 x + b1 y + b2)`.
    """
    to_radians = torch.tensor(math.pi / 180.0, dtype=angle.dtype, device=angle.device)
    angle = angle * to_radians
    shear_x = torch.tan(shear_x * to_radians)
    shear_y = torch.tan(shear_y * to_radians)
    cx = center_x * (float(width) - 1)
    cy = center_y * (float(height) - 1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    a0 = scale * (cos + shear_x * sin)
    a1 = scale * (-sin + shear_x * cos)
    a2 = translate_x + cx - cx * a0 - cy * a1
    b0 = scale * (shear_y * cos + sin)
    b1 = scale * (shear_y * -sin + cos)
    b2 = translate_y + cy - cx * b0 - cy * b1
    zeros = torch.zeros_like(a0)
    return torch.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], dim=1)


# fill mode -> (grid_sample padding mode, align_corners). Reflecting about the
# pixel edges (-0.5, size - 0.5) is Keras's "reflect"; about the pixel centers
# (0, size - 1) its "mirror". Reflecting the coordinate before interpolating
# equals reflecting each neighbor's index (the reflection maps the pixel grid
# onto itself), so bilinear results are Keras's; "wrap" pads one wrapped
# row/column and wraps the coordinates.
_GRID_MODES = {
    "constant": ("zeros", False),
    "nearest": ("border", False),
    "reflect": ("reflection", False),
    "mirror": ("reflection", True),
    "wrap": ("border", True),
}


def affine_transform(
    images,
    transform,
    interpolation="bilinear",
    fill_mode="constant",
    fill_value=0.0,
    data_format="channels_last",
):
    """Resample `images (B, H, W, C)` through per-image affine `transform (B, 8)`.

    Output pixel `(y, x)` takes the input at `(b0 x + b1 y + b2, a0 x + a1 y +
    a2)`, interpolated (`"nearest"` or `"bilinear"`), with points outside the
    image handled by `fill_mode` (see `FILL_MODES`, plus `"mirror"`), as
    Keras's `ops.image.affine_transform` does (the perspective terms are
    ignored). One `F.grid_sample` call does the sampling; `"nearest"` can differ
    from Keras only for coordinates exactly halfway between pixels outside the
    image.
    """
    x = images if data_format == "channels_first" else images.permute(0, 3, 1, 2)
    dtype = x.dtype
    if dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32)
    batch, channels, height, width = x.shape
    t = transform.to(device=x.device, dtype=torch.float32)
    if t.ndim == 1:
        t = t.unsqueeze(0)
    padding, align_corners = _GRID_MODES[fill_mode]
    fill = float(fill_value)
    if fill_mode == "wrap":
        # Wrapped coordinates are not an affine map: build them explicitly,
        # then read a copy padded with one wrapped row and column.
        ys = torch.arange(height, dtype=t.dtype, device=t.device).reshape(1, height, 1)
        xs = torch.arange(width, dtype=t.dtype, device=t.device).reshape(1, 1, width)
        a0, a1, a2, b0, b1, b2 = (t[:, i].reshape(-1, 1, 1) for i in range(6))
        coord_y = torch.remainder(ys * b1 + xs * b0 + b2, height)
        coord_x = torch.remainder(ys * a1 + xs * a0 + a2, width)
        x = torch.nn.functional.pad(x, (0, 1, 0, 1), mode="circular")
        grid_y = coord_y * (2.0 / height) - 1.0
        grid_x = coord_x * (2.0 / width) - 1.0
        grid = torch.stack([grid_x, grid_y], dim=-1).to(x.dtype)
    else:
        if fill_mode == "constant" and fill != 0.0:
            # A ones channel measures the in-image weight of each output pixel.
            ones = torch.ones((batch, 1, height, width), dtype=x.dtype, device=x.device)
            x = torch.cat([x, ones], dim=1)
        # One batched matmul (affine_grid) instead of per-pixel arithmetic.
        theta = _grid_theta(t, height, width, align_corners).to(x.dtype)
        grid = torch.nn.functional.affine_grid(
            theta, (batch, x.shape[1], height, width), align_corners=False
        )
    out = torch.nn.functional.grid_sample(
        x, grid, mode=interpolation, padding_mode=padding, align_corners=align_corners
    )
    if fill_mode == "constant" and fill != 0.0:
        out = out[:, :channels] + fill * (1.0 - out[:, channels:])
    out = out.to(dtype)
    return out if data_format == "channels_first" else out.permute(0, 2, 3, 1)


def _grid_theta(t, height, width, align_corners):
    """`(B, 2, 3)` matrices taking affine_grid's output coordinates in [-1, 1]
    (pixel centers, align_corners=False) to grid_sample's input coordinates."""
    # float64 where the device has it (MPS does not): exact-ish grids.
    t = t.to(torch.float32 if t.device.type == "mps" else torch.float64)
    a0, a1, a2, b0, b1, b2 = (t[:, i] for i in range(6))
    # Output pixel x = (W / 2) u + (W - 1) / 2, y = (H / 2) v + (H - 1) / 2.
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    if align_corners:
        sx, ox = 2.0 / max(width - 1, 1), -1.0
        sy, oy = 2.0 / max(height - 1, 1), -1.0
    else:
        sx, ox = 2.0 / width, 1.0 / width - 1.0
        sy, oy = 2.0 / height, 1.0 / height - 1.0
    row_x = torch.stack(
        [sx * a0 * width / 2, sx * a1 * height / 2, sx * (a0 * cx + a1 * cy + a2) + ox],
        -1,
    )
    row_y = torch.stack(
        [sy * b0 * width / 2, sy * b1 * height / 2, sy * (b0 * cx + b1 * cy + b2) + oy],
        -1,
    )
    return torch.stack([row_x, row_y], dim=1)
