"""draw_bounding_boxes: boxes (and class names) drawn into a batch of images,
with NumPy (and Pillow for text) rather than OpenCV."""

import numpy as np

from lamina.backend.tensors import convert_to_numpy
from lamina.utils.bounding_boxes import convert_format
from lamina.visualization import _common

_WHO = "draw_bounding_boxes()"


def draw_bounding_boxes(
    images,
    bounding_boxes,
    bounding_box_format,
    class_mapping=None,
    color=(128, 128, 128),
    line_thickness=2,
    text_thickness=1,
    font_scale=1.0,
    data_format=None,
):
    """Draws bounding boxes, and optionally class names, on a batch of images.

    Boxes are drawn pixel for pixel as Keras draws them with OpenCV's
    `cv2.rectangle` (corners rounded for thick lines), without needing
    OpenCV. Class names are written with Pillow's default font, so their
    glyphs differ from Keras's.

    Float images with values at most 1 are scaled by 255; other floats are
    clipped to `[0, 255]`; the result is `uint8`.

    Args:
        images: A batch of images `(batch, height, width, channels)`.
        bounding_boxes: A dict with `"boxes"` `(batch, num_boxes, 4)` in
            `bounding_box_format`, `"labels"` `(batch, num_boxes)` (boxes
            labelled `-1` are skipped) and optionally `"confidences"`
            `(batch, num_boxes)`, written after the class name.
        bounding_box_format: Format of the boxes, see
            `lamina.utils.bounding_boxes.convert_format`.
        class_mapping: Dict from class id to name; boxes whose class is in it
            get their name written above them (needs Pillow). Defaults to
            `None`, no text.
        color: RGB color of boxes and text. Defaults to `(128, 128, 128)`.
        line_thickness: Line width in pixels; a negative value fills the
            boxes. Defaults to `2`.
        text_thickness: Stroke width of the text. Defaults to `1`.
        font_scale: Size of the text relative to the default. Defaults to
            `1.0`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()`.

    Returns:
        A `uint8` NumPy array of the images with the boxes drawn, in the
        layout of `images`.

    Raises:
        ValueError: If `images` is not a batch of rank 4 or `bounding_boxes`
            lacks `"boxes"` or `"labels"`.
        TypeError: If `bounding_boxes` is not a dict.
        ImportError: If `class_mapping` names a drawn class and Pillow is
            not installed.

    Example:
    >>> images = np.zeros((1, 6, 6, 3), "uint8")
    >>> boxes = {"boxes": np.array([[[1, 1, 4, 4]]]), "labels": np.array([[0]])}
    >>> out = lamina.visualization.draw_bounding_boxes(
    ...     images, boxes, "xyxy", color=(255, 0, 0), line_thickness=1
    ... )
    >>> out[0, 1, :, 0].tolist()
    [0, 255, 255, 255, 255, 0]
    """
    class_mapping = class_mapping or {}
    text_thickness = text_thickness or line_thickness
    fmt = _common.data_format(data_format, _WHO)
    images = _common.batch_of_images(images, _WHO)
    if not isinstance(bounding_boxes, dict):
        raise TypeError(
            f"{_WHO} expects `bounding_boxes` to be a dict with 'boxes' and "
            f"'labels'; got a {type(bounding_boxes).__name__}."
        )
    if "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError(
            f"{_WHO} expects `bounding_boxes` to have 'boxes' and 'labels' "
            f"entries; got keys {sorted(bounding_boxes)}."
        )
    images = _common.to_channels_last(images, fmt)
    height, width = images.shape[1], images.shape[2]
    boxes = convert_format(
        bounding_boxes["boxes"], bounding_box_format, "xyxy", height, width
    )
    boxes = convert_to_numpy(boxes).astype("int32")
    labels = convert_to_numpy(bounding_boxes["labels"]).astype("int32")
    confidences = bounding_boxes.get("confidences")
    if confidences is not None:
        confidences = convert_to_numpy(confidences)

    # Keras: floats in [0, 1] are scaled, others clipped; then uint8.
    if images.dtype.kind == "f" and images.size > 0:
        if images.max() <= 1.0:
            images = np.clip(images, 0, 1) * 255
        else:
            images = np.clip(images, 0, 255)
    images = images.astype("uint8")
    paint = _paint_color(color, images.shape[-1])

    for i in range(images.shape[0]):
        for j in range(boxes.shape[1]):
            label = int(labels[i, j])
            if label == -1:
                continue
            x1, y1, x2, y2 = (int(v) for v in boxes[i, j])
            _draw_rectangle(images[i], x1, y1, x2, y2, paint, line_thickness)
            if label in class_mapping:
                text = str(class_mapping[label])
                if confidences is not None:
                    text = f"{text} | {confidences[i][j]:.2f}"
                origin = _text_origin(x1, y1, font_scale, text_thickness)
                _draw_text(images[i], text, origin, paint, font_scale, text_thickness)
    return _common.to_format(images, fmt)


def _paint_color(color, channels: int) -> np.ndarray:
    """`color` saturated to uint8 and fitted to `channels` (missing ones 0),
    as OpenCV fits a color to an image."""
    values = np.zeros(channels, "float64")
    given = np.asarray(color, "float64").reshape(-1)[:channels]
    values[: given.size] = given
    return np.clip(np.round(values), 0, 255).astype("uint8")


def _corner_offsets(radius: int):
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    keep = dx * dx + dy * dy <= radius * radius
    return dy[keep], dx[keep]


def _draw_rectangle(image, x1, y1, x2, y2, paint, thickness):
    """Draws into `image (H, W, C)` in place, pixel for pixel as
    `cv2.rectangle(image, (x1, y1), (x2, y2), color, thickness)` does: lines
    of width `2 * ((t + 1) // 2) + 1` centred on the edges, disks of that
    radius at the corners, one-pixel lines for `t <= 1`, filled for `t < 0`
    (checked against OpenCV for thicknesses -1 to 80)."""
    h_img, w_img = image.shape[:2]

    def fill(top, bottom, left, right):
        top, left = max(top, 0), max(left, 0)
        bottom, right = min(bottom, h_img - 1), min(right, w_img - 1)
        if top <= bottom and left <= right:
            image[top : bottom + 1, left : right + 1] = paint

    low_x, high_x = min(x1, x2), max(x1, x2)
    low_y, high_y = min(y1, y2), max(y1, y2)
    if thickness < 0:
        fill(low_y, high_y, low_x, high_x)
        return
    half = 0 if thickness <= 1 else (thickness + 1) // 2
    for y in (y1, y2):
        fill(y - half, y + half, low_x, high_x)
    for x in (x1, x2):
        fill(low_y, high_y, x - half, x + half)
    if half > 1:
        dy, dx = _corner_offsets(half)
        for cx, cy in ((x1, y1), (x2, y1), (x2, y2), (x1, y2)):
            ys, xs = cy + dy, cx + dx
            inside = (ys >= 0) & (ys < h_img) & (xs >= 0) & (xs < w_img)
            image[ys[inside], xs[inside]] = paint


def _text_origin(x, y, font_scale, thickness):
    """Where the text's baseline starts: above the box when there is room,
    else inside it (Keras's placement)."""
    font_height = int(font_scale * 12)
    if y - 8 - 2 * font_height > 0:
        return x, y - 8
    return x + 3, y + 2 * font_height + thickness + 3


def _draw_text(image, text, origin, paint, font_scale, thickness):
    Image, ImageDraw, ImageFont = _common.pil(_WHO)
    # Size 30 gives capitals about as tall as OpenCV's HERSHEY_SIMPLEX at 1.0.
    font = ImageFont.load_default(size=max(1, round(30 * font_scale)))
    mask = Image.new("L", (image.shape[1], image.shape[0]), 0)
    ImageDraw.Draw(mask).text(
        origin,
        text,
        fill=255,
        font=font,
        anchor="ls",
        stroke_width=max(0, (int(thickness) - 1) // 2),
        stroke_fill=255,
    )
    image[np.asarray(mask) > 127] = paint
