"""Error messages Keras's own utils and preprocessing tests match by regex
(found by running them on lamina, session 12): lamina's messages carry
Keras's key phrase next to their own detail."""

import numpy as np
import pytest

from lamina import utils
from lamina.utils import FeatureSpace
from lamina.utils.bounding_boxes import convert_format


def _two_ints():
    return {"f1": "integer_categorical", "f2": "integer_categorical"}


def test_feature_space_messages():
    with pytest.raises(ValueError, match="cannot be None or empty"):
        FeatureSpace(features={})
    with pytest.raises(ValueError, match="should be present in "):
        FeatureSpace(features=_two_ints(), crosses=[("f1", "nope")], crossing_dim=8)
    with pytest.raises(ValueError, match="You need to call `.adapt"):
        FeatureSpace(features=_two_ints())({"f1": [0], "f2": [0]})


def test_convert_format_needs_image_size_for_relative_formats():
    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match="must receive `height` and `width`"):
        convert_format(boxes, source="xyxy", target="rel_xyxy")


def _write_images(root, counts):
    image = pytest.importorskip("PIL.Image")
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = np.full((4, 4, 3), 10 * i, np.uint8)
            image.fromarray(pixels).save(root / name / f"img_{i}.png")


def test_image_dataset_messages(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No images found."):
        utils.image_dataset_from_directory(empty, verbose=False)
    _write_images(tmp_path / "data", {"a": 2, "b": 1})
    with pytest.raises(ValueError, match="`labels` argument should be"):
        utils.image_dataset_from_directory(tmp_path / "data", labels="other")
    with pytest.raises(ValueError, match="match the number of files"):
        utils.image_dataset_from_directory(
            tmp_path / "data", labels=[0, 1], verbose=False
        )


def test_text_dataset_labels_message(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="`labels` argument should be"):
        utils.text_dataset_from_directory(tmp_path, labels="other")


def test_feature_space_output_mode_message():
    with pytest.raises(ValueError, match="for argument `output_mode`"):
        FeatureSpace(features=_two_ints(), output_mode="unknown")


def test_label_mode_message(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="`label_mode` argument must be"):
        utils.text_dataset_from_directory(tmp_path, label_mode="other")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"validation_split": 2}, "`validation_split` must be between 0 and 1"),
        (
            {"validation_split": 0.2, "subset": "other", "seed": 1},
            '`subset` must be either "training", "validation" or "both"',
        ),
        (
            {"validation_split": 0.0, "subset": "training"},
            "`validation_split` must be set",
        ),
        ({"validation_split": 0.2, "subset": "training"}, "must provide a `seed`"),
        ({"class_names": ["a", "wrong"]}, "`class_names` passed did not match"),
        ({"label_mode": "binary"}, "there must be exactly 2"),
        (
            {"labels": [0, 1, 0], "class_names": ["a"]},
            'only pass `class_names` if `labels="inferred"`',
        ),
        (
            {"labels": [0, 1]},
            "Expected the lengths of `labels` to match the number of files",
        ),
        ({"color_mode": "cmyk"}, "`color_mode` must be one of"),
    ],
)
def test_image_dataset_argument_messages(tmp_path, kwargs, match):
    _write_images(tmp_path, {"a": 1, "b": 1, "c": 1})
    with pytest.raises(ValueError, match=match):
        utils.image_dataset_from_directory(tmp_path, verbose=False, **kwargs)
