"""StringLookup and IntegerLookup: Keras-recorded outputs, adapt order, errors."""

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.preprocessing.integer_lookup import IntegerLookup
from lamina.layers.preprocessing.string_lookup import StringLookup

CORPUS = [["a", "b", "c"], ["c", "b", "x"], ["d", "d", "e"], ["e", "x", "y"]]
INP = [["a", "c", "d"], ["d", "zz", "b"]]
ICORPUS = [[12, 36, 12], [1138, 42, 36], [7, 7, 42], [5, 5, 1138]]
IINP = [[12, 1138, 42], [42, 1000, 36]]

# Recorded from Keras 3.15.1 (KERAS_BACKEND=torch; its lookups run on
# TensorFlow 2.21): (case, layer kwargs, adapt data, inputs, get_vocabulary(),
# outputs, output dtype). Keras needs TensorFlow for these layers, which the
# test environment does not install; test_preprocessing_keras_parity.py
# compares live where it is installed.
# fmt: off
STRING_CASES = [
    ('adapt_int', {}, CORPUS, INP,
        ['[UNK]', 'x', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[7, 4, 3], [3, 0, 5]],
        'int64',
    ),
    ('adapt_one_hot', {'output_mode': 'one_hot'}, CORPUS, [['a'], ['zz'], ['e']],
        ['[UNK]', 'x', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[0, 0, 0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0]],
        'int64',
    ),
    ('adapt_multi_hot', {'output_mode': 'multi_hot'}, CORPUS, INP,
        ['[UNK]', 'x', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[0, 0, 0, 1, 1, 0, 0, 1], [1, 0, 0, 1, 0, 1, 0, 0]],
        'int64',
    ),
    ('adapt_count', {'output_mode': 'count'}, CORPUS, INP,
        ['[UNK]', 'x', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[0, 0, 0, 1, 1, 0, 0, 1], [1, 0, 0, 1, 0, 1, 0, 0]],
        'int64',
    ),
    ('adapt_tf_idf', {'output_mode': 'tf_idf'}, CORPUS, INP,
        ['[UNK]', 'x', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[0.0, 0.0, 0.0, 1.0986123085021973, 0.8472978472709656, 0.0, 0.0,
          1.0986123085021973],
         [0.955004096031189, 0.0, 0.0, 1.0986123085021973, 0.0, 0.8472978472709656, 0.0,
          0.0]],
        'float32',
    ),
    ('adapt_max_tokens', {'max_tokens': 4}, CORPUS, INP,
        ['[UNK]', 'x', 'e', 'd'],
        [[0, 0, 3], [3, 0, 0]],
        'int64',
    ),
    (
        'adapt_pad_to_max_tokens',
        {'max_tokens': 10, 'output_mode': 'multi_hot', 'pad_to_max_tokens': True},
        CORPUS,
        INP,
        ['[UNK]', 'x', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[0, 0, 0, 1, 1, 0, 0, 1, 0, 0], [1, 0, 0, 1, 0, 1, 0, 0, 0, 0]],
        'int64',
    ),
    (
        'adapt_tf_idf_pad',
        {'max_tokens': 10, 'output_mode': 'tf_idf', 'pad_to_max_tokens': True},
        CORPUS,
        INP,
        ['[UNK]', 'x', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[0.0, 0.0, 0.0, 1.0986123085021973, 0.8472978472709656, 0.0, 0.0,
          1.0986123085021973, 0.0, 0.0],
         [0.955004096031189, 0.0, 0.0, 1.0986123085021973, 0.0, 0.8472978472709656, 0.0,
          0.0, 0.0, 0.0]],
        'float32',
    ),
    ('adapt_mask_int', {'mask_token': 'x'}, CORPUS, [['a', 'x', 'zz']],
        ['x', '[UNK]', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[7, 0, 1]],
        'int64',
    ),
    (
        'adapt_mask_multi_hot',
        {'mask_token': 'x', 'output_mode': 'multi_hot'},
        CORPUS,
        [['a', 'x', 'zz']],
        ['[UNK]', 'e', 'd', 'c', 'b', 'y', 'a'],
        [[1, 0, 0, 0, 0, 0, 1]],
        'int64',
    ),
    (
        'adapt_1d_documents_tf_idf',
        {'output_mode': 'tf_idf'},
        ['a', 'b', 'b', 'c', 'c', 'c'],
        [['a', 'b', 'c', 'zz']],
        ['[UNK]', 'c', 'b', 'a'],
        [[1.1337324380874634, 0.9162907600402832, 1.0986123085021973,
          1.3862943649291992]],
        'float32',
    ),
    ('unicode_ties', {}, ['é', 'e', 'z', 'É', '日', 'a', 'é', 'z', 'B'], ['é', '日', 'q'],
        ['[UNK]', 'é', 'z', '日', 'É', 'e', 'a', 'B'],
        [1, 3, 0],
        'int64',
    ),
    ('vocabulary', {'vocabulary': ['a', 'b', 'c', 'd']}, None, INP,
        ['[UNK]', 'a', 'b', 'c', 'd'],
        [[1, 3, 4], [4, 0, 2]],
        'int64',
    ),
    (
        'vocabulary_with_specials',
        {'mask_token': '', 'vocabulary': ['', '[UNK]', 'a', 'b']},
        None,
        [['a', '', 'q']],
        ['', '[UNK]', 'a', 'b'],
        [[2, 0, 1]],
        'int64',
    ),
    (
        'num_oov_3_farmhash',
        {'num_oov_indices': 3, 'vocabulary': ['a', 'b']},
        None,
        ['a', 'q', 'r', 's', 't', 'b', 'uu'],
        ['[UNK]', '[UNK]', '[UNK]', 'a', 'b'],
        [3, 2, 1, 1, 1, 4, 0],
        'int64',
    ),
    (
        'num_oov_3_siphash_salt',
        {'num_oov_indices': 3, 'salt': 42, 'vocabulary': ['a', 'b']},
        None,
        ['a', 'q', 'r', 's', 't', 'b', 'uu'],
        ['[UNK]', '[UNK]', '[UNK]', 'a', 'b'],
        [3, 2, 1, 1, 2, 4, 0],
        'int64',
    ),
    (
        'num_oov_3_mask',
        {'mask_token': 'm', 'num_oov_indices': 3, 'vocabulary': ['a', 'b']},
        None,
        ['a', 'q', 'm', 's', 't', 'b'],
        ['m', '[UNK]', '[UNK]', '[UNK]', 'a', 'b'],
        [4, 3, 0, 2, 2, 5],
        'int64',
    ),
    ('num_oov_0', {'vocabulary': ['a', 'b'], 'num_oov_indices': 0}, None, ['b', 'a'],
        ['a', 'b'],
        [1, 0],
        'int64',
    ),
    (
        'invert',
        {'invert': True, 'vocabulary': ['a', 'b', 'c']},
        None,
        [0, 1, 2, 3, 4, 7],
        ['[UNK]', 'a', 'b', 'c'],
        ['[UNK]', 'a', 'b', 'c', '[UNK]', '[UNK]'],
        'list',
    ),
    (
        'invert_mask',
        {'invert': True, 'mask_token': '[M]', 'vocabulary': ['a', 'b', 'c']},
        None,
        [0, 1, 2, 3, 4, 7],
        ['[M]', '[UNK]', 'a', 'b', 'c'],
        ['[M]', '[UNK]', 'a', 'b', 'c', '[UNK]'],
        'list',
    ),
    (
        'tf_idf_vocabulary',
        {'idf_weights': [0.5, 1.0, 2.0],
         'output_mode': 'tf_idf',
         'vocabulary': ['a', 'b', 'c']},
        None,
        INP,
        ['[UNK]', 'a', 'b', 'c'],
        [[1.1666666269302368, 0.5, 0.0, 2.0], [2.3333332538604736, 0.0, 1.0, 0.0]],
        'float32',
    ),
    (
        'tf_idf_vocabulary_specials_pad',
        {'idf_weights': [0.1, 0.5, 1.0, 2.0],
         'max_tokens': 6,
         'output_mode': 'tf_idf',
         'pad_to_max_tokens': True,
         'vocabulary': ['[UNK]', 'a', 'b', 'c']},
        None,
        INP,
        ['[UNK]', 'a', 'b', 'c'],
        [[0.10000000149011612, 0.5, 0.0, 2.0, 0.0, 0.0],
         [0.20000000298023224, 0.0, 1.0, 0.0, 0.0, 0.0]],
        'float32',
    ),
    ('scalar_int', {'vocabulary': ['a', 'b']}, None, 'b',
        ['[UNK]', 'a', 'b'],
        2,
        'int64',
    ),
    (
        'scalar_multi_hot',
        {'output_mode': 'multi_hot', 'vocabulary': ['a', 'b']},
        None,
        'b',
        ['[UNK]', 'a', 'b'],
        [0, 0, 1],
        'int64',
    ),
    (
        'one_hot_single',
        {'output_mode': 'one_hot', 'vocabulary': ['a', 'b']},
        None,
        ['b'],
        ['[UNK]', 'a', 'b'],
        [[0, 0, 1]],
        'int64',
    ),
    (
        'rank3_count',
        {'output_mode': 'count', 'vocabulary': ['a', 'b']},
        None,
        [[['b', 'a'], ['a', 'a'], ['b', 'b']]],
        ['[UNK]', 'a', 'b'],
        [[[0, 1, 2], [0, 2, 1]]],
        'int64',
    ),
]
# fmt: on

# fmt: off
INTEGER_CASES = [
    ('adapt_int', {}, ICORPUS, IINP,
        [-1, 1138, 42, 36, 12, 7, 5],
        [[4, 1, 2], [2, 0, 3]],
        'int64',
    ),
    ('adapt_multi_hot', {'output_mode': 'multi_hot'}, ICORPUS, IINP,
        [-1, 1138, 42, 36, 12, 7, 5],
        [[0, 1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 0, 0, 0]],
        'int64',
    ),
    ('adapt_count', {'output_mode': 'count'}, ICORPUS, IINP,
        [-1, 1138, 42, 36, 12, 7, 5],
        [[0, 1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 0, 0, 0]],
        'int64',
    ),
    ('adapt_tf_idf', {'output_mode': 'tf_idf'}, ICORPUS, IINP,
        [-1, 1138, 42, 36, 12, 7, 5],
        [[0.0, 0.8472978472709656, 0.8472978472709656, 0.0, 1.0986123085021973, 0.0,
          0.0],
         [0.972955048084259, 0.0, 0.8472978472709656, 0.8472978472709656, 0.0, 0.0,
          0.0]],
        'float32',
    ),
    ('adapt_one_hot', {'output_mode': 'one_hot'}, ICORPUS, [12, 1000, 36],
        [-1, 1138, 42, 36, 12, 7, 5],
        [[0, 0, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0]],
        'int64',
    ),
    (
        'adapt_mask_max_tokens',
        {'mask_token': 7, 'max_tokens': 5},
        ICORPUS,
        [[7, 12, 36, 1138, 5]],
        [7, -1, 1138, 42, 36],
        [[0, 1, 4, 2, 1]],
        'int64',
    ),
    ('ties_descending', {}, [3, 1, 2, 2, 1, 3, -5, 10], [1, 2, 3, 10, -5, 4],
        [-1, 3, 2, 1, 10, -5],
        [3, 2, 1, 4, 5, 0],
        'int64',
    ),
    ('vocabulary', {'vocabulary': [12, 36, 1138, 42]}, None, IINP,
        [-1, 12, 36, 1138, 42],
        [[1, 3, 4], [4, 0, 2]],
        'int64',
    ),
    ('vocabulary_with_oov_token', {'vocabulary': [-1, 12, 36]}, None, IINP,
        [-1, 12, 36],
        [[1, 0, 0], [0, 0, 2]],
        'int64',
    ),
    (
        'num_oov_3_floormod',
        {'num_oov_indices': 3, 'vocabulary': [12, 36]},
        None,
        [12, 5, -7, 8, 36, 100],
        [-1, -1, -1, 12, 36],
        [3, 2, 2, 2, 4, 1],
        'int64',
    ),
    (
        'num_oov_3_farmhash',
        {'num_oov_indices': 3, 'oov_method': 'farmhash', 'vocabulary': [12, 36]},
        None,
        [12, 5, -7, 8, 36, 100],
        [-1, -1, -1, 12, 36],
        [3, 1, 2, 1, 4, 0],
        'int64',
    ),
    (
        'num_oov_3_farmhash_salt',
        {'num_oov_indices': 3,
         'oov_method': 'farmhash',
         'salt': [3, 9],
         'vocabulary': [12, 36]},
        None,
        [12, 5, -7, 8, 36, 100],
        [-1, -1, -1, 12, 36],
        [3, 1, 0, 1, 4, 0],
        'int64',
    ),
    ('invert', {'vocabulary': [12, 36], 'invert': True}, None, [0, 1, 2, 3, -1],
        [-1, 12, 36],
        [-1, 12, 36, -1, -1],
        'int64',
    ),
    (
        'invert_mask',
        {'invert': True, 'mask_token': 0, 'vocabulary': [12, 36]},
        None,
        [0, 1, 2, 3, -1],
        [0, -1, 12, 36],
        [0, -1, 12, 36, -1],
        'int64',
    ),
    ('mask_int', {'vocabulary': [12, 36], 'mask_token': 0}, None, [0, 12, 36, 5],
        [0, -1, 12, 36],
        [0, 2, 3, 1],
        'int64',
    ),
    (
        'mask_multi_hot',
        {'mask_token': 0, 'output_mode': 'multi_hot', 'vocabulary': [12, 36]},
        None,
        [[0, 12, 5]],
        [-1, 12, 36],
        [[1, 1, 0]],
        'int64',
    ),
    ('float_inputs_truncate', {'vocabulary': [12, 36]}, None, [12.7, 36.0],
        [-1, 12, 36],
        [1, 2],
        'int64',
    ),
]
# fmt: on


def _check_case(cls, kwargs, adapt, inputs, vocab, expected, dtype):
    layer = cls(**kwargs)
    if adapt is not None:
        layer.adapt(adapt)
    assert layer.get_vocabulary() == vocab
    assert layer.vocabulary_size() == len(vocab)
    out = layer(inputs)
    if dtype == "list":
        assert out == expected
        return
    assert isinstance(out, torch.Tensor)
    assert str(out.dtype) == f"torch.{dtype}"
    assert out.device.type == lamina.backend.get_device().type
    np.testing.assert_allclose(out.cpu().numpy(), np.asarray(expected), rtol=1e-6)


@pytest.mark.parametrize("case", STRING_CASES, ids=[c[0] for c in STRING_CASES])
def test_string_lookup_matches_keras_outputs_and_vocabulary(case):
    _check_case(StringLookup, *case[1:])


@pytest.mark.parametrize("case", INTEGER_CASES, ids=[c[0] for c in INTEGER_CASES])
def test_integer_lookup_matches_keras_outputs_and_vocabulary(case):
    _check_case(IntegerLookup, *case[1:])


# --- adapt ------------------------------------------------------------------


def test_adapt_orders_by_count_then_token_descending():
    layer = StringLookup()
    layer.adapt(["b", "a", "c", "a", "b", "d", "a"])
    # a:3, b:2, then c and d tie at 1: "d" > "c" comes first.
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "d", "c"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "d", "c"]


def test_adapt_leaves_out_special_tokens_and_caps_at_max_tokens():
    layer = StringLookup(mask_token="<pad>", max_tokens=4)
    layer.adapt([["<pad>", "[UNK]", "x", "x", "y", "z", "z", "z"]])
    assert layer.get_vocabulary() == ["<pad>", "[UNK]", "z", "x"]


def test_adapt_reads_an_iterable_of_batches():
    layer = IntegerLookup()
    layer.adapt(iter([np.array([5, 5, 6]), np.array([6, 6, 7])]))
    assert layer.get_vocabulary() == [-1, 6, 5, 7]


def test_adapt_with_steps_stops_early():
    layer = IntegerLookup()
    layer.adapt(iter([[1, 1], [2, 2], [3, 3]]), steps=1)
    assert layer.get_vocabulary() == [-1, 1]


def test_adapt_replaces_the_previous_vocabulary():
    layer = StringLookup()
    layer.adapt(["a", "b"])
    layer.adapt(["c"])
    assert layer.get_vocabulary() == ["[UNK]", "c"]


def test_tf_idf_weights_are_log_of_one_plus_documents_over_document_frequency():
    layer = StringLookup(output_mode="tf_idf")
    layer.adapt([["a", "a", "b"], ["a", "c", "c"]])  # 2 documents
    idf_a, idf_c, idf_b = np.log(1 + 2 / 3), np.log(1 + 2 / 2), np.log(1 + 2 / 2)
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b"]
    np.testing.assert_allclose(
        layer.idf_weights, [np.mean([idf_a, idf_c, idf_b]), idf_a, idf_c, idf_b]
    )
    out = layer([["a", "a", "b", "q"]])
    np.testing.assert_allclose(
        out.cpu().numpy(),
        [[np.mean([idf_a, idf_c, idf_b]), 2 * idf_a, 0, idf_b]],
        rtol=1e-6,
    )


# --- vocabulary ------------------------------------------------------------


def test_set_vocabulary_accepts_special_tokens_at_the_start():
    layer = StringLookup(mask_token="")
    layer.set_vocabulary(["", "[UNK]", "x", "y"])
    assert layer.get_vocabulary() == ["", "[UNK]", "x", "y"]
    assert layer(["y", "", "q"]).tolist() == [3, 0, 1]


def test_vocabulary_file_is_read_one_token_per_line(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("alpha\nbeta\n\n", encoding="utf-8")
    layer = StringLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == ["[UNK]", "alpha", "beta"]
    assert layer.get_config()["vocabulary"] is None


def test_bytes_inputs_are_decoded():
    layer = StringLookup(vocabulary=["é", "b"])
    assert layer([b"b", "é".encode()]).tolist() == [2, 1]


def test_invert_round_trips_indices_to_tokens():
    forward = StringLookup(vocabulary=["a", "b", "c"])
    inverse = StringLookup(vocabulary=forward.get_vocabulary(), invert=True)
    ids = forward([["c", "q"], ["a", "b"]])
    assert inverse(ids) == [["c", "[UNK]"], ["a", "b"]]


def test_integer_lookup_stays_on_the_input_tensors_device_and_in_models():
    layer = IntegerLookup(vocabulary=[10, 20, 30], mask_token=0)
    ids = torch.tensor([[0, 20, 99], [30, 10, 0]])
    out = layer(ids)
    assert out.device == ids.device and out.dtype == torch.int64
    assert out.tolist() == [[0, 3, 1], [4, 2, 0]]
    inverse = IntegerLookup(vocabulary=[10, 20, 30], mask_token=0, invert=True)
    assert inverse(out).tolist() == [[0, 20, -1], [30, 10, 0]]


def test_integer_lookup_builds_symbolically():
    x = lamina.Input(shape=(3,), dtype="int64")
    y = IntegerLookup(vocabulary=[1, 2, 3], output_mode="multi_hot")(x)
    assert y.shape == (None, 4) and y.dtype == "int64"
    z = IntegerLookup(vocabulary=[1, 2, 3])(x)
    assert z.shape == (None, 3) and z.dtype == "int64"


@pytest.mark.parametrize(
    "output_mode, input_shape, expected",
    [
        ("int", (None, 3), (None, 3)),
        ("multi_hot", (None, 3), (None, 5)),
        ("count", (None,), (5,)),
        ("one_hot", (None, 1), (None, 5)),
        ("one_hot", (None, 3), (None, 3, 5)),
    ],
)
def test_compute_output_shape(output_mode, input_shape, expected):
    layer = StringLookup(vocabulary=["a", "b", "c", "d"], output_mode=output_mode)
    assert layer.compute_output_shape(input_shape) == expected


# --- config and saving -------------------------------------------------------

STRING_LOOKUP_CONFIG_KEYS = {
    "name", "trainable", "dtype", "invert", "max_tokens", "num_oov_indices",
    "oov_token", "mask_token", "output_mode", "sparse", "pad_to_max_tokens",
    "idf_weights", "vocabulary", "vocabulary_size", "oov_method", "salt", "encoding",
}  # fmt: skip


def test_string_lookup_config_has_keras_keys_and_rebuilds_the_layer():
    layer = StringLookup(vocabulary=["a", "b"], num_oov_indices=2, mask_token="")
    config = layer.get_config()
    assert set(config) == STRING_LOOKUP_CONFIG_KEYS
    assert config["vocabulary"] == ["a", "b"] and config["vocabulary_size"] == 5
    clone = StringLookup.from_config(config)
    x = [["a", "", "q", "b", "r"]]
    assert clone(x).tolist() == layer(x).tolist()


def test_integer_lookup_config_lists_vocabulary_dtype_and_python_ints():
    layer = IntegerLookup(vocabulary=np.array([4, 5]), mask_token=np.int64(0))
    config = layer.get_config()
    assert set(config) == STRING_LOOKUP_CONFIG_KEYS - {"encoding"} | {
        "vocabulary_dtype"
    }
    assert config["vocabulary"] == [4, 5] and type(config["mask_token"]) is int
    assert IntegerLookup.from_config(config)([0, 5, 4, 9]).tolist() == [0, 3, 2, 1]


def test_adapted_vocabulary_travels_as_an_asset(tmp_path):
    layer = StringLookup(output_mode="count")
    layer.adapt(["x", "y", "y"])
    layer.save_assets(str(tmp_path))
    assert (tmp_path / "vocabulary.txt").read_text() == "[UNK]\ny\nx"
    clone = StringLookup.from_config(layer.get_config())
    clone.load_assets(str(tmp_path))
    assert clone(["x", "y", "q"]).tolist() == layer(["x", "y", "q"]).tolist()


def test_tf_idf_weights_are_saved_under_the_keras_key():
    layer = StringLookup(
        vocabulary=["a", "b"], idf_weights=[0.5, 1.5], output_mode="tf_idf"
    )
    store = {}
    layer.save_own_variables(store)
    np.testing.assert_allclose(store["idf_weights"], [1.0, 0.5, 1.5])
    assert layer.weights == [] and layer.count_params() == 0


# --- errors -------------------------------------------------------------------


def test_unknown_output_mode_names_the_choices_and_what_was_got():
    with pytest.raises(
        ValueError,
        match=r"'int'.*'tf_idf'; got output_mode='multihot'. Did you mean 'multi_hot'",
    ):
        StringLookup(output_mode="multihot")


@pytest.mark.parametrize("data", [[], np.array([], dtype=str), [[]]])
def test_adapt_on_empty_data_raises(data):
    with pytest.raises(ValueError, match="expected at least one token.*got"):
        StringLookup().adapt(data)


def test_adapt_after_a_constructor_vocabulary_raises():
    with pytest.raises(ValueError, match="vocabulary was given"):
        IntegerLookup(vocabulary=[1, 2]).adapt([1, 2])


def test_num_oov_indices_zero_rejects_unknown_tokens():
    with pytest.raises(ValueError, match=r"num_oov_indices=0.*\['zz'\]"):
        StringLookup(vocabulary=["a"], num_oov_indices=0)(["a", "zz"])
    with pytest.raises(ValueError, match=r"num_oov_indices=0.*\[7\]"):
        IntegerLookup(vocabulary=[1], num_oov_indices=0)([1, 7])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_tokens=1), "max_tokens"),
        (dict(pad_to_max_tokens=True), "needs `max_tokens`"),
        (dict(num_oov_indices=-1), "num_oov_indices"),
        (dict(invert=True, output_mode="count"), "invert=True"),
        (dict(sparse=True, output_mode="count"), "sparse=True"),
        (dict(idf_weights=[1.0], vocabulary=["a"]), "idf_weights"),
        (dict(vocabulary=["a"], output_mode="tf_idf"), "idf_weights"),
        (dict(vocabulary=["a", "a"]), "repeated terms"),
        (dict(vocabulary=["a", "<m>"], mask_token="<m>"), "reserved mask token"),
        (dict(vocabulary=["a", "b", "c"], max_tokens=3), "max_tokens=3"),
        (dict(salt="x"), "salt"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StringLookup(**kwargs)


def test_encodings_need_a_vocabulary_first():
    with pytest.raises(RuntimeError, match="needs its vocabulary"):
        StringLookup(output_mode="multi_hot")(["a"])


def test_encoding_width_is_fixed_once_set():
    layer = StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")
    with pytest.raises(RuntimeError, match="fixed at 3; the new vocabulary has 4"):
        layer.set_vocabulary(["a", "b", "c"])


def test_wrong_kinds_of_inputs_raise_type_errors():
    with pytest.raises(TypeError, match="expects strings; got data of dtype int"):
        StringLookup(vocabulary=["a"])([1, 2])
    with pytest.raises(TypeError, match="expects integer tokens"):
        IntegerLookup(vocabulary=[1])(["a"])
    with pytest.raises(ValueError, match="vocabulary_dtype='int64'"):
        IntegerLookup(vocabulary_dtype="int32")
    with pytest.raises(ValueError, match="salt.*farmhash"):
        IntegerLookup(salt=3)


def test_builds_from_a_config_written_by_keras():
    # StringLookup(output_mode="multi_hot", vocabulary=["a", "b"]).get_config()
    # in Keras 3.15.1.
    keras_config = {
        "name": "string_lookup",
        "trainable": True,
        "dtype": {
            "module": "keras",
            "class_name": "DTypePolicy",
            "config": {"name": "float32"},
            "registered_name": None,
        },
        "invert": False,
        "max_tokens": None,
        "num_oov_indices": 1,
        "oov_token": "[UNK]",
        "mask_token": None,
        "output_mode": "multi_hot",
        "sparse": False,
        "pad_to_max_tokens": False,
        "idf_weights": None,
        "vocabulary": ["a", "b"],
        "vocabulary_size": 3,
        "oov_method": "floormod",
        "salt": None,
        "encoding": "utf-8",
    }
    layer = StringLookup.from_config(keras_config)
    assert layer([["a", "c"], ["b", "b"]]).tolist() == [[1, 1, 0], [0, 0, 1]]
    config = layer.get_config()
    assert config == {**keras_config, "dtype": config["dtype"]}
