"""A Sequential model that starts with an Input refuses inputs it cannot take,
as Keras 3 does, instead of computing something else quietly."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def _model():
    return lamina.Sequential([lamina.Input((4,)), layers.Dense(2)])


def test_an_input_without_its_batch_axis_is_refused():
    model = _model()
    with pytest.raises(ValueError, match=r"Expected shape \(None, 4\).*\(4,\)"):
        model(torch.ones(4))
    with pytest.raises(ValueError, match=r"incompatible shape \(3, 2, 4\)"):
        model.predict(np.ones((3, 2, 4), "float32"), verbose=0)


def test_keras_one_axis_leeway_still_holds():
    column = lamina.Sequential([lamina.Input((1,)), layers.Dense(2)])
    assert tuple(column(torch.ones(5)).shape) == (5, 2)  # a column of values
    assert tuple(column(torch.ones(5, 1, 1)).shape) == (5, 2)
    assert tuple(_model()(torch.ones(5, 4)).shape) == (5, 2)


def test_a_dict_batch_names_the_expected_input():
    model = _model()
    batch = {"a": np.ones((2, 4), "float32")}
    with pytest.raises(ValueError, match="structure of `inputs`.*dict"):
        model.predict(batch, verbose=0)


def test_keras_signatures_of_compute_output_spec_and_rematerialized_call():
    model = _model()
    spec = model.compute_output_spec(inputs=lamina.KerasTensor((2, 4)))
    assert tuple(spec.shape) == (2, 2)
    dense = layers.Dense(2)  # Keras: `layer_call` on layers, `fn` on operations
    assert dense.rematerialized_call(layer_call=dense.call) == dense.call

    class Double(lamina.Operation):
        def call(self, x):
            return x * 2

    double = Double()
    assert double.rematerialized_call(fn=double.call) == double.call


def test_image_preprocessing_layers_take_inputs_as_a_keyword():
    # Keras's data layers define `__call__(self, inputs, **kwargs)`.
    images = np.ones((2, 8, 8, 3), "float32")
    assert tuple(layers.Resizing(4, 4)(inputs=images).shape) == (2, 4, 4, 3)
    assert tuple(layers.RandomFlip(seed=1)(inputs=images).shape) == (2, 8, 8, 3)
