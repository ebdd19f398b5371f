"""lamina.visualization: drawing matches Keras 3 (OpenCV's rectangles without
OpenCV); galleries make the expected matplotlib figures."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402
from lamina import visualization  # noqa: E402

RNG = np.random.default_rng(0)

# cv2.rectangle(img, (10, 10), (20, 18), 255, t) on a 30 x 30 image, rows 7-21
# and columns 6-24, as OpenCV 5.0 drew them.
_CV2_T2 = """
...................
...................
....###########....
...#############...
...#############...
...###.......###...
...###.......###...
...###.......###...
...###.......###...
...###.......###...
...#############...
...#############...
....###########....
...................
...................
"""
_CV2_T5 = """
....###########....
..###############..
..###############..
.#################.
.#################.
.#################.
.#################.
.#######...#######.
.#################.
.#################.
.#################.
.#################.
..###############..
..###############..
....###########....
"""


def _art(text):
    return np.array([[c == "#" for c in row] for row in text.split()])


def _boxes(boxes, labels):
    return {"boxes": np.asarray(boxes), "labels": np.asarray(labels)}


def test_names_match_keras():
    keras = pytest.importorskip("keras")
    theirs = {n for n in dir(keras.visualization) if not n.startswith("_")}
    assert set(visualization.__all__) == theirs
    assert lamina.visualization is visualization


@pytest.mark.parametrize("thickness, art", [(2, _CV2_T2), (5, _CV2_T5)])
def test_thick_boxes_match_opencv_pixels(thickness, art):
    images = np.zeros((1, 30, 30, 3), "uint8")
    out = visualization.draw_bounding_boxes(
        images,
        _boxes([[[10, 10, 20, 18]]], [[0]]),
        "xyxy",
        color=(255, 0, 7),
        line_thickness=thickness,
    )
    assert out.dtype == np.uint8 and out.shape == (1, 30, 30, 3)
    np.testing.assert_array_equal(out[0, 7:22, 6:25, 0] == 255, _art(art))
    assert (out[0, ..., 0] > 0).sum() == _art(art).sum()
    np.testing.assert_array_equal(out[0, 14, 10], [255, 0, 7])


def test_thin_and_filled_boxes_skip_label_minus_one_and_clip_to_the_image():
    images = np.zeros((2, 8, 8, 1), "float32")
    boxes = _boxes([[[1, 2, 5, 6], [0, 0, 7, 7]], [[-3, 2, 20, 5], [1, 1, 2, 2]]],
                   [[3, -1], [1, 2]])  # fmt: skip
    thin = visualization.draw_bounding_boxes(
        images, boxes, "xyxy", color=(9, 1, 1), line_thickness=1
    )[..., 0]
    expected = np.zeros((8, 8), "uint8")
    expected[[2, 6], 1:6] = 9
    expected[2:7, [1, 5]] = 9
    np.testing.assert_array_equal(thin[0], expected)  # the -1 box is skipped
    assert thin[1, 2].tolist() == [9] * 8 and thin[1, 5].tolist() == [9] * 8
    filled = visualization.draw_bounding_boxes(
        images, boxes, "xyxy", color=(9, 1, 1), line_thickness=-1
    )[..., 0]
    assert (filled[1, 2:6] == 9).all() and filled[1, 1, 1] == 9


def test_float_images_are_scaled_and_boxes_converted_from_any_format():
    images = np.full((1, 10, 12, 3), 0.5, "float32")
    rel = _boxes([[[0.25, 0.2, 0.5, 0.6]]], [[0]])  # rel_xywh of 3,2 -> 9,8
    out = visualization.draw_bounding_boxes(
        images, rel, "rel_xywh", color=(255, 255, 255), line_thickness=1
    )
    assert out[0, 0, 0].tolist() == [127, 127, 127]
    assert out[0, 2, 3:10, 0].tolist() == [255] * 7 and out[0, 8, 9, 0] == 255


def test_channels_first_images_keep_their_layout():
    images = np.zeros((1, 3, 6, 6), "uint8")
    out = visualization.draw_bounding_boxes(
        images, _boxes([[[1, 1, 4, 4]]], [[0]]), "xyxy",
        color=(1, 2, 3), line_thickness=1, data_format="channels_first",
    )  # fmt: skip
    assert out.shape == (1, 3, 6, 6)
    assert out[0, :, 1, 1].tolist() == [1, 2, 3]


def test_class_names_are_written_with_pillow():
    pytest.importorskip("PIL")
    images = np.zeros((1, 80, 120, 3), "uint8")
    boxes = _boxes([[[10, 50, 60, 70]]], [[4]])
    boxes["confidences"] = np.array([[0.9]])
    plain = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(0, 250, 0))
    named = visualization.draw_bounding_boxes(
        images, boxes, "xyxy", color=(0, 250, 0), class_mapping={4: "cat"}
    )
    # Text goes above the box (baseline at y1 - 8) in the box's color.
    extra = (named[0, :, :, 1] == 250) & (plain[0, :, :, 1] == 0)
    rows = np.nonzero(extra.any(axis=1))[0]
    assert extra.sum() > 20 and rows.max() < 50 and rows.min() >= 10
    assert extra[:43].sum() > extra[43:].sum()  # mostly above the baseline


def test_draw_bounding_boxes_errors():
    boxes = _boxes([[[1, 1, 2, 2]]], [[0]])
    with pytest.raises(ValueError, match="rank 4"):
        visualization.draw_bounding_boxes(np.zeros((4, 4, 3)), boxes, "xyxy")
    with pytest.raises(TypeError, match="dict"):
        visualization.draw_bounding_boxes(np.zeros((1, 4, 4, 3)), [1], "xyxy")
    with pytest.raises(ValueError, match="'labels'"):
        visualization.draw_bounding_boxes(
            np.zeros((1, 4, 4, 3)), {"boxes": boxes["boxes"]}, "xyxy"
        )


@pytest.mark.parametrize("thickness", [1, 2, 3, 4, 7])
def test_draw_bounding_boxes_matches_keras_with_opencv(thickness):
    keras = pytest.importorskip("keras")
    pytest.importorskip("cv2")
    images = RNG.uniform(0, 255, (2, 40, 50, 3)).astype("float32")
    xy = RNG.integers(-10, 45, (2, 6, 2))
    boxes = _boxes(
        np.concatenate([xy, xy + RNG.integers(-5, 30, (2, 6, 2))], -1).astype("float32"),
        np.array([[0, 1, -1, 2, 3, 4], [1, 1, 1, -1, 0, 0]]),
    )  # fmt: skip
    kwargs = dict(color=(200, 10, 50), line_thickness=thickness)
    ours = visualization.draw_bounding_boxes(images, boxes, "xyxy", **kwargs)
    theirs = keras.visualization.draw_bounding_boxes(images, boxes, "xyxy", **kwargs)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("blend", [True, False])
@pytest.mark.parametrize("num_classes", [4, 6])
def test_draw_segmentation_masks_matches_keras(blend, num_classes):
    keras = pytest.importorskip("keras")
    images = RNG.uniform(0, 255, (2, 6, 5, 3)).astype("float32")
    masks = RNG.integers(-1, 4, (2, 6, 5, 1)).astype("int32")
    kwargs = dict(num_classes=num_classes, blend=blend, alpha=0.6)
    ours = visualization.draw_segmentation_masks(images, masks, **kwargs)
    theirs = keras.visualization.draw_segmentation_masks(images, masks, **kwargs)
    theirs = theirs.numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_draw_segmentation_masks_colors_rank3_masks_and_errors():
    images = np.zeros((1, 2, 2, 3), "uint8")
    masks = torch.tensor([[[1, 0], [0, -1]]])
    colors = {0: (10, 20, 30), 1: (200, 100, 0)}
    out = visualization.draw_segmentation_masks(
        images, masks, num_classes=2, color_mapping=colors, alpha=0.5
    )
    assert out[0, 0, 0].tolist() == [100, 50, 0]
    assert out[0, 0, 1].tolist() == [5, 10, 15] and out[0, 1, 1].tolist() == [0, 0, 0]
    # Without num_classes every id up to the largest gets a color (Keras's
    # torch backend fails here instead).
    out = visualization.draw_segmentation_masks(images, masks, alpha=1.0)
    assert out[0, 0, 0].tolist() == [1, 127, 31] and out[0, 0, 1].tolist() == [0, 0, 0]
    with pytest.raises(TypeError, match="integer dtype"):
        visualization.draw_segmentation_masks(images, np.zeros((1, 2, 2), "float32"))
    with pytest.raises(ValueError, match="rank 4"):
        visualization.draw_segmentation_masks(images[0], masks)


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def _image_axes(figure):
    return [axis for axis in figure.axes if axis.get_images()]


@pytest.mark.parametrize("batch, rows, cols, shown", [(4, None, None, 4),
                                                       (5, None, None, 3),
                                                       (6, 2, 3, 6), (3, 2, 2, 3)])  # fmt: skip
def test_plot_image_gallery_grid(plt, batch, rows, cols, shown):
    images = RNG.uniform(0, 1, (batch, 8, 8, 3))
    visualization.plot_image_gallery(
        images, rows=rows, cols=cols, value_range=(0, 1), show=False
    )
    figure = plt.gcf()
    assert len(_image_axes(figure)) == shown
    data = _image_axes(figure)[0].get_images()[0].get_array()
    np.testing.assert_array_equal(data, (images[0] * 255).astype("uint8"))


def test_plot_image_gallery_axes_match_keras(plt):
    keras = pytest.importorskip("keras")
    for batch in (1, 2, 5, 9):
        images = RNG.uniform(0, 255, (batch, 4, 4, 3))
        visualization.plot_image_gallery(images, show=False)
        ours = len(plt.gcf().axes)
        plt.close("all")
        keras.visualization.plot_image_gallery(images, show=False)
        assert ours == len(plt.gcf().axes)
        plt.close("all")


def test_plot_image_gallery_titles_saves_and_errors(plt, tmp_path):
    images = RNG.uniform(0, 255, (2, 8, 8, 3))
    labels = {0: "cat", 1: "dog"}
    visualization.plot_image_gallery(
        images, y_true=np.array([0, 1]), y_pred=[1, 1], label_map=labels, rows=1,
        cols=2, show=False,
    )  # fmt: skip
    titles = [axis.get_title() for axis in plt.gcf().axes]
    assert titles == ["Label: cat  Pred: dog", "Label: dog  Pred: dog"]
    plt.close("all")
    path = tmp_path / "gallery.png"
    visualization.plot_image_gallery(images, path=str(path))
    assert path.stat().st_size > 0 and not plt.get_fignums()
    with pytest.raises(ValueError, match="label_map"):
        visualization.plot_image_gallery(images, y_true=[0, 1])
    with pytest.raises(ValueError, match="path"):
        visualization.plot_image_gallery(images, path=str(path), show=True)


def test_plot_bounding_box_gallery_draws_true_and_predicted_boxes(plt, tmp_path):
    images = np.zeros((2, 20, 20, 3), "uint8")
    y_true = _boxes([[[2, 2, 10, 10]], [[3, 3, 8, 8]]], [[0], [0]])
    y_pred = _boxes([[[5, 5, 15, 15]], [[1, 1, 4, 4]]], [[0], [-1]])
    visualization.plot_bounding_box_gallery(
        images, "xyxy", y_true=y_true, y_pred=y_pred, legend=True,
        line_thickness=1, cols=2, show=False,
    )  # fmt: skip
    figure = plt.gcf()
    assert len(_image_axes(figure)) == 2
    first = _image_axes(figure)[0].get_images()[0].get_array()
    assert first[2, 2].tolist() == [0, 188, 212] and first[15, 15].tolist() == [
        255,
        235,
        59,
    ]
    second = _image_axes(figure)[1].get_images()[0].get_array()
    assert second[1, 1].tolist() == [0, 0, 0]  # the prediction labelled -1
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        "Ground Truth", "Prediction",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="legend"):
        visualization.plot_bounding_box_gallery(
            images, "xyxy", legend=True, legend_handles=[object()]
        )
    path = tmp_path / "boxes.png"
    visualization.plot_bounding_box_gallery(images, "xyxy", y_true=y_true, path=path)
    assert path.stat().st_size > 0


def test_plot_segmentation_mask_gallery_rows_and_columns(plt):
    images = RNG.uniform(0, 255, (3, 6, 6, 3))
    masks = RNG.integers(0, 3, (3, 6, 6, 1))
    visualization.plot_segmentation_mask_gallery(
        images, num_classes=3, y_true=masks, y_pred=masks, show=False
    )
    figure = plt.gcf()
    assert len(_image_axes(figure)) == 9
    grid = figure.axes[0].get_subplotspec().get_gridspec()
    assert (grid.nrows, grid.ncols) == (3, 3)
    drawn = _image_axes(figure)[1].get_images()[0].get_array()
    expected = visualization.draw_segmentation_masks(images, masks, num_classes=3)
    np.testing.assert_array_equal(drawn, expected[0])


def test_galleries_name_the_plot_extra_without_matplotlib(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"lamina\[plot\]"):
        visualization.plot_image_gallery(np.zeros((1, 2, 2, 3)))
