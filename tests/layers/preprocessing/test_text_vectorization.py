"""TextVectorization: Keras-recorded outputs, string handling, errors, and the
vectorize-then-fit pattern."""

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.core.dense import Dense
from lamina.layers.preprocessing.text_vectorization import TextVectorization

TCORPUS = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "A cat, a dog; the END",
    "  spaces\tand\ttabs  ",
    "Ünïcode ÉÀ café",
    "ties b a c",
]
TINP = ["the cat ate the homework", "what a DOG", "", "café ÉÀ"]

# Recorded from Keras 3.15.1 (KERAS_BACKEND=torch; its string ops run on
# TensorFlow 2.21): (case, layer kwargs, adapt data, inputs, get_vocabulary(),
# outputs, output dtype).
# fmt: off
CASES = [
    ('adapt_int', {}, TCORPUS, TINP,
        ['', '[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs',
         'spaces', 'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate',
         'and'],
        [[2, 5, 20, 2, 15], [1, 3, 4, 0, 0], [0, 0, 0, 0, 0], [17, 7, 0, 0, 0]],
        'int64',
    ),
    ('adapt_multi_hot', {'output_mode': 'multi_hot'}, TCORPUS, TINP,
        ['[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs', 'spaces',
         'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate', 'and'],
        [[0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
         [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]],
        'int64',
    ),
    ('adapt_count', {'output_mode': 'count'}, TCORPUS, TINP,
        ['[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs', 'spaces',
         'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate', 'and'],
        [[0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
         [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]],
        'int64',
    ),
    ('adapt_tf_idf', {'output_mode': 'tf_idf'}, TCORPUS, TINP,
        ['[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs', 'spaces',
         'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate', 'and'],
        [[0.0, 1.8325815200805664, 0.0, 0.0, 1.0986123085021973, 0.0, 0.0, 0.0, 0.0,
          0.0, 0.0, 0.0, 0.0, 0.0, 1.3862943649291992, 0.0, 0.0, 0.0, 0.0,
          1.3862943649291992, 0.0],
         [1.3196418285369873, 0.0, 1.0986123085021973, 1.0986123085021973, 0.0, 0.0,
          0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
         [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
          0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
         [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.3862943649291992, 0.0, 0.0, 0.0, 0.0, 0.0,
          0.0, 0.0, 0.0, 0.0, 1.3862943649291992, 0.0, 0.0, 0.0, 0.0]],
        'float32',
    ),
    ('adapt_max_tokens', {'max_tokens': 8}, TCORPUS, TINP,
        ['', '[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ'],
        [[2, 5, 1, 2, 1], [1, 3, 4, 0, 0], [0, 0, 0, 0, 0], [1, 7, 0, 0, 0]],
        'int64',
    ),
    (
        'adapt_pad_to_max_tokens',
        {'max_tokens': 30, 'output_mode': 'count', 'pad_to_max_tokens': True},
        TCORPUS,
        TINP,
        ['[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs', 'spaces',
         'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate', 'and'],
        [[0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0],
         [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0]],
        'int64',
    ),
    ('ngrams_2', {'ngrams': 2}, TCORPUS, TINP,
        ['', '[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode ÉÀ', 'Ünïcode', 'ÉÀ café',
         'ÉÀ', 'ties b', 'ties', 'the mat', 'the end', 'the dog', 'the cat', 'tabs',
         'spaces and', 'spaces', 'sat on', 'sat', 'on the', 'on', 'my homework', 'my',
         'mat', 'homework', 'end', 'dog the', 'dog ate', 'cat sat', 'cat a', 'café',
         'c', 'b a', 'b', 'ate my', 'ate', 'and tabs', 'and', 'a dog', 'a cat', 'a c'],
        [[2, 5, 37, 2, 26, 15, 1, 1, 1], [1, 3, 4, 1, 40, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0], [32, 9, 1, 0, 0, 0, 0, 0, 0]],
        'int64',
    ),
    (
        'ngrams_1_3_multi_hot',
        {'ngrams': (1, 3), 'output_mode': 'multi_hot'},
        TCORPUS,
        TINP,
        ['[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode ÉÀ café', 'Ünïcode', 'ÉÀ',
         'ties b a', 'ties', 'the dog ate', 'the cat sat', 'tabs', 'spaces and tabs',
         'spaces', 'sat on the', 'sat', 'on the mat', 'on', 'my', 'mat', 'homework',
         'end', 'dog the end', 'dog ate my', 'cat sat on', 'cat a dog', 'café', 'c',
         'b a c', 'b', 'ate my homework', 'ate', 'and', 'a dog the', 'a cat a'],
        [[1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
          0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
         [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          0, 1, 0, 0, 0, 0, 0, 0, 0, 0]],
        'int64',
    ),
    ('split_character', {'split': 'character'}, TCORPUS, TINP,
        ['', '[UNK]', ' ', 'a', 't', 'e', 'o', 'c', 's', 'h', 'd', 'n', 'm', 'g', 'b',
         '\t', 'ï', 'é', 'Ü', 'É', 'À', 'y', 'w', 'r', 'p', 'k', 'i', 'f'],
        [[4, 9, 5, 2, 7, 3, 4, 2, 3, 4, 5, 2, 4, 9, 5, 2, 9, 6, 12, 5, 22, 6, 23, 25],
         [22, 9, 3, 4, 2, 3, 2, 10, 6, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
         [7, 3, 27, 17, 2, 19, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
        'int64',
    ),
    ('standardize_none', {'standardize': None}, TCORPUS, TINP,
        ['', '[UNK]', 'the', 'a', 'The', 'Ünïcode', 'ÉÀ', 'ties', 'tabs', 'spaces',
         'sat', 'on', 'my', 'mat.', 'homework!', 'dog;', 'dog', 'cat,', 'cat', 'café',
         'c', 'b', 'ate', 'and', 'END', 'A'],
        [[2, 18, 22, 2, 1], [1, 3, 1, 0, 0], [0, 0, 0, 0, 0], [19, 6, 0, 0, 0]],
        'int64',
    ),
    ('standardize_lower', {'standardize': 'lower'}, TCORPUS, TINP,
        ['', '[UNK]', 'the', 'a', 'Ünïcode', 'ÉÀ', 'ties', 'tabs', 'spaces', 'sat',
         'on', 'my', 'mat.', 'homework!', 'end', 'dog;', 'dog', 'cat,', 'cat', 'café',
         'c', 'b', 'ate', 'and'],
        [[2, 18, 22, 2, 1], [1, 3, 16, 0, 0], [0, 0, 0, 0, 0], [19, 5, 0, 0, 0]],
        'int64',
    ),
    (
        'standardize_strip_punctuation',
        {'standardize': 'strip_punctuation'},
        TCORPUS,
        TINP,
        ['', '[UNK]', 'the', 'dog', 'cat', 'a', 'The', 'Ünïcode', 'ÉÀ', 'ties', 'tabs',
         'spaces', 'sat', 'on', 'my', 'mat', 'homework', 'café', 'c', 'b', 'ate', 'and',
         'END', 'A'],
        [[2, 4, 20, 2, 16], [1, 5, 1, 0, 0], [0, 0, 0, 0, 0], [17, 8, 0, 0, 0]],
        'int64',
    ),
    (
        'split_none_one_hot',
        {'output_mode': 'one_hot', 'split': None},
        ['The cat sat on the mat.', 'The dog ate my homework!', 'A cat, a dog; the END',
         '  spaces\tand\ttabs  ', 'Ünïcode ÉÀ café', 'ties b a c',
         'the cat ate the homework', 'what a DOG', '', 'café ÉÀ'],
        TINP,
        ['[UNK]', 'Ünïcode ÉÀ café', 'what a dog', 'ties b a c',
         'the dog ate my homework', 'the cat sat on the mat',
         'the cat ate the homework', 'café ÉÀ', 'a cat a dog the end',
         '  spaces\tand\ttabs  '],
        [[0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]],
        'int64',
    ),
    (
        'split_none_int_2d',
        {'split': None},
        TCORPUS,
        [['the cat ate the homework'], ['what a DOG'], [''], ['café ÉÀ']],
        ['', '[UNK]', 'Ünïcode ÉÀ café', 'ties b a c', 'the dog ate my homework',
         'the cat sat on the mat', 'a cat a dog the end', '  spaces\tand\ttabs  '],
        [[1], [1], [0], [1]],
        'int64',
    ),
    ('output_sequence_length_3', {'output_sequence_length': 3}, TCORPUS, TINP,
        ['', '[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs',
         'spaces', 'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate',
         'and'],
        [[2, 5, 20], [1, 3, 4], [0, 0, 0], [17, 7, 0]],
        'int64',
    ),
    ('output_sequence_length_9', {'output_sequence_length': 9}, TCORPUS, TINP,
        ['', '[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs',
         'spaces', 'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate',
         'and'],
        [[2, 5, 20, 2, 15, 0, 0, 0, 0], [1, 3, 4, 0, 0, 0, 0, 0, 0],
         [0, 0, 0, 0, 0, 0, 0, 0, 0], [17, 7, 0, 0, 0, 0, 0, 0, 0]],
        'int64',
    ),
    (
        'input_shape_batch_1',
        {},
        TCORPUS,
        [['the cat ate the homework'], ['what a DOG'], [''], ['café ÉÀ']],
        ['', '[UNK]', 'the', 'a', 'dog', 'cat', 'Ünïcode', 'ÉÀ', 'ties', 'tabs',
         'spaces', 'sat', 'on', 'my', 'mat', 'homework', 'end', 'café', 'c', 'b', 'ate',
         'and'],
        [[2, 5, 20, 2, 15], [1, 3, 4, 0, 0], [0, 0, 0, 0, 0], [17, 7, 0, 0, 0]],
        'int64',
    ),
    (
        'vocabulary',
        {'output_sequence_length': 4, 'vocabulary': ['earth', 'wind', 'and', 'fire']},
        None,
        ['Earth, wind and FIRE!', 'wind and rain'],
        ['', '[UNK]', 'earth', 'wind', 'and', 'fire'],
        [[2, 3, 4, 5], [3, 4, 1, 0]],
        'int64',
    ),
    (
        'vocabulary_tf_idf',
        {'idf_weights': [0.1, 0.2, 0.3, 0.4],
         'output_mode': 'tf_idf',
         'vocabulary': ['earth', 'wind', 'and', 'fire']},
        None,
        ['Earth, wind and FIRE!', 'wind and rain'],
        ['[UNK]', 'earth', 'wind', 'and', 'fire'],
        [[0.0, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896,
          0.4000000059604645],
         [0.25, 0.0, 0.20000000298023224, 0.30000001192092896, 0.0]],
        'float32',
    ),
    ('scalar_input', {'vocabulary': ['earth', 'wind']}, None, 'earth wind fire',
        ['', '[UNK]', 'earth', 'wind'],
        [2, 3, 1],
        'int64',
    ),
    (
        'empty_texts',
        {'output_mode': 'count', 'vocabulary': ['earth', 'wind']},
        None,
        ['', ' '],
        ['[UNK]', 'earth', 'wind'],
        [[0, 0, 0], [0, 0, 0]],
        'int64',
    ),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_text_vectorization_matches_keras(case):
    _, kwargs, adapt, inputs, vocab, expected, dtype = case
    layer = TextVectorization(**kwargs)
    if adapt is not None:
        layer.adapt(adapt)
    assert layer.get_vocabulary() == vocab
    out = layer(inputs)
    assert str(out.dtype) == f"torch.{dtype}"
    np.testing.assert_allclose(out.cpu().numpy(), np.asarray(expected), rtol=1e-6)


# --- string handling ------------------------------------------------------------


def test_standardization_is_ascii_only_like_tensorflow():
    layer = TextVectorization(split=None, vocabulary=["x"])
    text, _ = layer._preprocess(["ÀB-C, d!"])
    assert text.tolist() == ["Àbc d"]


def test_whitespace_split_uses_ascii_whitespace_only():
    layer = TextVectorization(standardize=None, vocabulary=["x"])
    rows, _ = layer._preprocess(["a\tb\nc\u00a0d  e ", "f\x1cg h", " i\r\x0bj\x0c"])
    assert rows == [["a", "b", "c\u00a0d", "e"], ["f\x1cg", "h"], ["i", "j"]]


def test_ngrams_list_each_width_in_order():
    layer = TextVectorization(ngrams=3, vocabulary=["x"])
    rows, _ = layer._preprocess(["a b c", "d"])
    assert rows == [["a", "b", "c", "a b", "b c", "a b c"], ["d"]]


def test_callable_standardize_and_split_get_numpy_string_arrays():
    seen = []

    def standardize(texts):
        seen.append(type(texts))
        return np.char.replace(np.char.lower(texts), "-", " ")

    def split(texts):
        return [text.split("|") for text in texts]

    layer = TextVectorization(standardize=standardize, split=split)
    layer.adapt(["A-b|c", "c|C"])
    assert seen and all(t is np.ndarray for t in seen)
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "a b"]
    assert layer(["c|a-b|z"]).tolist() == [[2, 3, 1]]


def test_output_sequence_length_pads_and_cuts():
    layer = TextVectorization(vocabulary=["a", "b"], output_sequence_length=3)
    assert layer(["a b a b", "b", ""]).tolist() == [[2, 3, 2], [3, 0, 0], [0, 0, 0]]


def test_adapt_reads_a_generator_of_batches():
    layer = TextVectorization()
    layer.adapt(iter([np.array(["b a"]), np.array(["b c", "b"])]))
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "c", "a"]


def test_outputs_land_on_lamina_device():
    out = TextVectorization(vocabulary=["a"], output_mode="count")(["a a"])
    assert out.device.type == lamina.backend.get_device().type
    assert out.tolist() == [[0, 2]]


def test_compute_output_shape():
    assert TextVectorization(output_sequence_length=5).compute_output_shape(
        (None,)
    ) == (None, 5)
    layer = TextVectorization(max_tokens=7, pad_to_max_tokens=True, output_mode="count")
    assert layer.compute_output_shape((None,)) == (None, 7)
    layer = TextVectorization(vocabulary=["a", "b"], output_mode="multi_hot")
    assert layer.compute_output_shape((None, 1)) == (None, 3)


# --- config ------------------------------------------------------------------------

TEXT_VECTORIZATION_CONFIG_KEYS = {
    "name", "trainable", "dtype", "max_tokens", "standardize", "split", "ngrams",
    "output_mode", "output_sequence_length", "pad_to_max_tokens", "sparse", "ragged",
    "vocabulary", "idf_weights", "encoding", "vocabulary_size",
}  # fmt: skip


def test_config_has_keras_keys_and_rebuilds_the_layer():
    layer = TextVectorization(
        vocabulary=["earth", "wind"], ngrams=(1, 2), output_sequence_length=4
    )
    config = layer.get_config()
    assert set(config) == TEXT_VECTORIZATION_CONFIG_KEYS
    assert config["vocabulary"] == ["earth", "wind"] and config["vocabulary_size"] == 4
    config["ngrams"] = [1, 2]  # as JSON brings it back
    clone = TextVectorization.from_config(config)
    text = ["Earth wind, fire"]
    assert clone(text).tolist() == layer(text).tolist()


def test_adapted_vocabulary_travels_as_an_asset(tmp_path):
    layer = TextVectorization(output_mode="tf_idf")
    layer.adapt(["b a", "b"])
    store = {}
    layer.save_own_variables(store)
    layer.save_assets(str(tmp_path))
    clone = TextVectorization.from_config(layer.get_config())
    clone.load_own_variables(store)
    clone.load_assets(str(tmp_path))
    assert clone.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_allclose(
        clone(["a b q"]).cpu().numpy(), layer(["a b q"]).cpu().numpy()
    )


# --- errors ------------------------------------------------------------------------


def test_unknown_output_mode_names_the_choices_and_what_was_got():
    with pytest.raises(
        ValueError,
        match="one of 'int'.*'tf_idf'; got output_mode='counts'. Did you mean 'count'",
    ):
        TextVectorization(output_mode="counts")


@pytest.mark.parametrize("data", [[], ["", "  "], np.array([], dtype=str)])
def test_adapt_on_empty_data_raises(data):
    with pytest.raises(ValueError, match="expected texts with at least one token; got"):
        TextVectorization().adapt(data)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(standardize="upper"), "`standardize`.*got standardize='upper'"),
        (dict(split="comma"), "`split`.*got split='comma'"),
        (dict(ngrams=[1, 2]), "ngrams"),
        (
            dict(output_mode="count", output_sequence_length=3),
            "only with output_mode='int'",
        ),
        (dict(output_sequence_length=2.5), "None or an int"),
        (dict(ragged=True), "ragged=True"),
        (dict(sparse=True, output_mode="count"), "sparse=True"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TextVectorization(**kwargs)


def test_call_errors():
    with pytest.raises(
        ValueError, match=r"shape \(batch,\) or \(batch, 1\); got shape \(1, 2\)"
    ):
        TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="expects strings; got data of dtype"):
        TextVectorization(vocabulary=["a"])([1, 2])
    with pytest.raises(RuntimeError, match="needs its vocabulary"):
        TextVectorization(output_mode="count")(["a"])
    with pytest.raises(ValueError, match="vocabulary was given"):
        TextVectorization(vocabulary=["a"]).adapt(["a"])


def test_one_hot_with_a_split_encodes_each_token():
    # Keras's one_hot appends an axis to a token list: (batch, tokens, depth),
    # a one-hot row per token (index 0 for OOV "d"); padding rows are all zeros.
    layer = TextVectorization(vocabulary=["a", "b", "c"], output_mode="one_hot")
    out = layer(["a b", "c", "a d c"])
    expected = np.zeros((3, 3, 4), dtype="int64")
    for row, ids in enumerate([[1, 2], [3], [1, 0, 3]]):
        for col, index in enumerate(ids):
            expected[row, col, index] = 1
    np.testing.assert_array_equal(out.cpu().numpy(), expected)
    # One token per text still gets its token axis, as the split defines it.
    assert tuple(layer(["a", "b"]).shape) == (2, 1, 4)
    assert layer.compute_output_shape((None,)) == (None, None, 4)
    assert tuple(layer(lamina.Input(shape=(1,), dtype="string")).shape) == (
        None,
        None,
        4,
    )


# --- use with models ---------------------------------------------------------------

TEXTS = [
    "a great movie", "great fun", "truly great acting", "fun and great",
    "a boring movie", "boring plot", "truly boring acting", "dull and boring",
]  # fmt: skip
LABELS = np.array([[1.0]] * 4 + [[0.0]] * 4, dtype="float32")


def _classifier(width):
    model = lamina.Sequential(
        [lamina.Input(shape=(width,)), Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer=lamina.optimizers.Adam(0.1), loss="binary_crossentropy")
    return model


def test_vectorize_texts_then_fit_a_dense_model_on_multi_hot_vectors():
    # fit() turns its inputs into tensors, which strings cannot be: vectorize the
    # texts first, as Keras users do outside TensorFlow.
    vectorizer = TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(TEXTS)
    x = vectorizer(TEXTS)
    assert x.shape == (8, vectorizer.vocabulary_size()) and x.dtype == torch.int64
    # Keras's Dense promotes int inputs inside ops.matmul; cast explicitly here.
    x = x.to(torch.float32)
    model = _classifier(x.shape[1])
    history = model.fit(x, LABELS, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    new = vectorizer(["great great fun", "boring and dull"]).to(torch.float32)
    prediction = model.predict(new, verbose=0)
    assert prediction[0, 0] > 0.5 > prediction[1, 0]


def test_vectorize_inside_a_py_dataset():
    vectorizer = TextVectorization(output_mode="tf_idf")
    vectorizer.adapt(TEXTS)

    class Texts(lamina.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            rows = [0, 4, 1, 5] if index == 0 else [2, 6, 3, 7]
            return vectorizer([TEXTS[i] for i in rows]), LABELS[rows]

    model = _classifier(vectorizer.vocabulary_size())
    history = model.fit(Texts(), epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_builds_from_a_config_written_by_keras():
    # An adapted TextVectorization(ngrams=2).get_config() in Keras 3.15.1: the
    # vocabulary itself travels as an asset.
    keras_config = {
        "name": "text_vectorization",
        "trainable": True,
        "dtype": {
            "module": "keras",
            "class_name": "DTypePolicy",
            "config": {"name": "float32"},
            "registered_name": None,
        },
        "max_tokens": None,
        "standardize": "lower_and_strip_punctuation",
        "split": "whitespace",
        "ngrams": 2,
        "output_mode": "int",
        "output_sequence_length": None,
        "pad_to_max_tokens": False,
        "sparse": False,
        "ragged": False,
        "vocabulary": None,
        "idf_weights": None,
        "encoding": "utf-8",
        "vocabulary_size": 12,
    }
    layer = TextVectorization.from_config(keras_config)
    layer.set_vocabulary(["the", "cat", "the cat"])
    assert layer(["The cat!"]).tolist() == [[2, 3, 4]]
