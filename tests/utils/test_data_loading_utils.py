"""pad_sequences, split_dataset and the *_dataset_from_* utilities."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, utils


def test_pad_sequences_pads_and_truncates_pre_by_default():
    out = utils.pad_sequences([[1, 2, 3], [4], []], maxlen=2)
    assert out.dtype == np.int32
    assert out.tolist() == [[2, 3], [0, 4], [0, 0]]


def test_pad_sequences_post_and_custom_value_and_longest_length():
    out = utils.pad_sequences(
        [[1, 2, 3], [4]], padding="post", truncating="post", value=-1
    )
    assert out.tolist() == [[1, 2, 3], [4, -1, -1]]
    out = utils.pad_sequences([[1, 2, 3], [4]], maxlen=2, truncating="post")
    assert out.tolist() == [[1, 2], [0, 4]]


def test_pad_sequences_keeps_item_shape_and_text():
    out = utils.pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32")
    assert out.shape == (2, 2, 3) and out[1, 0].tolist() == [0.0] * 3
    text = utils.pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert text.tolist() == [["a", "b"], ["<pad>", "c"]]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"padding": "middle"}, "'pre' or 'post'"),
        ({"value": "x"}, "text padding"),
    ],
)
def test_pad_sequences_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.pad_sequences([[1]], **kwargs)


def test_pad_sequences_rejects_items_of_another_shape():
    with pytest.raises(ValueError, match="sequence 1 has items of shape"):
        utils.pad_sequences([np.ones((2, 3)), np.ones((1, 4))], dtype="float32")


def test_split_dataset_keeps_order_without_shuffle():
    x, y = np.arange(10), np.arange(10) * 10
    left, right = utils.split_dataset((x, y), right_size=3)
    assert len(left) == 7 and len(right) == 3
    assert [int(a) for a, _ in right] == [7, 8, 9]
    assert [int(b) for _, b in left][:2] == [0, 10]


def test_split_dataset_shuffles_reproducibly_with_a_seed():
    first = utils.split_dataset(np.arange(20), left_size=0.5, shuffle=True, seed=3)
    again = utils.split_dataset(np.arange(20), left_size=0.5, shuffle=True, seed=3)
    values = sorted(int(v[0]) for v in first[0]) + sorted(int(v[0]) for v in first[1])
    assert sorted(values) == list(range(20))
    assert [int(v[0]) for v in first[0]] == [int(v[0]) for v in again[0]]
    assert [int(v[0]) for v in first[0]] != list(range(10))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({}, ValueError),
        ({"left_size": 1.5}, ValueError),
        ({"left_size": 0.9, "right_size": 0.5}, ValueError),
        ({"left_size": "half"}, TypeError),
        ({"left_size": 10}, ValueError),
    ],
)
def test_split_dataset_rejects_bad_sizes(kwargs, error):
    with pytest.raises(error, match="split_dataset"):
        utils.split_dataset(np.arange(10), **kwargs)


def test_split_dataset_feeds_fit():
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    train, _ = utils.split_dataset((x, x.sum(1, keepdims=True)), left_size=8)
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(train, batch_size=4, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1


def test_timeseries_windows_and_targets():
    data = np.arange(20)
    ds = utils.timeseries_dataset_from_array(
        data, data * 10, sequence_length=3, sequence_stride=2, sampling_rate=2,
        batch_size=3, start_index=1, end_index=15,
    )  # fmt: skip
    # Windows start at 1, 3, 5, 7, 9 (end 15 - (3 - 1) * 2 = 10 windows max).
    assert len(ds) == 2
    x, y = ds[0]
    assert x.tolist() == [[1, 3, 5], [3, 5, 7], [5, 7, 9]]
    assert y.tolist() == [10, 30, 50]
    x, y = ds[1]
    assert x.tolist() == [[7, 9, 11], [9, 11, 13]] and y.tolist() == [70, 90]


def test_timeseries_without_targets_and_unbatched():
    ds = utils.timeseries_dataset_from_array(
        np.arange(5), None, sequence_length=4, batch_size=None
    )
    assert [w.tolist() for w in ds] == [[0, 1, 2, 3], [1, 2, 3, 4]]


def test_timeseries_shuffle_is_seeded_and_complete():
    kwargs = {"sequence_length": 2, "batch_size": 100, "shuffle": True, "seed": 7}
    a = utils.timeseries_dataset_from_array(np.arange(30), None, **kwargs)[0]
    b = utils.timeseries_dataset_from_array(np.arange(30), None, **kwargs)[0]
    assert a.tolist() == b.tolist()
    assert sorted(a[:, 0].tolist()) == list(range(29))
    assert a[:, 0].tolist() != list(range(29))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start_index": 50}, "start_index"),
        ({"end_index": 50}, "end_index"),
        ({"sampling_rate": 0}, "sampling_rate"),
        ({"sequence_stride": 40}, "sequence_stride"),
    ],
)
def test_timeseries_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.timeseries_dataset_from_array(np.arange(20), None, 3, **kwargs)


def test_timeseries_dataset_trains_a_model():
    series = np.sin(np.arange(64) / 4).astype("float32")[:, None]
    ds = utils.timeseries_dataset_from_array(
        series[:-4], series[4:, 0], sequence_length=4, batch_size=16
    )
    model = lamina.Sequential([lamina.Input((4, 1)), layers.Flatten(), layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def _write_images(root, counts, size=(6, 4)):
    Image = pytest.importorskip("PIL.Image")
    for class_index, (name, count) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = np.full((size[1], size[0], 3), 40 * class_index + i, np.uint8)
            Image.fromarray(pixels).save(folder / f"img_{i}.png")


def test_image_dataset_reads_classes_from_folders(tmp_path, capsys):
    _write_images(tmp_path, {"cats": 3, "dogs": 2})
    ds = utils.image_dataset_from_directory(
        tmp_path, image_size=(4, 6), batch_size=4, shuffle=False
    )
    assert "Found 5 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["cats", "dogs"] and len(ds) == 2
    images, labels = ds[0]
    assert images.shape == (4, 4, 6, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32 and labels.tolist() == [0, 0, 0, 1]
    assert images[1, 0, 0].tolist() == [1.0, 1.0, 1.0]  # cats/img_1: value 1


def test_image_dataset_label_modes_color_modes_and_resizing(tmp_path):
    _write_images(tmp_path, {"a": 1, "b": 1})
    ds = utils.image_dataset_from_directory(
        tmp_path, label_mode="categorical", color_mode="grayscale",
        image_size=(8, 8), shuffle=False, verbose=False,
    )  # fmt: skip
    images, labels = ds[0]
    assert images.shape == (2, 8, 8, 1)
    assert labels.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    binary = utils.image_dataset_from_directory(
        tmp_path, label_mode="binary", image_size=(3, 3), crop_to_aspect_ratio=True,
        shuffle=False, verbose=False, data_format="channels_first",
    )  # fmt: skip
    images, labels = binary[0]
    assert images.shape == (2, 3, 3, 3) and labels.tolist() == [[0.0], [1.0]]
    unlabeled = utils.image_dataset_from_directory(
        tmp_path, labels=None, image_size=(2, 2), verbose=False, batch_size=None
    )
    assert unlabeled[0].shape == (2, 2, 3) and unlabeled.class_names is None


def test_image_dataset_validation_split_is_disjoint(tmp_path):
    _write_images(tmp_path, {"a": 5, "b": 5})
    train, val = utils.image_dataset_from_directory(
        tmp_path, image_size=(2, 2), validation_split=0.3, subset="both", seed=1,
        verbose=False,
    )  # fmt: skip
    assert len(train.file_paths) == 7 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    model = lamina.Sequential(
        [lamina.Input((2, 2, 3)), layers.Flatten(), layers.Dense(2)]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(train, validation_data=val, epochs=1, verbose=0)
    assert "val_loss" in history.history


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"validation_split": 0.2}, "go together"),
        ({"validation_split": 0.2, "subset": "training"}, "pass a `seed`"),
        ({"subset": "train", "validation_split": 0.2, "seed": 1}, "'training'"),
        ({"label_mode": "binary"}, "exactly 2 classes"),
        ({"color_mode": "cmyk"}, "color_mode"),
        ({"labels": [0, 1]}, "holds 3 files"),
    ],
)
def test_image_dataset_rejects_bad_arguments(tmp_path, kwargs, match):
    _write_images(tmp_path, {"a": 1, "b": 1, "c": 1})
    with pytest.raises(ValueError, match=match):
        utils.image_dataset_from_directory(tmp_path, verbose=False, **kwargs)


def test_image_dataset_without_pillow_names_the_package(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(ImportError, match="pip install pillow"):
        utils.image_dataset_from_directory(tmp_path)


def _write_texts(root, texts):
    for name, items in texts.items():
        (root / name).mkdir(parents=True)
        for i, text in enumerate(items):
            (root / name / f"{i}.txt").write_text(text, encoding="utf-8")
    (root / name / "notes.md").write_text("ignored", encoding="utf-8")


def test_text_dataset_reads_strings_and_labels(tmp_path):
    _write_texts(tmp_path, {"neg": ["bad film", "dull"], "pos": ["great", "lovely"]})
    ds = utils.text_dataset_from_directory(
        tmp_path, batch_size=3, shuffle=False, max_length=4, verbose=False
    )
    texts, labels = ds[0]
    assert texts.tolist() == ["bad ", "dull", "grea"]
    assert labels.tolist() == [0, 0, 1] and ds.class_names == ["neg", "pos"]
    assert ds[1][0].tolist() == ["love"]


def test_text_dataset_subsets_split_the_shuffled_files(tmp_path):
    _write_texts(tmp_path, {"a": ["1", "2", "3"], "b": ["4", "5"]})
    kwargs = {"validation_split": 0.4, "seed": 3, "verbose": False}
    train = utils.text_dataset_from_directory(tmp_path, subset="training", **kwargs)
    val = utils.text_dataset_from_directory(tmp_path, subset="validation", **kwargs)
    texts = sorted(train[0][0].tolist() + val[0][0].tolist())
    assert texts == ["1", "2", "3", "4", "5"] and len(val[0][0]) == 2


def test_batched_dataset_reshuffles_each_epoch_and_indexes_batches():
    ds = utils.timeseries_dataset_from_array(
        np.arange(12), None, sequence_length=1, batch_size=12, shuffle=True, seed=0
    )
    before = ds[0][:, 0].tolist()
    ds.on_epoch_end()
    assert sorted(ds[0][:, 0].tolist()) == sorted(before) == list(range(12))
    assert ds[0][:, 0].tolist() != before
    with pytest.raises(IndexError):
        ds[1]
    assert isinstance(ds, utils.PyDataset)
    assert torch.is_tensor(torch.as_tensor(ds[-1]))


def test_text_dataset_refuses_a_folder_without_text_files(tmp_path):
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="found no text files"):
        utils.text_dataset_from_directory(tmp_path, verbose=False)
