"""lamina.backend's result_type, is_int_dtype, is_keras_tensor and get_uid,
against Keras 3."""

import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import backend  # noqa: E402

keras = pytest.importorskip("keras")

DTYPES = [
    "bool",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "bfloat16",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
OPERANDS = DTYPES + [int, float, None]


@pytest.fixture
def floatx():
    def set_both(value):
        backend.set_floatx(value)
        keras.backend.set_floatx(value)

    yield set_both
    set_both("float32")


def _keras_or_error(*dtypes):
    try:
        return keras.backend.result_type(*dtypes)
    except ValueError:
        return ValueError


def _ours_or_error(*dtypes):
    try:
        return backend.result_type(*dtypes)
    except ValueError:
        return ValueError


@pytest.mark.parametrize("floatx_value", ["float32", "float16", "float64"])
def test_result_type_of_every_pair_matches_keras(floatx, floatx_value):
    floatx(floatx_value)
    for a, b in itertools.product(OPERANDS, repeat=2):
        assert _ours_or_error(a, b) == _keras_or_error(a, b), (a, b)


def test_result_type_of_single_and_triple_dtypes_matches_keras():
    for a in OPERANDS:
        assert _ours_or_error(a) == _keras_or_error(a), a
    for combo in itertools.combinations(OPERANDS, 3):
        assert _ours_or_error(*combo) == _keras_or_error(*combo), combo


@pytest.mark.parametrize(
    "dtypes, expected",
    [
        ((), "float32"),
        (("uint8", "int8"), "int16"),
        (("int8", int), "int8"),
        (("bfloat16", "float16"), "float32"),
        (("float64", "float64"), "float32"),
        ((torch.int16, np.dtype("float16")), "float16"),
        ((int, float), "float32"),
    ],
)
def test_result_type_examples(dtypes, expected):
    assert backend.result_type(*dtypes) == expected


def test_result_type_rejects_unknown_dtypes():
    with pytest.raises(ValueError, match="Unknown dtype 'strange'"):
        backend.result_type("float32", "strange")


@pytest.mark.parametrize("dtype", DTYPES + [torch.int32, np.uint8, "int"])
def test_is_int_dtype_matches_keras(dtype):
    assert backend.is_int_dtype(dtype) == keras.backend.is_int_dtype(dtype)


def test_is_int_dtype_rejects_unknown_dtypes():
    with pytest.raises(ValueError, match="Unknown dtype"):
        backend.is_int_dtype("int3")


def test_is_keras_tensor():
    symbolic = lamina.Input((3,))
    assert backend.is_keras_tensor(symbolic)
    assert backend.is_keras_tensor(lamina.layers.Dense(2)(symbolic))
    assert not backend.is_keras_tensor(torch.ones(3))
    assert not backend.is_keras_tensor(np.ones(3))


def test_get_uid_counts_per_prefix_and_resets_with_clear_session():
    assert [backend.get_uid("block") for _ in range(3)] == [1, 2, 3]
    assert backend.get_uid("other") == 1
    assert backend.get_uid() == 1
    backend.clear_session()
    assert backend.get_uid("block") == 1


def test_get_uid_shares_counters_with_layer_names_as_keras_does():
    keras.backend.clear_session()
    first = lamina.layers.Dense(2).name
    uid = backend.get_uid("dense")
    second = lamina.layers.Dense(2).name
    keras_first = keras.layers.Dense(2).name
    keras_uid = keras.backend.get_uid("dense")
    keras_second = keras.layers.Dense(2).name
    assert (first, uid, second) == (keras_first, keras_uid, keras_second)
    assert (first, uid, second) == ("dense", 2, "dense_2")


def test_int_spellings_standardize_as_keras_does():
    for spelling in ("int", int, "int32", "float32", float, "bool", bool):
        assert lamina.backend.standardize_dtype(spelling) == (
            keras.backend.standardize_dtype(spelling)
        ), spelling
    assert lamina.ops.ones((2,), dtype="int").dtype == torch.int32
