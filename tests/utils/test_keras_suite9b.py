"""Differences found running Keras 3's own utils, random and backend/common
tests against lamina: symbolic tensors refuse iteration and NumPy conversion,
and errors carry Keras's key phrases."""

import os

import numpy as np
import pytest

import lamina
from lamina import utils
from lamina.backend.keras_tensor import KerasTensor
from lamina.backend.naming import name_scope

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


# --- KerasTensor -----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (None, 4)])
def test_keras_tensor_cannot_be_iterated(shape):
    # Python's fallback iteration through __getitem__ used to yield the slices
    # shape inference's probe happened to have (2 for a `None` batch axis).
    with pytest.raises(NotImplementedError):
        iter(keras.KerasTensor(shape))
    with pytest.raises(
        NotImplementedError, match="Iterating over a symbolic KerasTensor"
    ):
        list(KerasTensor(shape))
    with pytest.raises(NotImplementedError):
        _first, _second = lamina.Input((2,))


def test_keras_tensor_cannot_become_a_numpy_array():
    with pytest.raises(ValueError, match="doesn't have any actual numerical value"):
        np.array(keras.KerasTensor((3,)))
    with pytest.raises(ValueError, match="doesn't have any actual numerical value"):
        np.array(KerasTensor((3,)))
    with pytest.raises(ValueError, match="doesn't have any actual numerical value"):
        np.asarray([lamina.Input((2,))])


def test_keras_tensor_bool_error_says_boolean():
    with pytest.raises(TypeError, match="cannot be used as a boolean"):
        bool(KerasTensor((3, 4)))


def test_keras_tensor_operators_still_build_graph_nodes():
    x = lamina.Input((3,))
    y = (x[:, :2] * 2.0) + 1.0
    assert isinstance(y, KerasTensor) and y.shape == (None, 2)
    parts = lamina.ops.unstack(lamina.Input((2, 3)), axis=1)
    assert [p.shape for p in parts] == [(None, 3), (None, 3)]


# --- backend scopes and dtypes ---------------------------------------------------


@pytest.mark.parametrize("name", ["foo/bar", 4])
def test_name_scope_rejects_bad_names_with_keras_phrase(name):
    with pytest.raises(ValueError, match="must be a string"):
        name_scope(name)


def test_result_type_float8_message_has_keras_phrase():
    with pytest.raises(
        ValueError, match="There is no implicit conversions from float8 dtypes"
    ):
        lamina.backend.result_type("float8_e4m3fn", "bfloat16")


def test_stateless_scope_mapping_errors_have_keras_phrases():
    v = lamina.Variable(np.zeros(2, "float32"))
    with pytest.raises(
        ValueError, match="all keys in argument `mapping` must be Variable"
    ):
        lamina.StatelessScope(state_mapping=[("not_a_variable", np.ones(2))])
    with pytest.raises(
        ValueError, match="all values in argument `mapping` must be tensors with"
    ):
        lamina.StatelessScope(state_mapping=[(v, np.ones(3, "float32"))])


def test_seed_generator_rejects_a_non_int_seed_with_keras_phrase():
    with pytest.raises(ValueError, match="Argument `seed` must be an integer"):
        lamina.random.SeedGenerator(seed="invalid_seed")
    with pytest.raises(ValueError, match="Argument `seed` must be an integer"):
        keras.random.SeedGenerator(seed="invalid_seed")


# --- utils -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        ({"start_index": -1}, "`start_index` must be "),
        ({"start_index": 11}, "`start_index` must be "),
        ({"end_index": -1}, "`end_index` must be "),
        ({"end_index": 11}, "`end_index` must be "),
        ({"sampling_rate": 0}, "`sampling_rate` must be "),
        ({"sequence_stride": 0}, "`sequence_stride` must be "),
        ({"format": "invalid"}, "`format` should be"),
    ],
)
def test_timeseries_argument_errors_have_keras_phrases(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        keras.utils.timeseries_dataset_from_array(np.arange(10), None, 3, **kwargs)
    with pytest.raises(ValueError, match=phrase):
        utils.timeseries_dataset_from_array(np.arange(10), None, 3, **kwargs)


def test_pad_sequences_text_value_with_int_dtype_has_keras_phrase():
    with pytest.raises(ValueError, match="`dtype` int32 is not compatible with"):
        utils.pad_sequences([["a", "b"], ["c"]], value="pad")


def test_progbar_refuses_both_metric_lists_with_keras_phrase():
    with pytest.raises(ValueError, match="Only one of"):
        utils.Progbar(10, stateful_metrics=["a"], stateless_metrics=["b"])


def test_get_file_hash_mismatch_says_incomplete_or_corrupted(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("hello")
    with pytest.raises(ValueError, match="Incomplete or corrupted file"):
        utils.get_file(
            "copy.txt",
            origin=source.as_uri(),
            file_hash="0" * 64,
            cache_dir=str(tmp_path / "cache"),
        )
    assert not (tmp_path / "cache" / "datasets" / "copy.txt").exists()
