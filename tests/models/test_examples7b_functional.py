"""Regression tests from the keras-io examples sweep 7B (functional models)."""

import pytest

import lamina as keras
from lamina import layers


def _five_stage_image_model():
    # Five valid stride-2 convolutions: no single probe size up to 48 gets
    # through them, as with MobileNet on images of unknown size.
    inputs = keras.Input((None, None, 3))
    x = inputs
    for filters in (4, 4, 8, 8, 8):
        x = layers.Conv2D(filters, 3, strides=2)(x)
    outputs = layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, outputs)


def test_image_model_called_on_unknown_spatial_sizes():
    # audio/stft: MobileNet(include_top=False) called on spectrograms of
    # unknown length.
    model = _five_stage_image_model()
    inputs = keras.Input((None, 1))
    spec = layers.STFTSpectrogram(
        frame_length=32, frame_step=8, fft_length=128, padding="same", expand_dims=True
    )(inputs)
    x = layers.Concatenate()([spec, spec, spec])
    assert tuple(x.shape) == (None, None, 65, 3)
    out = model(x)
    assert tuple(out.shape) == (None, 8)
    head = layers.Dense(2)(out)
    outer = keras.Model(inputs, head)
    y = outer(keras.ops.ones((2, 1600, 1)))
    assert tuple(y.shape) == (2, 2)


def test_graph_walk_keeps_the_known_sizes():
    model = _five_stage_image_model()
    out = model(keras.Input(batch_shape=(5, None, 64, 3)))
    assert tuple(out.shape) == (5, 8)


def test_wrong_input_still_raises():
    model = _five_stage_image_model()
    with pytest.raises(ValueError):
        model(keras.Input((None, None, 4)))
