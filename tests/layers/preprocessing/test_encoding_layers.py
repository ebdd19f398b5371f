"""CategoryEncoding, Discretization and Hashing: values, Keras-recorded hashes,
adapt quantiles, errors."""

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.preprocessing.category_encoding import CategoryEncoding
from lamina.layers.preprocessing.discretization import Discretization
from lamina.layers.preprocessing.hashing import Hashing, _fingerprint64, _siphash24

# --- CategoryEncoding -------------------------------------------------------


def test_one_hot_multi_hot_and_count_of_a_batch():
    ids = [[0, 1, 1], [3, 3, 2]]
    one_hot = CategoryEncoding(4, output_mode="one_hot")([3, 0])
    multi = CategoryEncoding(4, output_mode="multi_hot")(ids)
    count = CategoryEncoding(4, output_mode="count")(ids)
    assert one_hot.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]
    assert multi.tolist() == [[1, 1, 0, 0], [0, 0, 1, 1]]
    assert count.tolist() == [[1, 2, 0, 0], [0, 0, 1, 2]]
    assert count.dtype == torch.float32


def test_count_weights_are_summed_per_id():
    layer = CategoryEncoding(3, output_mode="count")
    out = layer([[0, 1, 0]], count_weights=np.array([[0.5, 2.0, 0.25]]))
    np.testing.assert_allclose(out.cpu().numpy(), [[0.75, 2.0, 0.0]])


def test_a_trailing_axis_of_one_is_replaced_in_one_hot_mode():
    out = CategoryEncoding(3, output_mode="one_hot")(np.array([[2], [0]]))
    assert out.tolist() == [[0, 0, 1], [1, 0, 0]]


def test_tensor_ids_out_of_range_encode_to_zeros_without_a_device_check():
    out = CategoryEncoding(3)(torch.tensor([[0, 5, -1]]))
    assert out.tolist() == [[1, 0, 0]]


@pytest.mark.parametrize(
    "mode, shape, expected",
    [
        ("multi_hot", (None, 3), (None, 4)),
        ("count", (None,), (4,)),
        ("one_hot", (None,), (None, 4)),
        ("one_hot", (None, 1), (None, 4)),
        ("one_hot", (None, 2), (None, 2, 4)),
    ],
)
def test_category_encoding_output_shapes(mode, shape, expected):
    layer = CategoryEncoding(4, output_mode=mode)
    assert layer.compute_output_shape(shape) == expected
    assert layer(lamina.Input(shape=shape[1:], dtype="int64")).shape == expected


def test_category_encoding_config():
    layer = CategoryEncoding(5, output_mode="binary")
    config = layer.get_config()
    assert set(config) == {"name", "trainable", "dtype", "num_tokens", "output_mode"}
    assert config["output_mode"] == "multi_hot"
    assert CategoryEncoding.from_config(config)([1, 4]).tolist() == [0, 1, 0, 0, 1]


def test_category_encoding_errors():
    with pytest.raises(ValueError, match="positive int.*got num_tokens=None"):
        CategoryEncoding()
    with pytest.raises(ValueError, match="'one_hot', 'multi_hot', 'count'; got"):
        CategoryEncoding(3, output_mode="int")
    with pytest.raises(ValueError, match="sparse=True"):
        CategoryEncoding(3, sparse=True)
    with pytest.raises(ValueError, match=r"ids in \[0, 3\); got values from 0 to 3"):
        CategoryEncoding(3)([0, 3])
    with pytest.raises(ValueError, match="count_weights.*only when"):
        CategoryEncoding(3)([0], count_weights=[1.0])


# --- Discretization -----------------------------------------------------------


def test_bins_are_closed_on_the_left():
    layer = Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    out = layer(np.array([[-1.5, 0.0, 1.0, 1.99, 2.0, 3.4]]))
    assert out.tolist() == [[0, 1, 2, 2, 3, 3]] and out.dtype == torch.int32


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("one_hot", [[[1, 0, 0], [0, 0, 1]]]),
        ("multi_hot", [[1, 0, 1]]),
        ("count", [[1, 0, 1]]),
    ],
)
def test_discretization_encodings(mode, expected):
    out = Discretization(bin_boundaries=[0.0, 1.0], output_mode=mode)([[-1.0, 5.0]])
    assert out.tolist() == expected and out.dtype == torch.float32


def test_adapt_learns_quantile_boundaries():
    layer = Discretization(num_bins=4)
    layer.adapt(np.arange(20.0).reshape(10, 2))
    # Keras's summaries give the exact quartile cuts on evenly spaced data.
    assert layer.bin_boundaries == [4.0, 9.0, 14.0]
    assert layer([[3.0, 9.0, 19.0]]).tolist() == [[0, 2, 3]]


def test_adapt_on_batches_and_epsilon_match_keras_recorded_boundaries():
    rng = np.random.default_rng(0)
    layer = Discretization(num_bins=5, epsilon=0.1)
    layer.adapt([rng.normal(size=(40,)), rng.normal(size=(25,))])
    # Recorded from Keras 3.15.1 with the same batches.
    np.testing.assert_allclose(layer.bin_boundaries, KERAS_BATCHED_BOUNDARIES)


KERAS_BATCHED_BOUNDARIES = [
    -0.6869221925735474,
    -0.17420268058776855,
    0.34587493538856506,
    0.8434749841690063,
]


def test_discretization_config_survives_adapt():
    layer = Discretization(num_bins=3)
    layer.adapt(np.arange(9.0))
    config = layer.get_config()
    # Keras lists exactly these keys, with the dtype as a plain name.
    assert set(config) == {
        "bin_boundaries", "num_bins", "epsilon", "output_mode", "sparse", "name",
        "dtype",
    }  # fmt: skip
    assert config["dtype"] == "float32"
    clone = Discretization.from_config(config)
    assert clone.bin_boundaries == layer.bin_boundaries


def test_discretization_symbolic_output():
    y = Discretization(bin_boundaries=[0.0])(lamina.Input(shape=(3,)))
    assert y.shape == (None, 3) and y.dtype == "int32"


def test_discretization_errors():
    with pytest.raises(ValueError, match="either `num_bins`.*not both"):
        Discretization(bin_boundaries=[0.0], num_bins=2)
    with pytest.raises(ValueError, match="got neither"):
        Discretization()
    with pytest.raises(
        ValueError, match="one of 'int', 'one_hot'.*got output_mode='tf_idf'"
    ):
        Discretization(num_bins=2, output_mode="tf_idf")
    with pytest.raises(ValueError, match="cannot adapt"):
        Discretization(bin_boundaries=[0.0]).adapt(np.ones(3))
    with pytest.raises(ValueError, match="empty data: expected at least one value"):
        Discretization(num_bins=2).adapt(np.array([]))
    with pytest.raises(ValueError, match="no bin boundaries yet"):
        Discretization(num_bins=2)(np.ones(3))


# --- Hashing ------------------------------------------------------------------

HW = [["A"], ["B"], ["C"], ["D"], ["E"]]

# Recorded from Keras 3.15.1 (TensorFlow 2.21 does its hashing): (case, layer
# kwargs, adapt data (unused), inputs, vocabulary (unused), outputs, dtype).
# fmt: off
HASHING_CASES = [
    ('farmhash_strings', {'num_bins': 3}, None, HW,
        None,
        [[1], [0], [1], [1], [2]],
        'int64',
    ),
    (
        'farmhash_long_strings',
        {'num_bins': 1000},
        None,
        ['', 'x', 'xxxx', 'xxxxxxxx', 'xxxxxxxxxxxxxxxx', 'xxxxxxxxxxxxxxxxx',
         'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
         'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
         'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
         'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
         'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
        None,
        [263, 970, 102, 510, 644, 581, 517, 935, 160, 929, 736, 527],
        'int64',
    ),
    ('farmhash_unicode', {'num_bins': 1000}, None, ['héllo', '日本', 'café ÉÀ'],
        None,
        [151, 883, 50],
        'int64',
    ),
    ('farmhash_ints', {'num_bins': 1000}, None, [[1, 2, 3], [0, 5, -7]],
        None,
        [[849, 759, 921], [735, 971, 62]],
        'int64',
    ),
    ('farmhash_floats_truncate', {'num_bins': 1000}, None, [1.7, -2.2, 3.0],
        None,
        [849, 205, 921],
        'int64',
    ),
    (
        'siphash_int_salt',
        {'num_bins': 1000, 'salt': 133},
        None,
        ['A', 'B', 'C',
         'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
        None,
        [819, 238, 862, 919],
        'int64',
    ),
    ('siphash_pair_salt', {'num_bins': 1000, 'salt': [1, 2]}, None, [[1, 2], [3, 4]],
        None,
        [[714, 593], [265, 367]],
        'int64',
    ),
    ('mask_value_string', {'num_bins': 5, 'mask_value': 'C'}, None, HW,
        None,
        [[1], [1], [0], [4], [1]],
        'int64',
    ),
    ('mask_value_int', {'num_bins': 5, 'mask_value': 0}, None, [[0, 1, 2, 0]],
        None,
        [[0, 2, 4, 0]],
        'int64',
    ),
    (
        'multi_hot',
        {'num_bins': 4, 'output_mode': 'multi_hot'},
        None,
        [['A', 'B'], ['C', 'C']],
        None,
        [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
        'float32',
    ),
    (
        'count',
        {'num_bins': 4, 'output_mode': 'count'},
        None,
        [['A', 'B', 'A'], ['C', 'D', 'E']],
        None,
        [[3.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 2.0]],
        'float32',
    ),
    ('one_hot', {'num_bins': 4, 'output_mode': 'one_hot'}, None, HW,
        None,
        [[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0],
         [0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]],
        'float32',
    ),
]
# fmt: on


@pytest.mark.parametrize("case", HASHING_CASES, ids=[c[0] for c in HASHING_CASES])
def test_hashing_matches_keras_bins(case):
    _, kwargs, _, inputs, _, expected, dtype = case
    out = Hashing(**kwargs)(inputs)
    assert str(out.dtype) == f"torch.{dtype}"
    assert out.tolist() == expected


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", 0x9AE16A3B2F90404F),
        (b"a", 0xB3454265B6DF75E3),
        (b"hello", 0xB48BE5A931380CE8),
        (b"hello world, lamina", 0xE34487F6A85E612E),
        ("日本語".encode(), 0xD99EEDA07B1CB847),
        (bytes(range(40)), 0x8F45B937B49468C),
        (bytes(range(100)), 0x3CFF0F886D8D6195),
        (b"x" * 200, 0xC1713BF9D998A3BF),
    ],
    ids=["empty", "1", "5", "19", "utf8", "40", "100", "200"],
)
def test_fingerprint64_equals_tensorflows_farmhash(data, expected):
    assert _fingerprint64(data) == expected


def test_siphash24_reference_vector():
    # The SipHash paper's test vector: key 00..0f, message 00..0e.
    k0 = int.from_bytes(bytes(range(8)), "little")
    k1 = int.from_bytes(bytes(range(8, 16)), "little")
    assert _siphash24(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5


def test_hashing_keeps_the_input_shape_and_hashes_each_value_the_same():
    out = Hashing(num_bins=100)(np.array([["x", "y"], ["y", "x"]]))
    assert out.shape == (2, 2) and out[0, 0] == out[1, 1] and out[0, 1] == out[1, 0]


def test_hashing_config_and_dtype():
    layer = Hashing(num_bins=4, salt=7)
    config = layer.get_config()
    assert set(config) == {
        "name", "trainable", "dtype", "num_bins", "salt", "mask_value",
        "output_mode", "sparse",
    }  # fmt: skip
    assert config["salt"] == [7, 7]
    assert config["dtype"]["config"]["name"] == "int64"
    x = ["a", "b", "c"]
    assert Hashing.from_config(config)(x).tolist() == layer(x).tolist()
    assert Hashing(4, output_mode="count").get_config()["dtype"]["config"] == {
        "name": "float32"
    }


def test_hashing_errors():
    with pytest.raises(ValueError, match="positive int; got num_bins=0"):
        Hashing(0)
    with pytest.raises(ValueError, match="got output_mode='tf_idf'"):
        Hashing(3, output_mode="tf_idf", dtype="float32")
    with pytest.raises(
        ValueError, match="dtype 'int32' or 'int64'; got dtype='float32'"
    ):
        Hashing(3, dtype="float32")
    with pytest.raises(ValueError, match="salt.*got salt=1.5"):
        Hashing(3, salt=1.5)
    with pytest.raises(
        TypeError, match="mask_value='a'.*same kind; got data of dtype int"
    ):
        Hashing(3, mask_value="a")([1, 2])
