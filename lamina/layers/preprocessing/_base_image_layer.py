"""Shared machinery of the image preprocessing layers: the Keras 3 base-class
contract (`get_random_transformation` / `transform_images`), factor ranges,
and an affine image sampler with Keras's fill modes."""

import functools
import math
import types

import numpy as np
import torch

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer
from lamina.layers.preprocessing._data_layer import DataLayerBackend
from lamina.utils.bounding_boxes import clip_to_image_size, convert_format

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


class BaseImagePreprocessingLayer(DataLayerBackend, Layer):
    """Base of the image layers: turns `call(images)` into
    `transform_images(images, get_random_transformation(images))`.

    Images are `(batch, H, W, C)` (or `(H, W, C)`; `channels_first` swaps the
    channel axis). Random layers transform only when training: inside `fit`,
    when called with `training=True`, or when called directly while in torch's
    train mode, which is how these layers start (Keras applies them when called
    directly; `model.predict` / `evaluate` and `layer.eval()` turn them off).

    Like Keras's layers, these also take a dict `{"images": ..., "labels":
    ..., "bounding_boxes": {"boxes": ..., "labels": ...},
    "segmentation_masks": ...}` (only `"images"` is required) and return a
    dict with the same keys: one random draw
    (`get_random_transformation`) moves every part alike, through
    `transform_images`, `transform_labels`, `transform_bounding_boxes` and
    `transform_segmentation_masks`. Layers that only change colours pass
    labels, boxes and masks through; geometric layers move the boxes
    (in `bounding_box_format`, clipped to the output image, with the label of
    a box left with no area set to -1) and resample the masks with nearest
    interpolation. A batch of images may come with one `(num_boxes, 4)` set
    of boxes (and `(num_boxes,)` labels) shared by every image, as Keras
    accepts: the boxes come back `(num_boxes, 4)` where every image moves
    alike (at inference, colour layers, `Resizing`, `CenterCrop`,
    `RandomCrop`), else `(batch, num_boxes, 4)`, one set per image.
    `transform_images` also takes one `(H, W, C)` image and returns one.

    Args:
        factor: A number or a pair `(lower, upper)` within `_FACTOR_BOUNDS`,
            stored as `self.factor = (lower, upper)` (layers that use it).
        bounding_box_format: Format of the boxes of dict inputs (`"xyxy"`,
            `"rel_xyxy"`, `"center_xywh"`, ...; see
            `lamina.utils.bounding_boxes.convert_format`). Required when the
            input has `"bounding_boxes"`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()`.
    """

    # `layer(inputs=images)` works, as on Keras's data layers (call() names it
    # `data`).
    _call_input_keyword = "inputs"

    _USE_BASE_FACTOR = True
    _FACTOR_BOUNDS = (-1, 1)
    # part of a dict input -> KEPT or KERAS_UNSUPPORTED (see `_part_status`).
    _DICT_PARTS = types.MappingProxyType({})
    # Parts of a dict input whose outputs come in the compute dtype (masks
    # resampled through `transform_images`, blended labels); the others keep
    # the dtype they came with.
    _COMPUTE_DTYPE_PARTS = ()
    # Deterministic geometric layers (Resizing, CenterCrop) move every image's
    # boxes alike, so boxes shared by a batch stay `(num_boxes, 4)`.
    _SAME_FOR_EVERY_IMAGE = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Keras's transform methods take NumPy arrays as well as tensors.
        for name in _TRANSFORM_METHODS:
            method = cls.__dict__.get(name)
            if method is not None and not hasattr(method, "_takes_arrays"):
                setattr(cls, name, _taking_arrays(method))

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
            f"The `factor` argument should be a number (or a pair of numbers) in "
            f"[{low}, {high}]; {type(self).__name__} got factor={factor!r}."
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

    def transform_labels(self, labels, transformation, training=True):
        """The `"labels"` of a dict input after the layer: unchanged by the
        layers that keep each image's class. Subclasses that mix images
        override it; otherwise it raises `NotImplementedError`, as Keras's
        base class does."""
        if _part_status(self, "labels") == KEPT:
            return labels
        raise NotImplementedError(_unsupported_message(self, "labels"))

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """The `"bounding_boxes"` dict (`"boxes"` `(batch, N, 4)` in
        `bounding_box_format`, float32; `"labels"` `(batch, N)`) after the
        layer: unchanged by colour layers. Geometric subclasses override it;
        otherwise it raises `NotImplementedError`, as Keras's base class
        does."""
        if _part_status(self, "bounding_boxes") == KEPT:
            return bounding_boxes
        raise NotImplementedError(_unsupported_message(self, "bounding_boxes"))

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        """The `"segmentation_masks"` `(batch, H, W, 1)` after the layer:
        unchanged by colour layers; otherwise resampled like the images by
        `_transform_images` (subclasses that interpolate override this to
        use nearest interpolation, which keeps class ids)."""
        status = _part_status(self, "segmentation_masks")
        if status == KEPT:
            return segmentation_masks
        if status is not None:
            raise NotImplementedError(_unsupported_message(self, "segmentation_masks"))
        if training and transformation is not None:
            return self._transform_images(segmentation_masks, transformation)
        return segmentation_masks

    def call(self, data, training=True):
        if isinstance(data, dict):
            return self._call_on_dict(data, training)
        if not isinstance(data, torch.Tensor):
            data = backend.convert_to_tensor(data)
        if data.ndim not in (3, 4):
            raise ValueError(
                "Expected the input image to be rank 3 or 4. "
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

    def _call_on_dict(self, data, training):
        # 1. Images: a batch (rank 4) or one image (rank 3), batched here.
        if "images" not in data:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects a dict with "
                "an 'images' entry (and optionally 'labels', 'bounding_boxes', "
                f"'segmentation_masks'); got keys {sorted(data)}."
            )
        images = _as_tensor(data["images"])
        if images.ndim not in (3, 4):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects images of rank "
                "4 (batch, height, width, channels) or 3 (one image); got shape "
                f"{tuple(images.shape)}."
            )
        batched = images.ndim == 4
        if not batched:
            images = images.unsqueeze(0)
        # 2. One random draw moves every part alike.
        transformation = self.get_random_transformation(images, training=training)
        outputs = dict(data)
        images = self.transform_images(images, transformation, training=training)
        outputs["images"] = images if batched else images.squeeze(0)
        # 3. The other parts, each batched for its transform and unbatched after.
        if "bounding_boxes" in data:
            boxes = self._dense_bounding_boxes(
                data["bounding_boxes"], batched, batch_size=images.shape[0]
            )
            # Boxes given once for a whole batch (Keras takes `(num_boxes, 4)`
            # with a batch of images) are shared by every image: they stay
            # `(num_boxes, 4)` unless the images are moved differently.
            shared = batched and _is_shared(data["bounding_boxes"], boxes)
            boxes = self.transform_bounding_boxes(
                boxes, transformation, training=training
            )
            if not batched or (
                shared and not self._moves_each_image(transformation, training)
            ):
                boxes = {k: _squeeze_first(k, v) for k, v in boxes.items()}
            outputs["bounding_boxes"] = boxes
        if "labels" in data:
            labels = _as_tensor(data["labels"])
            labels = labels if batched else labels.unsqueeze(0)
            labels = self.transform_labels(labels, transformation, training=training)
            outputs["labels"] = labels if batched else labels.squeeze(0)
        if "segmentation_masks" in data:
            masks = _as_tensor(data["segmentation_masks"])
            masks = masks if batched else masks.unsqueeze(0)
            masks = self.transform_segmentation_masks(
                masks, transformation, training=training
            )
            outputs["segmentation_masks"] = masks if batched else masks.squeeze(0)
        return outputs

    def _moves_each_image(self, transformation, training) -> bool:
        """Whether `transformation` can move the boxes of each image in its own
        way (a random geometric draw while training), so that boxes shared by
        a batch become one set per image."""
        if not training or transformation is None:
            return False
        if _part_status(self, "bounding_boxes") == KEPT:
            return False
        return not self._SAME_FOR_EVERY_IMAGE

    def _dense_bounding_boxes(self, bounding_boxes, batched, batch_size=None):
        """`{"boxes": float32 (batch, N, 4), "labels": (batch, N)}` from the
        input's box dict (tensors, arrays or lists; a batch given as lists of
        unequal length is padded with boxes of 0 and labels of -1). With a
        batch of images, `(N, 4)` boxes (and `(N,)` labels) are the boxes of
        every image, repeated `batch_size` times."""
        if not self.bounding_box_format:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) got a "
                "'bounding_boxes' entry but no `bounding_box_format`. Create the "
                f"layer with one, e.g. {type(self).__name__}(..., "
                "bounding_box_format='xyxy')."
            )
        if (
            not isinstance(bounding_boxes, dict)
            or "boxes" not in bounding_boxes
            or "labels" not in bounding_boxes
        ):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects "
                "`bounding_boxes` to be a dict with 'boxes' and 'labels'; got "
                f"{bounding_boxes!r}."
            )
        boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
        if batched and _list_depth(boxes) >= 3:
            boxes, labels = _pad_ragged(boxes, labels)
        boxes = _as_tensor(boxes).to(torch.float32)
        labels = _as_tensor(labels)
        shared = batched and boxes.ndim == 2
        if boxes.ndim not in ((2, 3) if batched else (2,)) or boxes.shape[-1] != 4:
            expected = (
                "(batch, num_boxes, 4), or (num_boxes, 4) for boxes shared by "
                "every image, for a batch of images"
                if batched
                else "(num_boxes, 4) for one image"
            )
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects boxes of shape "
                f"{expected}; got shape {tuple(boxes.shape)}."
            )
        if shared or not batched:
            boxes, labels = boxes.unsqueeze(0), labels.unsqueeze(0)
        if shared and batch_size is not None:
            boxes = boxes.expand(batch_size, *boxes.shape[1:]).contiguous()
            labels = labels.expand(batch_size, *labels.shape[1:]).contiguous()
        return {**bounding_boxes, "boxes": boxes, "labels": labels}

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            return self._dict_output_shape(input_shape)
        return tuple(input_shape)

    def _dict_output_shape(self, input_shape):
        """Shapes of a dict input's outputs: the images' from
        `compute_output_shape`, the masks' with the images' new height and
        width, the other entries as they came."""
        shapes = dict(input_shape)
        images = tuple(self.compute_output_shape(tuple(input_shape["images"])))
        shapes["images"] = images
        if "segmentation_masks" in input_shape:
            masks = list(input_shape["segmentation_masks"])
            offset = 2 if self.data_format == "channels_first" else 3
            masks[len(masks) - offset : len(masks) - offset + 2] = self._height_width(
                images
            )
            shapes["segmentation_masks"] = tuple(masks)
        return shapes

    def compute_output_spec(self, *args, **kwargs):
        if not args and self._call_input_keyword in kwargs:
            # Keras: `compute_output_spec(inputs=...)`, as `layer(inputs=...)`.
            kwargs = dict(kwargs)
            args = (kwargs.pop(self._call_input_keyword),)
        if not args or not isinstance(args[0], dict):
            return super().compute_output_spec(*args, **kwargs)
        # Dict inputs: each part keeps its dtype, as an eager call keeps it
        # (Keras's symbolic call gives every part the compute dtype instead).
        data = args[0]
        shapes = self.compute_output_shape(_map_parts(lambda t: tuple(t.shape), data))
        dtypes = self._dict_output_dtypes(_map_parts(lambda t: t.dtype, data))
        return _map_parts(
            lambda pair: KerasTensor(pair[0], dtype=pair[1]),
            _zip_parts(shapes, dtypes),
        )

    def _dict_output_dtypes(self, input_dtypes):
        """The dtypes of an eager call's outputs for a dict of input dtypes:
        images and `_COMPUTE_DTYPE_PARTS` in the compute dtype, boxes
        float32, the rest as they came."""
        dtypes = dict(input_dtypes)
        for part in ("images", *self._COMPUTE_DTYPE_PARTS):
            if part in dtypes:
                dtypes[part] = self.compute_dtype
        if isinstance(dtypes.get("bounding_boxes"), dict):
            dtypes["bounding_boxes"] = {**dtypes["bounding_boxes"], "boxes": "float32"}
        return dtypes

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

    def _boxes_to(self, bounding_boxes, target, height, width):
        """A copy of `bounding_boxes` with its boxes converted from the layer's
        `bounding_box_format` to `target` (pixels of a `height x width`
        image)."""
        boxes = bounding_boxes["boxes"]
        boxes = convert_format(boxes, self.bounding_box_format, target, height, width)
        return {**bounding_boxes, "boxes": boxes}

    def _boxes_from(self, bounding_boxes, source, height, width):
        """A copy of `bounding_boxes` with its boxes converted from `source`
        back to the layer's `bounding_box_format`."""
        boxes = bounding_boxes["boxes"]
        boxes = convert_format(boxes, source, self.bounding_box_format, height, width)
        return {**bounding_boxes, "boxes": boxes}

    def _clip_boxes_from_xyxy(self, bounding_boxes, height, width):
        """`"xyxy"` boxes clipped to a `height x width` output image (boxes
        left with no area get label -1), in the layer's format."""
        bounding_boxes = clip_to_image_size(bounding_boxes, height, width, "xyxy")
        return self._boxes_from(bounding_boxes, "xyxy", height, width)

    @staticmethod
    def _check_choice(layer_name, arg, value, choices):
        if value not in choices:
            raise NotImplementedError(
                f"{layer_name} got {arg}={value!r}; supported: {choices}."
            )


# --- dict inputs --------------------------------------------------------------

# What a layer does with each part of a dict input, declared by each class as
# `_DICT_PARTS = {part: status}` (a subclass inherits its parent's): KEPT
# returns the part as it came (Keras's colour-only layers), KERAS_UNSUPPORTED
# raises NotImplementedError as Keras does. A part a class does not declare
# goes to its `transform_*` method, or else follows Keras's base class:
# labels and boxes raise, masks go through `_transform_images`.
KEPT = "kept"
KERAS_UNSUPPORTED = "keras"
COLOUR_ONLY = types.MappingProxyType(
    {"labels": KEPT, "bounding_boxes": KEPT, "segmentation_masks": KEPT}
)
_PART_NAMES = {
    "labels": "class labels",
    "bounding_boxes": "bounding boxes",
    "segmentation_masks": "segmentation masks",
}


def _part_status(layer, part):
    """What `layer`'s class declares for `part` in `_DICT_PARTS`, or None."""
    return type(layer)._DICT_PARTS.get(part)


def _unsupported_message(layer, part):
    status = _part_status(layer, part)
    what = _PART_NAMES[part]
    who = f"Layer '{layer.name}' ({type(layer).__name__})"
    if status == KERAS_UNSUPPORTED:
        return (
            f"{who} does not support {what} (Keras 3 does not either). Pass the "
            f"dict without the '{part}' entry."
        )
    return (
        f"{who} does not define `transform_{part}`, so it cannot transform the "
        f"{what} of a dict input. Override it in the subclass, or pass the dict "
        f"without the '{part}' entry."
    )


def _map_parts(fn, parts):
    """`fn` applied to each leaf of a (nested) dict input."""
    if isinstance(parts, dict):
        return {key: _map_parts(fn, value) for key, value in parts.items()}
    return fn(parts)


def _zip_parts(first, second):
    if isinstance(first, dict):
        return {key: _zip_parts(first[key], second[key]) for key in first}
    return (first, second)


def _as_tensor(x):
    return x if isinstance(x, torch.Tensor) else backend.convert_to_tensor(x)


_TRANSFORM_METHODS = (
    "get_random_transformation",
    "transform_images",
    "transform_labels",
    "transform_bounding_boxes",
    "transform_segmentation_masks",
)


def _arrays_as_tensors(x):
    if isinstance(x, np.ndarray):
        return backend.convert_to_tensor(x)
    if isinstance(x, dict):
        return {key: _arrays_as_tensors(value) for key, value in x.items()}
    return x


def _taking_arrays(method):
    """`method(self, data, ...)` that first turns NumPy arrays in its arguments
    (and in dicts among them, such as a transformation) into tensors, as
    Keras's ops do."""

    @functools.wraps(method)
    def wrapper(self, data, *args, **kwargs):
        args = [_arrays_as_tensors(arg) for arg in args]
        kwargs = {key: _arrays_as_tensors(arg) for key, arg in kwargs.items()}
        if method.__name__ == "get_random_transformation" and isinstance(data, dict):
            data = data.get("images", data)  # Keras takes the whole dict input
        data = _arrays_as_tensors(data)
        if method.__name__ in _IMAGE_METHODS and _is_one_image(data):
            # One `(H, W, C)` image (or mask): transformed as a batch of one,
            # returned unbatched, as Keras's image ops do.
            return method(self, data.unsqueeze(0), *args, **kwargs).squeeze(0)
        return method(self, data, *args, **kwargs)

    wrapper._takes_arrays = True
    return wrapper


for _name in _TRANSFORM_METHODS:
    setattr(
        BaseImagePreprocessingLayer,
        _name,
        _taking_arrays(getattr(BaseImagePreprocessingLayer, _name)),
    )


_IMAGE_METHODS = ("transform_images", "transform_segmentation_masks")


def _is_one_image(images) -> bool:
    return isinstance(images, torch.Tensor) and images.ndim == 3


def _squeeze_first(key, value):
    """The first image's boxes or labels (all images' are the same here)."""
    if key in ("boxes", "labels") and isinstance(value, torch.Tensor):
        return value[0]
    return value


def _list_depth(x) -> int:
    """The rank of the front of `x` through Python lists (or tuples) down to
    an array: 3 for a batch of per-image box lists (or `(N, 4)` arrays), 2 for
    one list of boxes, 0 for an array or tensor itself."""
    if not isinstance(x, (list, tuple)):
        return 0
    depth = 0
    while isinstance(x, (list, tuple)):
        depth += 1
        if not x:
            return depth
        x = x[0]
    return depth + getattr(x, "ndim", 0)


def _is_shared(bounding_boxes, dense) -> bool:
    """Whether a batch's input boxes were one `(num_boxes, 4)` set for all
    images (now repeated in `dense`)."""
    boxes = bounding_boxes["boxes"]
    if isinstance(boxes, (list, tuple)):
        return _list_depth(boxes) == 2
    return getattr(boxes, "ndim", None) == 2 and dense["boxes"].ndim == 3


def _pad_ragged(boxes, labels):
    """Per-image lists of boxes and labels of unequal lengths, padded to the
    longest with boxes of 0 and labels of -1 (Keras's densify defaults)."""
    boxes = [_as_tensor(b).to(torch.float32).reshape(-1, 4) for b in boxes]
    labels = [_as_tensor(lab).reshape(-1) for lab in labels]
    if not boxes:
        return boxes, labels
    longest = max(b.shape[0] for b in boxes)
    device = boxes[0].device
    padded_boxes = torch.zeros((len(boxes), longest, 4), device=device)
    padded_labels = torch.full(
        (len(labels), longest), -1, dtype=labels[0].dtype, device=device
    )
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        padded_boxes[i, : b.shape[0]] = b
        padded_labels[i, : lab.shape[0]] = lab
    return padded_boxes, padded_labels


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


# --- shared by the colour and value-range layers ---------------------------------


def check_value_range(owner: str, value_range) -> list:
    """`value_range` as Keras stores it: a sorted list of two numbers."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(
            "The `value_range` argument should be a list of two numbers (min, "
            f"max) for {owner}, "
            f"such as (0, 255); got value_range={value_range!r}."
        )
    return sorted(value_range)


def transform_value_range(images, original_range, target_range):
    """Linearly map pixel values from `original_range` onto `target_range`."""
    if tuple(original_range) == tuple(target_range):
        return images
    low, high = original_range
    target_low, target_high = target_range
    images = (images - low) / (high - low)
    return images * (target_high - target_low) + target_low


def image_axes(data_format: str) -> tuple:
    """`(height_axis, width_axis, channel_axis)` of a batch of images."""
    return (-2, -1, -3) if data_format == "channels_first" else (-3, -2, -1)


def check_probability_factor(owner: str, arg: str, factor) -> tuple:
    """A number `f` or pair in [0, 1] as `(lower, upper)`: `f` gives `(0, f)`."""
    message = (
        f"{owner} expects `{arg}` to be a number or a pair of numbers in [0, 1]; "
        f"got {arg}={factor!r}."
    )
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_real(f) and 0 <= f <= 1 for f in factor):
            raise ValueError(message)
        return tuple(sorted(factor))
    if not _is_real(factor) or not 0 <= factor <= 1:
        raise ValueError(message)
    return (0, factor)


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- shared by the perspective and elastic layers -----------------------------


def sample_pixels(
    images,
    coord_x,
    coord_y,
    interpolation="bilinear",
    fill_mode="constant",
    fill_value=0.0,
):
    """Read `images (B, C, H, W)` at pixel coordinates `coord_x`, `coord_y`
    (each `(B, H', W')`, pixel centers at integers), as Keras's
    `ops.image.map_coordinates` does per channel: `"nearest"` rounds,
    `"bilinear"` mixes four neighbours; neighbours outside the image follow
    `fill_mode` (`FILL_MODES` plus `"mirror"`). One `F.grid_sample` call.
    """
    dtype = images.dtype
    x = images if dtype in (torch.float32, torch.float64) else images.float()
    batch, channels, height, width = x.shape
    coord_x = coord_x.to(x.device, x.dtype)
    coord_y = coord_y.to(x.device, x.dtype)
    fill = float(fill_value)
    with_weight = fill_mode == "constant" and fill != 0.0
    if with_weight:
        # A ones channel measures the in-image weight of each output pixel.
        ones = torch.ones((batch, 1, height, width), dtype=x.dtype, device=x.device)
        x = torch.cat([x, ones], dim=1)
    if fill_mode == "wrap":
        # Wrap the coordinate, then read a copy with one wrapped row and column
        # appended, so the upper neighbour of the last pixel is the first.
        coord_x = torch.remainder(coord_x, width)
        coord_y = torch.remainder(coord_y, height)
        x = torch.nn.functional.pad(x, (0, 1, 0, 1), mode="circular")
        height, width = height + 1, width + 1
    padding, align_corners = _GRID_MODES[fill_mode]
    grid_x = _to_grid(coord_x, width, align_corners)
    grid_y = _to_grid(coord_y, height, align_corners)
    grid = torch.stack([grid_x, grid_y], dim=-1)
    out = torch.nn.functional.grid_sample(
        x, grid, mode=interpolation, padding_mode=padding, align_corners=align_corners
    )
    if with_weight:
        out = out[:, :channels] + fill * (1.0 - out[:, channels:])
    return out.to(dtype)


def _to_grid(coord, size, align_corners):
    """Pixel coordinates -> grid_sample's [-1, 1] coordinates."""
    if align_corners:
        return coord * (2.0 / max(size - 1, 1)) - 1.0
    return (2.0 * coord + 1.0) / size - 1.0


def compute_homography_matrix(start_points, end_points):
    """`(B, 8)` projective transforms taking each `end_points (B, 4, 2)`
    corner `(x, y)` to its `start_points` corner, as Keras's
    `ops.image.compute_homography_matrix` returns them: a point `(x, y)` maps
    to `((a0 x + a1 y + a2) / d, (a3 x + a4 y + a5) / d)`, `d = a6 x + a7 y + 1`.
    """
    dtype = start_points.dtype
    # float64 where the device has it (MPS does not): a well-conditioned solve.
    solve_dtype = torch.float32 if start_points.device.type == "mps" else torch.float64
    start = start_points.to(solve_dtype)
    end = end_points.to(solve_dtype)
    ex, ey = end[..., 0], end[..., 1]
    sx, sy = start[..., 0], start[..., 1]
    ones, zeros = torch.ones_like(ex), torch.zeros_like(ex)
    # Two equations per corner: a0 ex + a1 ey + a2 - a6 sx ex - a7 sx ey = sx.
    rows_x = torch.stack([ex, ey, ones, zeros, zeros, zeros, -sx * ex, -sx * ey], -1)
    rows_y = torch.stack([zeros, zeros, zeros, ex, ey, ones, -sy * ex, -sy * ey], -1)
    matrix = torch.stack([rows_x, rows_y], dim=2).reshape(-1, 8, 8)
    target = torch.stack([sx, sy], dim=2).reshape(-1, 8, 1)
    return torch.linalg.solve(matrix, target).reshape(-1, 8).to(dtype)


def perspective_transform(
    images,
    start_points,
    end_points,
    interpolation="bilinear",
    fill_value=0.0,
    data_format="channels_last",
):
    """Warp `images (B, H, W, C)` so that the `start_points (B, 4, 2)` corners
    land on `end_points`, as Keras's `ops.image.perspective_transform` does:
    output pixel `(x, y)` reads the input at the homography of `(x, y)`,
    points outside the image read `fill_value`."""
    x = images if data_format == "channels_first" else images.permute(0, 3, 1, 2)
    batch, _, height, width = x.shape
    exact = torch.float32 if x.device.type == "mps" else torch.float64
    transform = compute_homography_matrix(
        start_points.to(x.device, exact), end_points.to(x.device, exact)
    )
    if transform.shape[0] == 1 and batch > 1:
        transform = transform.expand(batch, 8)
    ys = torch.arange(height, dtype=transform.dtype, device=x.device).reshape(1, -1, 1)
    xs = torch.arange(width, dtype=transform.dtype, device=x.device).reshape(1, 1, -1)
    a = [transform[:, i].reshape(-1, 1, 1) for i in range(8)]
    denominator = a[6] * xs + a[7] * ys + 1.0
    coord_x = (a[0] * xs + a[1] * ys + a[2]) / denominator
    coord_y = (a[3] * xs + a[4] * ys + a[5]) / denominator
    out = sample_pixels(x, coord_x, coord_y, interpolation, "constant", fill_value)
    return out if data_format == "channels_first" else out.permute(0, 2, 3, 1)


def gaussian_blur_single_channel(maps, sigma: float):
    """Blur `maps (B, H, W)` with a normalized Gaussian of std `sigma` and size
    `int(6 sigma) | 1`, zero-padded to the same size, as Keras's elastic
    transform blurs its displacement fields."""
    size = int(6 * sigma) | 1
    if sigma <= 0 or size == 1:
        return maps
    offsets = torch.arange(size, dtype=maps.dtype, device=maps.device) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    kernel = torch.outer(kernel, kernel).reshape(1, 1, size, size)
    blurred = torch.nn.functional.conv2d(maps.unsqueeze(1), kernel, padding=size // 2)
    return blurred.squeeze(1)
