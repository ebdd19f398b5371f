"""MaxNumBoundingBoxes: a fixed number of boxes per image, padded or cut."""

import torch

from lamina import backend
from lamina.layers.preprocessing._base_image_layer import BaseImagePreprocessingLayer


class MaxNumBoundingBoxes(BaseImagePreprocessingLayer):
    """Pads or truncates the bounding boxes of each image to `max_number`.

    The layer takes Keras's dict of detection data, `{"images": ...,
    "bounding_boxes": {"boxes": ..., "labels": ...}}` (optionally with
    `"labels"` and `"segmentation_masks"` entries, passed through), and
    returns it with `"boxes"` of shape `(batch, max_number, 4)` and `"labels"`
    `(batch, max_number)` (no batch axis for a single image): the first
    `max_number` boxes are kept and missing ones are filled with
    `fill_value`. Images come back in the layer's compute dtype, so that
    ragged box counts can be batched together.

    Args:
        max_number: Number of boxes per image in the output, a positive int.
        fill_value: Value of the padding boxes' coordinates and labels.
            Defaults to `-1`.
        **kwargs: Base layer arguments (`name`, `dtype`, `data_format`,
            `bounding_box_format`, ...). As in Keras, a dict input with
            `"bounding_boxes"` needs `bounding_box_format` set, although the
            boxes are not converted.

    Example:
    >>> layer = lamina.layers.MaxNumBoundingBoxes(3, bounding_box_format="xyxy")
    >>> data = {
    ...     "images": np.zeros((1, 8, 8, 3)),
    ...     "bounding_boxes": {"boxes": np.ones((1, 1, 4)), "labels": np.ones((1, 1))},
    ... }
    >>> layer(data)["bounding_boxes"]["labels"].tolist()
    [[1.0, -1.0, -1.0]]
    """

    def __init__(self, max_number: int, fill_value: int = -1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(max_number, bool) or int(max_number) != max_number:
            raise ValueError(
                "MaxNumBoundingBoxes expects `max_number` to be a positive int "
                f"(boxes per image); got max_number={max_number!r}."
            )
        if int(max_number) < 1:
            raise ValueError(
                "MaxNumBoundingBoxes expects `max_number` to be a positive int "
                f"(boxes per image); got max_number={max_number!r}."
            )
        self.max_number = int(max_number)
        self.fill_value = int(fill_value)

    # Keras: images, labels and masks pass through (images in the compute
    # dtype, masks as images); these take `transformation=None`.
    def transform_images(self, images, transformation=None, training=True):
        return super().transform_images(images, transformation, training)

    def transform_labels(self, labels, transformation=None, training=True):
        return labels

    def transform_segmentation_masks(
        self, segmentation_masks, transformation=None, training=True
    ):
        return self.transform_images(segmentation_masks, transformation, training)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Pads or cuts a batch of boxes `(batch, N, 4)` and labels `(batch, N)`
        to `max_number` along the box axis."""
        boxes = bounding_boxes["boxes"]
        labels = bounding_boxes["labels"]
        result = bounding_boxes.copy()
        result["boxes"] = self._fit(boxes)
        result["labels"] = self._fit(labels)
        return result

    def _fit(self, values):
        values = values[:, : self.max_number]
        missing = self.max_number - values.shape[1]
        if missing > 0:
            pad_shape = (values.shape[0], missing, *values.shape[2:])
            padding = torch.full(
                pad_shape, self.fill_value, dtype=values.dtype, device=values.device
            )
            values = torch.cat([values, padding], dim=1)
        return values

    def call(self, data, training=True):
        if not isinstance(data, dict):
            return super().call(data, training=training)
        # 1. Images: a batch (rank 4) or one image (rank 3).
        if "images" not in data:
            raise ValueError(
                f"Layer '{self.name}' (MaxNumBoundingBoxes) expects a dict with an "
                f"'images' entry; got keys {sorted(data)}."
            )
        images = _as_tensor(data["images"])
        if images.ndim not in (3, 4):
            raise ValueError(
                f"Layer '{self.name}' (MaxNumBoundingBoxes) expects images of rank "
                "4 (batch, height, width, channels) or 3 (one image); got shape "
                f"{tuple(images.shape)}."
            )
        outputs = dict(data)
        outputs["images"] = images.to(self._compute_torch_dtype)
        # 2. Boxes, batched for the transform and unbatched again after it.
        if "bounding_boxes" in data:
            boxes = self._boxes(data["bounding_boxes"])
            # One image's `(num_boxes, 4)` boxes, or boxes shared by a batch.
            single = boxes["boxes"].ndim == 2
            if single:
                boxes = {k: v.unsqueeze(0) for k, v in boxes.items()}
            boxes = self.transform_bounding_boxes(boxes, None, training=training)
            if single:
                boxes = {k: v.squeeze(0) for k, v in boxes.items()}
            outputs["bounding_boxes"] = {**data["bounding_boxes"], **boxes}
        # 3. Class labels pass through; masks are cast like images (as Keras).
        if "labels" in data:
            outputs["labels"] = _as_tensor(data["labels"])
        if "segmentation_masks" in data:
            masks = _as_tensor(data["segmentation_masks"])
            outputs["segmentation_masks"] = masks.to(self._compute_torch_dtype)
        return outputs

    def _boxes(self, bounding_boxes):
        if not self.bounding_box_format:
            raise ValueError(
                f"Layer '{self.name}' (MaxNumBoundingBoxes) got a 'bounding_boxes' "
                "entry but no `bounding_box_format`. Create the layer with one, "
                "e.g. MaxNumBoundingBoxes(10, bounding_box_format='xyxy')."
            )
        if (
            not isinstance(bounding_boxes, dict)
            or "boxes" not in bounding_boxes
            or "labels" not in bounding_boxes
        ):
            raise ValueError(
                f"Layer '{self.name}' (MaxNumBoundingBoxes) expects "
                "`bounding_boxes` to be a dict with 'boxes' and 'labels'; got "
                f"{bounding_boxes!r}."
            )
        boxes = _as_tensor(bounding_boxes["boxes"]).to(torch.float32)
        labels = _as_tensor(bounding_boxes["labels"])
        if boxes.ndim not in (2, 3) or boxes.shape[-1] != 4:
            raise ValueError(
                f"Layer '{self.name}' (MaxNumBoundingBoxes) expects boxes of shape "
                "(num_boxes, 4) or (batch, num_boxes, 4); got shape "
                f"{tuple(boxes.shape)}."
            )
        return {"boxes": boxes, "labels": labels}

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, dict):
            return tuple(input_shape)
        output_shape = dict(input_shape)
        if "bounding_boxes" in input_shape:
            shapes = input_shape["bounding_boxes"]
            extra = set(shapes) - {"boxes", "labels"}
            if extra:
                raise KeyError(
                    f"Layer '{self.name}' (MaxNumBoundingBoxes) supports only "
                    f"'boxes' and 'labels' in `bounding_boxes`; got {sorted(extra)}."
                )
            boxes, labels = list(shapes["boxes"]), list(shapes["labels"])
            # The box axis: 1 in a batch (batch, N, 4), 0 for one image (N, 4).
            axis = len(boxes) - 2
            boxes[axis] = labels[axis] = self.max_number
            output_shape["bounding_boxes"] = {
                "boxes": tuple(boxes),
                "labels": tuple(labels),
            }
        return output_shape

    def get_config(self):
        # Keras leaves `fill_value` out of its config (so a reloaded layer pads
        # with -1); lamina keeps it, and Keras accepts the extra argument.
        return {
            **super().get_config(),
            "max_number": self.max_number,
            "fill_value": self.fill_value,
        }


def _as_tensor(x):
    return x if isinstance(x, torch.Tensor) else backend.convert_to_tensor(x)
