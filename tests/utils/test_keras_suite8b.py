"""Regressions found by running Keras 3's own utils tests against lamina
(session 8, part B)."""

import collections
import os

import numpy as np
import pytest

from lamina import tree
from lamina.utils import image_dataset_from_directory, text_dataset_from_directory
from lamina.utils.dataset_utils import BatchedDataset


def _passes(dataset, n=3):
    return [np.concatenate(list(dataset)) for _ in range(n)]


def test_shuffled_dataset_reshuffles_on_each_pass():
    # Keras's datasets (tf.data) reshuffle every time they are iterated.
    data = BatchedDataset(20, np.asarray, batch_size=8, shuffle=True, seed=1337)
    first, second, third = _passes(data)
    for order in (first, second, third):
        np.testing.assert_array_equal(np.sort(order), np.arange(20))
    assert not np.array_equal(first, second)
    assert not np.array_equal(second, third)


def test_reshuffling_is_seeded():
    make = lambda: BatchedDataset(  # noqa: E731
        20, np.asarray, batch_size=8, shuffle=True, seed=7
    )
    for a, b in zip(_passes(make()), _passes(make())):
        np.testing.assert_array_equal(a, b)


def test_unshuffled_dataset_keeps_its_order():
    data = BatchedDataset(20, np.asarray, batch_size=8, shuffle=False)
    for order in _passes(data):
        np.testing.assert_array_equal(order, np.arange(20))


def test_indexing_is_not_reshuffled_by_iteration_count():
    # fit() reads batches by index and reshuffles through on_epoch_end only.
    data = BatchedDataset(20, np.asarray, batch_size=8, shuffle=True, seed=3)
    before = [data[i].copy() for i in range(len(data))]
    after = [data[i] for i in range(len(data))]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    data.on_epoch_end()
    assert not np.array_equal(np.concatenate(before), np.concatenate(list(data)))


def _text_tree(root):
    for cls in ("a", "b"):
        os.makedirs(os.path.join(root, cls))
        for i in range(3):
            with open(os.path.join(root, cls, f"{i}.txt"), "w") as f:
                f.write(f"{cls}{i}")
    for i in range(2):  # loose files next to the class folders
        with open(os.path.join(root, f"loose{i}.txt"), "w") as f:
            f.write(f"loose{i}")


def test_text_dataset_without_labels_reads_every_file(tmp_path):
    # Keras: label_mode=None (or labels=None) lists the files of the whole tree.
    _text_tree(str(tmp_path))
    for kwargs in ({"label_mode": None}, {"labels": None}):
        data = text_dataset_from_directory(
            str(tmp_path), batch_size=4, shuffle=False, **kwargs
        )
        texts = sorted(np.concatenate(list(data)).tolist())
        assert texts == ["a0", "a1", "a2", "b0", "b1", "b2", "loose0", "loose1"]
    labelled = text_dataset_from_directory(str(tmp_path), batch_size=4)
    assert sum(len(x) for x, _ in labelled) == 6  # class folders only


def test_image_dataset_without_labels_reads_every_file(tmp_path):
    image = pytest.importorskip("PIL.Image")
    for sub in ("a", "b", ""):
        os.makedirs(tmp_path / sub, exist_ok=True)
        for i in range(2):
            pixels = np.full((4, 4, 3), 10 * i, dtype="uint8")
            image.fromarray(pixels).save(tmp_path / sub / f"{i}.png")
    data = image_dataset_from_directory(
        str(tmp_path), label_mode=None, image_size=(4, 4), batch_size=4
    )
    assert sum(len(x) for x in data) == 6


# --- lamina.tree: deques are nested, as in Keras's torch tree --------------------


def test_tree_walks_into_deques():
    structure = {"a": collections.deque([1, [2, 3]], maxlen=5), "b": 4}
    assert tree.is_nested(collections.deque())
    assert tree.flatten(structure) == [1, 2, 3, 4]
    assert tree.flatten(collections.deque()) == []
    assert tree.flatten_with_path(structure)[1] == (("a", 1, 0), 2)
    doubled = tree.map_structure(lambda x: 2 * x, structure)
    assert isinstance(doubled["a"], collections.deque)
    assert doubled["a"].maxlen == 5
    assert list(doubled["a"]) == [2, [4, 6]]
    packed = tree.pack_sequence_as(structure, [5, 6, 7, 8])
    assert packed["a"] == collections.deque([5, [6, 7]]) and packed["b"] == 8
