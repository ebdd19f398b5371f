"""abs_max_quantize's scale is a true division, as Keras's ops.divide (found
on KerasHub's int8 Mistral, where a one-ulp scale flipped a .5 rounding)."""

import numpy as np

from lamina import backend, quantizers


def test_abs_max_scale_is_exact_division():
    x = np.random.default_rng(0).random((2000, 8), dtype=np.float32) * 3 - 1.5
    q, scale = quantizers.abs_max_quantize(x, axis=-1)
    amax = np.abs(x).max(axis=-1, keepdims=True) + np.float32(1e-7)
    expected = np.float32(127) / amax  # IEEE float32 division
    np.testing.assert_array_equal(backend.convert_to_numpy(scale), expected)
    values = np.clip(np.round(x * expected), -127, 127).astype("int8")
    np.testing.assert_array_equal(backend.convert_to_numpy(q), values)


def test_abs_max_quantizer_matches_numpy_path():
    x = np.random.default_rng(1).standard_normal((500, 16)).astype("float32")
    quantizer = quantizers.AbsMaxQuantizer()
    q_t, s_t = quantizer(x)
    q_n, s_n = quantizer(x, to_numpy=True)
    np.testing.assert_array_equal(
        backend.convert_to_numpy(s_t), backend.convert_to_numpy(s_n)
    )
    np.testing.assert_array_equal(
        backend.convert_to_numpy(q_t), backend.convert_to_numpy(q_n)
    )
