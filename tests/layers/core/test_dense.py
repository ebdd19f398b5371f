import numpy as np
import pytest

import lamina
from lamina import layers


def test_output_is_inputs_times_kernel_plus_zero_bias():
    layer = layers.Dense(2, kernel_initializer="ones")
    out = layer(np.array([[1.0, 2.0, 3.0]], dtype="float32"))
    np.testing.assert_allclose(out.detach().cpu().numpy(), [[6.0, 6.0]])


def test_kernel_has_keras_layout_in_out():
    layer = layers.Dense(5)
    layer(np.ones((2, 3), "float32"))
    assert [tuple(w.shape) for w in layer.get_weights()] == [(3, 5), (5,)]


def test_activation_and_no_bias():
    layer = layers.Dense(
        1,
        activation="relu",
        use_bias=False,
        kernel_initializer=lamina.initializers.Constant(-1.0),
    )
    out = layer(np.array([[1.0, 1.0]], "float32"))
    assert out.item() == 0.0
    assert len(layer.weights) == 1


def test_applies_to_the_last_axis_of_rank_3_inputs():
    out = layers.Dense(4)(np.ones((2, 5, 3), "float32"))
    assert tuple(out.shape) == (2, 5, 4)


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_rejects_units_that_are_not_positive_ints(units):
    with pytest.raises(ValueError, match="positive int.*got units="):
        layers.Dense(units)


def test_constraint_is_attached_to_the_kernel_for_the_optimizer():
    layer = layers.Dense(2, kernel_constraint="non_neg")
    layer(np.ones((1, 2), "float32"))
    assert layer.kernel.constraint is not None


def test_config_round_trip_keeps_every_argument():
    layer = layers.Dense(
        3,
        activation="tanh",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=lamina.regularizers.L1L2(0.1, 0.2),
    )
    clone = layers.Dense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_symbolic_call_infers_output_shape():
    out = layers.Dense(7)(lamina.Input((3,)))
    assert out.shape == (None, 7)


def test_integer_inputs_are_promoted_to_float_like_keras():
    out = layers.Dense(2, kernel_initializer="ones")(np.array([[1, 2]], "int64"))
    np.testing.assert_allclose(out.detach().cpu().numpy(), [[3.0, 3.0]])
