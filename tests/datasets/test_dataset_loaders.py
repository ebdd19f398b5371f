"""Dataset loaders read small files written in Keras's exact cache format."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from lamina.backend import config
from lamina.datasets import (
    _cache,
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty KERAS_HOME, and an origin that refuses connections at once."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(_cache, "KERAS_ORIGIN", "http://127.0.0.1:9/")
    datasets = tmp_path / "keras" / "datasets"
    datasets.mkdir(parents=True)
    return datasets


def _sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _pin_hash(monkeypatch, module, path):
    monkeypatch.setattr(module, "_HASH", _sha256(path))


def test_mnist_reads_the_cached_npz(home, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 3, 4], np.uint8),
        "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "y_test": np.array([9, 8], np.uint8),
    }
    np.savez(home / "mnist.npz", **arrays)
    _pin_hash(monkeypatch, mnist, home / "mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.dtype == np.uint8 and x_train.shape == (5, 28, 28)
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    assert y_train.tolist() == [0, 1, 2, 3, 4] and y_test.tolist() == [9, 8]


def test_missing_file_offline_says_where_to_put_it(home):
    with pytest.raises(ConnectionError, match="mnist.npz") as info:
        mnist.load_data()
    assert str(home / "mnist.npz") in str(info.value)
    assert "KERAS_HOME" in str(info.value)
    assert not any(home.iterdir())  # no partial file left behind


def test_cached_file_with_wrong_hash_is_fetched_again(home):
    np.savez(home / "mnist.npz", x_train=np.zeros(1))
    with pytest.raises(ConnectionError, match="could not download"):
        mnist.load_data()


def test_download_from_origin_checks_the_hash_and_writes_atomically(
    home, tmp_path, monkeypatch, capsys
):
    server = tmp_path / "server"
    server.mkdir()
    arrays = {k: np.zeros((1, 28, 28) if k[0] == "x" else (1,), np.uint8) for k in
              ("x_train", "y_train", "x_test", "y_test")}  # fmt: skip
    np.savez(server / "mnist.npz", **arrays)
    monkeypatch.setattr(_cache, "KERAS_ORIGIN", (server.as_uri() + "/"))
    monkeypatch.setattr(mnist, "_HASH", "0" * 64)
    with pytest.raises(ValueError, match="hash does not match"):
        mnist.load_data()
    assert not (home / "mnist.npz").exists()
    _pin_hash(monkeypatch, mnist, server / "mnist.npz")
    (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (1, 28, 28)
    assert (home / "mnist.npz").exists()
    assert [p.name for p in home.iterdir()] == ["mnist.npz"]
    assert "Downloading data from" in capsys.readouterr().out


def _idx(path, header_len, payload):
    with gzip.open(path, "wb") as f:
        f.write(b"\0" * header_len + payload.tobytes())


def test_fashion_mnist_reads_gzipped_idx_files(home):
    folder = home / "fashion-mnist"
    folder.mkdir()
    x = np.arange(2 * 784, dtype=np.uint8).reshape(2, 28, 28)
    _idx(folder / "train-labels-idx1-ubyte.gz", 8, np.array([3, 7], np.uint8))
    _idx(folder / "train-images-idx3-ubyte.gz", 16, x)
    _idx(folder / "t10k-labels-idx1-ubyte.gz", 8, np.array([5], np.uint8))
    _idx(folder / "t10k-images-idx3-ubyte.gz", 16, x[:1])
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, x)
    assert y_train.tolist() == [3, 7] and y_test.tolist() == [5]
    assert x_test.shape == (1, 28, 28) and x_test.dtype == np.uint8


def test_boston_housing_shuffles_with_seed_113_and_splits(home, monkeypatch):
    x = np.arange(10 * 13, dtype="float64").reshape(10, 13)
    y = np.arange(10, dtype="float64")
    np.savez(home / "boston_housing.npz", x=x, y=y)
    _pin_hash(monkeypatch, boston_housing, home / "boston_housing.npz")
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)
    assert y_train.tolist() == order[:8].tolist()
    assert y_test.tolist() == order[8:].tolist()
    np.testing.assert_array_equal(x_test, x[order[8:]])
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)


def test_california_housing_small_keeps_the_first_600(home, monkeypatch):
    x = np.arange(700 * 8, dtype="float32").reshape(700, 8)
    y = np.arange(700, dtype="float32")
    np.savez(home / "california_housing.npz", x=x, y=y)
    _pin_hash(monkeypatch, california_housing, home / "california_housing.npz")
    (x_train, y_train), (x_test, y_test) = california_housing.load_data("small")
    assert x_train.shape == (480, 8) and x_test.shape == (120, 8)
    assert max(y_train.max(), y_test.max()) < 600
    (x_train, _), _ = california_housing.load_data(test_split=0.5)
    assert x_train.shape == (350, 8)
    with pytest.raises(ValueError, match="'large' or 'small'"):
        california_housing.load_data("medium")


def _sequences(*lists):
    out = np.empty(len(lists), dtype=object)
    for i, seq in enumerate(lists):
        out[i] = list(seq)
    return out


def test_imdb_reads_object_arrays_without_pickle(home, monkeypatch):
    train = _sequences([1, 2, 3], [4, 5], [6], [7, 8, 9, 10])
    test = _sequences([2, 2], [9])
    np.savez(
        home / "imdb.npz",
        x_train=train,
        y_train=np.array([1, 0, 1, 0]),
        x_test=test,
        y_test=np.array([0, 1]),
    )
    _pin_hash(monkeypatch, imdb, home / "imdb.npz")
    (x_train, y_train), (x_test, y_test) = imdb.load_data()
    assert x_train.dtype == object and x_train.shape == (4,)
    # Same shuffle as Keras: one RandomState(113), train first.
    rng = np.random.RandomState(113)
    order = np.arange(4)
    rng.shuffle(order)
    expected = [[1] + [w + 3 for w in train[i]] for i in order]
    # num_words=None: Keras uses the largest index as the (exclusive) limit.
    top = max(max(s) for s in expected)
    expected = [[w if w < top else 2 for w in s] for s in expected]
    assert [list(s) for s in x_train] == expected
    assert y_train.tolist() == np.array([1, 0, 1, 0])[order].tolist()
    assert len(x_test) == 2


def test_imdb_num_words_skip_top_and_maxlen(home, monkeypatch):
    np.savez(
        home / "imdb.npz",
        x_train=_sequences([1, 2, 3], [4, 5, 6, 7, 8]),
        y_train=np.array([1, 0]),
        x_test=_sequences([9, 1]),
        y_test=np.array([1]),
    )
    _pin_hash(monkeypatch, imdb, home / "imdb.npz")
    (x_train, _), (x_test, _) = imdb.load_data(num_words=7, skip_top=2, maxlen=5)
    # maxlen=5 drops [1, 7..11] (length 6); start_char 1 < skip_top -> oov 2.
    assert [list(s) for s in x_train] == [[2, 4, 5, 6]]
    assert [list(s) for s in x_test] == [[2, 2, 4]]
    (x_train, _), _ = imdb.load_data(start_char=None, index_from=0, oov_char=None,
                                     num_words=4)  # fmt: skip
    assert sorted(list(s) for s in x_train) == [[], [1, 2, 3]]


def test_imdb_refuses_a_file_that_would_run_code(home, monkeypatch):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buffer = io.BytesIO()
    np.save(buffer, _sequences([1]), allow_pickle=True)
    evil = np.empty(1, dtype=object)
    evil[0] = Payload()
    np.savez(home / "imdb.npz", x_train=evil, y_train=np.array([1]),
             x_test=evil, y_test=np.array([1]))  # fmt: skip
    _pin_hash(monkeypatch, imdb, home / "imdb.npz")
    with pytest.raises(ValueError, match="refuses.*posix.system|refuses.*nt.system"):
        imdb.load_data()


def test_reuters_splits_after_the_shuffle(home, monkeypatch):
    xs = _sequences(*[[i, i + 1] for i in range(10)])
    np.savez(home / "reuters.npz", x=xs, y=np.arange(10))
    _pin_hash(monkeypatch, reuters, home / "reuters.npz")
    (x_train, y_train), (x_test, y_test) = reuters.load_data(index_from=0)
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)
    assert y_train.tolist() == order[:8].tolist() and len(x_test) == 2
    assert list(x_train[0])[:2] == [1, order[0]]
    assert len(reuters.get_label_names()) == 46


def _cifar_batch(n, label_key, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    # Protocol 2 with bytes keys: the layout of the (Python 2) CIFAR files.
    blob = pickle.dumps({b"batch_label": b"b", label_key: labels, b"data": data},
                        protocol=2)  # fmt: skip
    return blob, data, labels


def test_cifar10_extracts_the_cached_archive(home, monkeypatch):
    archive = home / "cifar-10-batches-py-target_archive"
    expected = []
    with tarfile.open(archive, "w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for i, name in enumerate(names):
            blob, data, labels = _cifar_batch(2, b"labels", i)
            expected.append((data, labels))
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    _pin_hash(monkeypatch, cifar10, archive)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (10, 1) and y_test.shape == (2, 1)
    first = expected[0][0][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(x_train[0], first)
    assert y_test[:, 0].tolist() == expected[5][1]
    config.set_image_data_format("channels_first")
    try:
        (x_train, _), _ = cifar10.load_data()  # already extracted: reused
    finally:
        config.set_image_data_format("channels_last")
    assert x_train.shape == (10, 3, 32, 32)


def test_cifar100_reads_an_extracted_folder_and_label_modes(home):
    folder = home / "cifar-100-python-target" / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", 3), ("test", 2)):
        data = np.full((n, 3072), 7, np.uint8)
        blob = pickle.dumps({b"data": data, b"fine_labels": [42] * n,
                             b"coarse_labels": [4] * n}, protocol=2)  # fmt: skip
        (folder / name).write_bytes(blob)
    (x_train, y_train), (x_test, _) = cifar100.load_data()
    assert x_train.shape == (3, 32, 32, 3) and y_train[:, 0].tolist() == [42] * 3
    (_, y_train), _ = cifar100.load_data(label_mode="coarse")
    assert y_train[:, 0].tolist() == [4] * 3
    with pytest.raises(ValueError, match="'fine' or 'coarse'"):
        cifar100.load_data("medium")


def test_digits_ships_with_scikit_learn():
    pytest.importorskip("sklearn")
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (1437, 8, 8) and x_test.shape == (360, 8, 8)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.max() == 16 and set(y_test.tolist()) == set(range(10))
