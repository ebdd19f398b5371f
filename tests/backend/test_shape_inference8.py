"""Symbolic shapes of computations that downsample unknown sizes hard: the two
small probe sizes (2 and 3) both shrink to 1, so only a third, large probe
shows that the axis still varies (Keras reports None there)."""

import numpy as np
import pytest

import lamina as keras
from lamina import layers, ops


class _StridedReshape(keras.Model):
    def __init__(self, stride):
        super().__init__()
        self.conv = layers.Conv2D(4, 3, strides=stride, padding="same")

    def call(self, x):
        y = self.conv(x)
        return ops.reshape(y, [ops.shape(x)[0], -1, 4])


@pytest.mark.parametrize("stride", [2, 4, 8])
def test_reshape_after_strided_conv_keeps_unknown_length(stride):
    out = _StridedReshape(stride)(keras.Input((None, None, 3)))
    assert out.shape == (None, None, 4)


def test_known_sizes_stay_known_next_to_unknown_ones():
    class Pool(layers.Layer):
        def call(self, x):
            return ops.max_pool(x, pool_size=(8, 1), strides=(8, 1))

    out = Pool()(keras.Input((None, 5, 2)))
    assert out.shape == (None, None, 5, 2)
    # Eager results agree with what the symbolic shape promised.
    assert Pool()(np.zeros((2, 64, 5, 2), "float32")).shape == (2, 8, 5, 2)


def test_a_size_the_large_probe_does_not_divide_falls_back_to_small_probes():
    class PairUp(layers.Layer):
        def call(self, x):
            return ops.reshape(x, (-1, 2))  # needs an even count of elements

    out = PairUp()(keras.Input((None, 4)))
    assert out.shape == (None, 2)


def test_matches_keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    k = pytest.importorskip("keras")

    class KModel(k.Model):
        def __init__(self):
            super().__init__()
            self.conv = k.layers.Conv2D(4, 3, strides=8, padding="same")

        def call(self, x):
            return k.ops.reshape(self.conv(x), [k.ops.shape(x)[0], -1, 4])

    expected = KModel()(k.Input((None, None, 3))).shape
    assert _StridedReshape(8)(keras.Input((None, None, 3))).shape == expected


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((None, 3), (2, None), (2, 3)),
        ((None, None), (5, 1), (5, None)),
        ((None, 1, 4), (3, None, 1), (3, None, 4)),
    ],
)
def test_unknown_sizes_broadcast_against_known_ones(a, b, expected, capfd):
    # Probes 2 and 3 both refuse to broadcast with the known 2/5/3; a last
    # probe of 1 does (Keras's symbolic broadcasting gives the same shapes),
    # and torch's log of the refused probes stays quiet.
    out = ops.add(keras.KerasTensor(a), keras.KerasTensor(b))
    assert out.shape == expected
    assert "failed while attempting to run meta" not in capfd.readouterr().err


def test_a_real_mismatch_still_raises():
    with pytest.raises(RuntimeError):
        ops.add(keras.KerasTensor((None, 3)), keras.KerasTensor((None, 4)))
