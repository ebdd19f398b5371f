import numpy as np
import pytest

import lamina
from lamina.layers.core.einsum_dense import EinsumDense

X = np.random.default_rng(2).normal(size=(2, 3, 5)).astype("float32")


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, kernel_shape, bias_shape, out_shape",
    [
        ("abc,cd->abd", (None, 4), "d", (5, 4), (4,), (2, 3, 4)),
        ("abc,cde->abde", (None, 2, 3), "de", (5, 2, 3), (2, 3), (2, 3, 2, 3)),
        ("abc,cde->abde", (None, 2, 3), "d", (5, 2, 3), (2, 1), (2, 3, 2, 3)),
        ("...b,bc->...c", 4, "c", (5, 4), (4,), (2, 3, 4)),
        ("ab...,bd->ad...", (4,), "d", (3, 4), (4, 1), (2, 4, 5)),
        ("abc,cd->abd", (None, 4), None, (5, 4), None, (2, 3, 4)),
    ],
)
def test_shapes_and_values_follow_the_equation(
    equation, output_shape, bias_axes, kernel_shape, bias_shape, out_shape
):
    layer = EinsumDense(
        equation, output_shape, bias_axes=bias_axes, bias_initializer="random_normal"
    )
    out = layer(X)
    assert tuple(layer.kernel.shape) == kernel_shape
    assert (None if layer.bias is None else tuple(layer.bias.shape)) == bias_shape
    assert tuple(out.shape) == out_shape
    assert layer.compute_output_shape(X.shape) == out_shape
    expected = np.einsum(equation, X, layer.get_weights()[0])
    if bias_shape is not None:
        expected = expected + layer.get_weights()[1]
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), expected, rtol=1e-5, atol=1e-5
    )


def test_activation_config_and_fan_axes():
    layer = EinsumDense("abc,cde->abde", (None, 2, 8), activation="relu")
    out = layer(X)
    assert float(out.detach().min()) >= 0.0
    config = layer.get_config()
    assert config["output_shape"] == (None, 2, 8)
    assert config["kernel_initializer"]["config"]["input_axes"] is None
    assert EinsumDense.from_config(config).get_config() == config
    # Glorot fans over the (in, heads * units) axes: limit sqrt(6 / (5 + 16)),
    # wider than the conv-style fans' sqrt(6 / (10 + 40)).
    largest = float(layer.kernel.detach().abs().max())
    assert np.sqrt(6 / 50) < largest <= np.sqrt(6 / 21)


def test_symbolic_call():
    out = EinsumDense("abc,cd->abd", (None, 7), bias_axes="d")(lamina.Input((3, 5)))
    assert out.shape == (None, 3, 7)


@pytest.mark.parametrize("equation", ["abc->abd", "ab,bc", "a...b,bc->a...c"])
def test_rejects_malformed_equations(equation):
    with pytest.raises(ValueError, match="invalid equation"):
        EinsumDense(equation, 4)


def test_rejects_bias_axes_not_in_the_output():
    with pytest.raises(ValueError, match="bias axis 'x'"):
        EinsumDense("abc,cd->abd", (None, 4), bias_axes="x")(X)
