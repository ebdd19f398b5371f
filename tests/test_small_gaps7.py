"""Small Keras-parity gaps found in session 7."""

import pytest

import lamina


def test_a_dtype_config_without_class_name_is_refused_where_it_is_given():
    # Keras raises ValueError at construction; lamina failed later with an
    # AttributeError on the half-made policy.
    with pytest.raises(ValueError, match="dtype policy config"):
        lamina.layers.Dense(2, dtype={"config": {"name": "float32"}})
    layer = lamina.layers.Dense(
        2, dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}
    )
    assert layer.compute_dtype == "float16" and layer.dtype == "float32"


def test_unknown_layer_arguments_raise_value_error_as_in_keras():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments.*'unitz'"):
        lamina.layers.Dense(2, unitz=3)
