"""Keras's rule for positional arguments after the first: tensors, arrays and
None pass; numbers, strings, flags and containers of them raise ValueError."""

import os

import numpy as np
import pytest
import torch

import lamina as keras

os.environ.setdefault("KERAS_BACKEND", "torch")

_X = np.ones((2, 3), "float32")
_CASES = {
    "int": 3,
    "float": 2.5,
    "str": "a",
    "none": None,
    "bool": True,
    "array": np.ones((2,)),
    "arrays": [_X, _X],
    "tuple_of_ints": (1, 2),
    "dict_of_int": {"a": 1},
    "tensor": torch.ones(2),
}


def _layer(lib):
    class Extra(lib.layers.Layer):
        def call(self, x, y=None):
            return x

    return Extra()


@pytest.mark.parametrize("case", sorted(_CASES))
def test_second_positional_argument_like_keras(case):
    keras3 = pytest.importorskip("keras")
    value = _CASES[case]

    def outcome(lib):
        try:
            _layer(lib)(_X, value)
        except ValueError as error:
            assert "positional arguments" in str(error)
            return "ValueError"
        return "ok"

    assert outcome(keras) == outcome(keras3)


def test_symbolic_call_checks_too():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="keyword argument: 3 .of type int"):
        _layer(keras)(inputs, 3)


def test_functional_model_refuses_a_positional_flag():
    # Keras raises too (TypeError: multiple values for 'training'); lamina
    # says which keyword was meant.
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dropout(0.5)(inputs))
    with pytest.raises(ValueError, match="training=True"):
        model(np.ones((4, 3), "float32"), True)
