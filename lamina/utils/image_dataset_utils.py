"""image_dataset_from_directory: a folder of images (one sub-folder per class)
as batches `fit` reads directly. Images are decoded with Pillow (`PIL`)."""

import numpy as np

from lamina.backend import config
from lamina.utils import dataset_utils

ALLOWED_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

_CHANNELS = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}
# Keras interpolation names -> Pillow resampling filter names.
_RESAMPLING = {
    "bilinear": "BILINEAR",
    "nearest": "NEAREST",
    "bicubic": "BICUBIC",
    "area": "BOX",
    "lanczos3": "LANCZOS",
    "lanczos5": "LANCZOS",
    "gaussian": "BILINEAR",
    "mitchellcubic": "BICUBIC",
}


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "image_dataset_from_directory decodes images with Pillow, which is "
            "not installed. Install it with `pip install pillow` (or `pip install "
            '"lamina[image]"`).'
        ) from None
    return Image


def load_image(path, color_mode, image_size, interpolation, crop, pad):
    """One image as a float32 `(height, width, channels)` array, 0-255."""
    image_module = _pil()
    mode, _ = _CHANNELS[color_mode]
    height, width = image_size
    with image_module.open(path) as image:
        image = image.convert(mode)
        w, h = image.size
        if crop or pad:
            target = width / height
            if crop:
                # Center crop to the target aspect ratio before resizing.
                new_w, new_h = min(w, round(h * target)), min(h, round(w / target))
                left, top = (w - new_w) // 2, (h - new_h) // 2
                image = image.crop((left, top, left + new_w, top + new_h))
            else:
                # Pad (zeros, centered) to the target aspect ratio.
                new_w, new_h = max(w, round(h * target)), max(h, round(w / target))
                canvas = image_module.new(mode, (new_w, new_h))
                canvas.paste(image, ((new_w - w) // 2, (new_h - h) // 2))
                image = canvas
        resample = getattr(image_module.Resampling, _RESAMPLING[interpolation])
        image = image.resize((width, height), resample=resample)
        array = np.asarray(image, dtype="float32")
    return array.reshape(height, width, -1)


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    format="tf",
    verbose=True,
):
    """Batches of images (and labels) from a folder, as Keras reads it.

    With `labels="inferred"`, `directory` holds one sub-folder per class
    (`main/cats/a.jpg`, `main/dogs/b.png`); classes are the sorted folder
    names unless `class_names` gives them. Files: .bmp .gif .jpeg .jpg .png.

    Args:
        directory: The folder.
        labels: `"inferred"`, `None` (no labels), or a list of int labels, one
            per file in the sorted order of their paths.
        label_mode: `"int"` (int32), `"categorical"` (float32 one-hot),
            `"binary"` (float32 `(batch, 1)`, 2 classes), or `None`.
        class_names: Order (and subset) of the class folders.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"` (1, 3 or 4 channels).
        batch_size: Images per batch; `None` yields single images.
        image_size: `(height, width)` every image is resized to.
        shuffle: Shuffle the files (with `seed`) and, each epoch, the batches.
        seed: Seed of the shuffles; required with `validation_split` and
            `shuffle`.
        validation_split: Fraction of the files held out for validation.
        subset: `"training"`, `"validation"` or `"both"` (returns a list of
            the two datasets).
        interpolation: Resize filter: `"bilinear"`, `"nearest"`, `"bicubic"`,
            `"area"`, `"lanczos3"`, `"lanczos5"`, `"gaussian"`,
            `"mitchellcubic"` (the last two mapped to Pillow's nearest
            equivalents).
        follow_links: Whether to follow symbolic links to folders.
        crop_to_aspect_ratio: Center-crop to the target aspect ratio first.
        pad_to_aspect_ratio: Pad with zeros to the target aspect ratio first.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `lamina.backend.image_data_format()`.
        format: Keras's choice of result type: `"tf"` (the default) gives
            lamina's `BatchedDataset`; `"grain"` is not supported.
        verbose: Whether to say how many files were found.

    Returns:
        A `BatchedDataset` (a `lamina.utils.PyDataset`) of float32 image
        batches `(batch, height, width, channels)` and labels, with
        `.class_names` and `.file_paths`; or a list of two for
        `subset="both"`.

    Raises:
        ImportError: Pillow is not installed.
    """
    owner = "image_dataset_from_directory"
    dataset_utils.check_format(format, owner)
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(
            f"{owner}: the `labels` argument should be 'inferred', None, or a list/tuple of "
            f"ints; got labels={labels!r}."
        )
    if labels is None:
        label_mode = None
    dataset_utils.check_label_mode(label_mode, labels, None, owner)
    if label_mode is None:
        labels = None  # Keras: no labels means every file, loose ones too
    if color_mode not in _CHANNELS:
        raise ValueError(
            f"{owner}: `color_mode` must be one of 'grayscale', 'rgb' or 'rgba'; "
            f"got color_mode={color_mode!r}."
        )
    if interpolation not in _RESAMPLING:
        raise ValueError(
            f"{owner} expects `interpolation` in {sorted(_RESAMPLING)}; got "
            f"interpolation={interpolation!r}."
        )
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            f"{owner}: pass `crop_to_aspect_ratio` or `pad_to_aspect_ratio`, not both."
        )
    image_size = tuple(image_size)
    if len(image_size) != 2:
        raise ValueError(
            f"{owner} expects `image_size` to be (height, width); got "
            f"image_size={image_size!r}."
        )
    dataset_utils.check_positive_int(batch_size, "batch_size", owner, allow_none=True)
    dataset_utils.check_validation_split_arg(
        validation_split, subset, shuffle, seed, owner
    )
    data_format = data_format or config.image_data_format()
    _pil()  # fail early, before indexing, when Pillow is missing
    if seed is None:
        seed = np.random.randint(1e6)
    paths, found, names = dataset_utils.index_directory(
        directory,
        labels,
        ALLOWED_FORMATS,
        class_names=class_names,
        shuffle=shuffle,
        seed=seed,
        follow_links=follow_links,
        verbose=verbose,
        owner=owner,
    )
    dataset_utils.check_label_mode(label_mode, labels, names, owner)
    if not paths:
        raise ValueError(
            f"{owner}: No images found in directory {directory!r} (allowed formats: "
            f"{', '.join(ALLOWED_FORMATS)})."
        )

    def make(subset_name):
        sub_paths, sub_labels = dataset_utils.training_or_validation_split(
            paths, found, validation_split, subset_name, verbose
        )
        if label_mode is not None:
            sub_labels = dataset_utils.encode_labels(sub_labels, label_mode, len(names))

        def load(indices):
            images = np.stack(
                [
                    load_image(
                        sub_paths[i],
                        color_mode,
                        image_size,
                        interpolation,
                        crop_to_aspect_ratio,
                        pad_to_aspect_ratio,
                    )
                    for i in indices
                ]
            )
            if data_format == "channels_first":
                images = images.transpose(0, 3, 1, 2)
            if label_mode is None:
                return images
            return images, sub_labels[indices]

        dataset = dataset_utils.BatchedDataset(
            len(sub_paths), load, batch_size, shuffle=shuffle, seed=seed
        )
        dataset.class_names = names
        dataset.file_paths = list(sub_paths)
        return dataset

    if subset == "both":
        return [make("training"), make("validation")]
    return make(subset)
