"""Live Keras parity for the encoding, lookup and text layers: same arguments,
same data, same outputs, vocabularies and configs.

CategoryEncoding and Discretization need only Keras. Keras's StringLookup,
IntegerLookup, Hashing and TextVectorization run on TensorFlow, so those tests
skip where it is not installed (the recorded tables in the other test modules
cover them there).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.layers.preprocessing.category_encoding import CategoryEncoding  # noqa: E402
from lamina.layers.preprocessing.discretization import Discretization  # noqa: E402
from lamina.layers.preprocessing.hashing import Hashing  # noqa: E402
from lamina.layers.preprocessing.integer_lookup import IntegerLookup  # noqa: E402
from lamina.layers.preprocessing.string_lookup import StringLookup  # noqa: E402
from lamina.layers.preprocessing.text_vectorization import (  # noqa: E402
    TextVectorization,
)


def _values(out):
    if isinstance(out, torch.Tensor):
        return out.detach().cpu().numpy(), str(out.dtype)
    if hasattr(out, "numpy"):
        return np.asarray(out), str(out.dtype)
    return out, "list"


def _assert_same(keras_out, lamina_out):
    (ours, our_dtype), (theirs, their_dtype) = _values(lamina_out), _values(keras_out)
    assert our_dtype == their_dtype
    if our_dtype == "list":
        assert ours == theirs
    else:
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def _assert_same_config(k_layer, l_layer):
    k_config, l_config = k_layer.get_config(), l_layer.get_config()
    k_config.pop("name"), l_config.pop("name")
    assert l_config == k_config


INT_INPUTS = [
    [3, 2, 0, 1],
    [[0, 1], [0, 0], [3, 3]],
    2,
    np.array([[1], [2]]),
    np.array([[[0, 1], [2, 3], [3, 3]], [[1, 1], [0, 2], [0, 0]]]),
]


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("inputs", INT_INPUTS, ids=["1d", "2d", "scalar", "col", "3d"])
def test_category_encoding(mode, inputs):
    k_layer = keras.layers.CategoryEncoding(4, output_mode=mode)
    l_layer = CategoryEncoding(4, output_mode=mode)
    _assert_same(k_layer(np.asarray(inputs)), l_layer(inputs))
    _assert_same_config(k_layer, l_layer)


def test_category_encoding_count_weights():
    x, w = np.array([[0, 1, 1], [2, 2, 3]]), np.array([[0.5, 1.0, 2.0], [1, 1, 3]])
    k = keras.layers.CategoryEncoding(4, output_mode="count")(x, count_weights=w)
    _assert_same(k, CategoryEncoding(4, output_mode="count")(x, count_weights=w))


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_with_boundaries(mode):
    x = np.random.default_rng(1).normal(size=(4, 3))
    kwargs = dict(bin_boundaries=[-0.5, 0.0, 0.5], output_mode=mode)
    k_layer, l_layer = keras.layers.Discretization(**kwargs), Discretization(**kwargs)
    _assert_same(k_layer(x), l_layer(x))
    _assert_same_config(k_layer, l_layer)


@pytest.mark.parametrize("num_bins, epsilon", [(4, 0.01), (5, 0.1), (3, 0.001)])
def test_discretization_adapt_boundaries(num_bins, epsilon):
    rng = np.random.default_rng(2)
    batches = [rng.normal(size=(300, 2)), rng.uniform(size=(57,))]
    k_layer = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    # Keras's adapt() checks for tf.data; its update/finalize steps do not.
    for batch in batches:
        k_layer.update_state(batch)
    k_layer.finalize_state()
    l_layer = Discretization(num_bins=num_bins, epsilon=epsilon)
    l_layer.adapt(batches)
    assert l_layer.bin_boundaries == k_layer.bin_boundaries
    _assert_same_config(k_layer, l_layer)


# --- layers that Keras runs on TensorFlow -------------------------------------------


@pytest.fixture
def tensorflow():
    return pytest.importorskip("tensorflow")


def _corpus(seed, rows=12, width=5):
    rng = np.random.default_rng(seed)
    words = np.array(["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "É", "日"])
    return words[rng.integers(0, len(words), size=(rows, width))]


MODES = ["int", "one_hot", "multi_hot", "count", "tf_idf"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "extra",
    [{}, {"max_tokens": 5}, {"mask_token": "cat"}, {"num_oov_indices": 3}],
    ids=["plain", "max_tokens", "mask", "oov3"],
)
def test_string_lookup(tensorflow, mode, extra):
    corpus, inputs = _corpus(0), _corpus(1, rows=3, width=4)
    inputs[0, 0] = "unseen"
    if mode == "one_hot":
        inputs = inputs[:, :1]
    k_layer = keras.layers.StringLookup(output_mode=mode, **extra)
    l_layer = StringLookup(output_mode=mode, **extra)
    k_layer.adapt(corpus)
    l_layer.adapt(corpus)
    assert l_layer.get_vocabulary() == [str(v) for v in k_layer.get_vocabulary()]
    _assert_same(k_layer(inputs), l_layer(inputs))
    _assert_same_config(k_layer, l_layer)


@pytest.mark.parametrize("mode", MODES)
def test_integer_lookup(tensorflow, mode):
    rng = np.random.default_rng(3)
    corpus, inputs = rng.integers(0, 9, size=(10, 4)), rng.integers(0, 12, (3, 4))
    if mode == "one_hot":
        inputs = inputs[:, :1]
    kwargs = dict(output_mode=mode, mask_token=0, num_oov_indices=2)
    if mode != "int":
        kwargs.pop("mask_token")
    k_layer, l_layer = keras.layers.IntegerLookup(**kwargs), IntegerLookup(**kwargs)
    k_layer.adapt(corpus)
    l_layer.adapt(corpus)
    assert l_layer.get_vocabulary() == [int(v) for v in k_layer.get_vocabulary()]
    _assert_same(k_layer(inputs), l_layer(inputs))
    _assert_same_config(k_layer, l_layer)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_bins=7),
        dict(num_bins=7, salt=[11, 13]),
        dict(num_bins=7, mask_value="cat"),
        dict(num_bins=7, output_mode="count"),
    ],
)
def test_hashing(tensorflow, kwargs):
    inputs = _corpus(4)
    k_layer, l_layer = keras.layers.Hashing(**kwargs), Hashing(**kwargs)
    _assert_same(k_layer(inputs), l_layer(inputs))
    _assert_same_config(k_layer, l_layer)


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count", "tf_idf"])
@pytest.mark.parametrize(
    "extra",
    [{}, {"ngrams": 2}, {"split": "character", "max_tokens": 12}],
    ids=["plain", "bigrams", "characters"],
)
def test_text_vectorization(tensorflow, mode, extra):
    texts = [" ".join(row) for row in _corpus(5)]
    texts += ["The cat, the DOG!", "  tabs\tand\nlines ", ""]
    k_layer = keras.layers.TextVectorization(output_mode=mode, **extra)
    l_layer = TextVectorization(output_mode=mode, **extra)
    k_layer.adapt(texts)
    l_layer.adapt(texts)
    assert l_layer.get_vocabulary() == [str(v) for v in k_layer.get_vocabulary()]
    inputs = texts[-4:] + ["unknown words here"]
    _assert_same(k_layer(inputs), l_layer(inputs))
    _assert_same_config(k_layer, l_layer)
