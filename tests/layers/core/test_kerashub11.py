"""ReversibleEmbedding quantization details KerasHub's LLMs depend on
(expected values from Keras 3.15.1 on torch)."""

import numpy as np
import pytest

import lamina
from lamina import backend

W = np.arange(24, dtype="float32").reshape(6, 4) / 10 - 1.2
R = (np.arange(24, dtype="float32").reshape(4, 6) / 7 - 1.5) ** 2 - 1
H = np.array([[0.5, -1.0, 2.0, 0.25], [10.0, 3.0, -7.0, 1.0]], "float32")


def _quantized(mode, tie, config=None):
    layer = lamina.layers.ReversibleEmbedding(6, 4, tie_weights=tie)
    layer.build((None,))
    layer.set_weights([W] if tie else [W, R])
    layer.quantize(mode, config=config)
    return layer


# Keras 3.15.1: `quantize("int4")` resolves the default Int4QuantizationConfig
# (weight-only), so the reverse projection leaves its inputs in float.
KERAS_INT4_REVERSE = {
    False: [
        [-0.4776, -0.5143, -0.2571, 0.1102, 0.6735, 0.9551],
        [17.7796, 12.4571, 8.2286, 4.2612, -0.898, -3.8204],
    ],
    True: [
        [-1.62, -1.0, -0.3067, 0.375, 1.085, 1.8517],
        [-9.52, -6.4533, -3.68, -0.8, 2.1933, 4.62],
    ],
}


@pytest.mark.parametrize("tie", [False, True])
def test_int4_reverse_keeps_inputs_float_as_keras(tie):
    layer = _quantized("int4", tie)
    assert layer.inputs_quantizer is None
    logits = backend.convert_to_numpy(layer(H, reverse=True))
    np.testing.assert_allclose(logits, KERAS_INT4_REVERSE[tie], atol=2e-4)


def test_int8_reverse_still_quantizes_inputs():
    layer = _quantized("int8", False)
    assert layer.inputs_quantizer is not None
    logits = backend.convert_to_numpy(layer(H, reverse=True))
    expected = [
        [-0.6471, -0.445, -0.1665, 0.1705, 0.5825, 1.0921],
        [17.5747, 12.8084, 8.242, 4.0378, 0.158, -3.5758],
    ]
    np.testing.assert_allclose(logits, expected, atol=2e-4)


def test_untied_int4_variables_match_keras_layout():
    layer = _quantized("int4", False)
    got = [
        (v.path.split("/")[-1], tuple(v.shape), backend.standardize_dtype(v.dtype))
        for v in layer.weights
    ]
    # reverse_embeddings_zero is a float variable in Keras, unlike the lookup's
    # int8 embeddings_zero; files written by either side carry these dtypes.
    assert got == [
        ("embeddings", (6, 2), "int8"),
        ("embeddings_scale", (6, 1), "float32"),
        ("embeddings_zero", (6, 1), "int8"),
        ("g_idx", (4,), "float32"),
        ("reverse_embeddings", (2, 6), "int8"),
        ("reverse_embeddings_scale", (1, 6), "float32"),
        ("reverse_embeddings_zero", (1, 6), "float32"),
    ]
    np.testing.assert_array_equal(
        backend.convert_to_numpy(layer.reverse_embeddings_zero),
        [[-2.0, 0.0, 0.0, -2.0, -2.0, -3.0]],
    )
