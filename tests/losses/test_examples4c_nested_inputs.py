"""A Loss called with lists or dicts of tensors gets each tensor converted,
as Keras does (found running the keras-io GauGAN example: a feature-matching
loss over the discriminator's list of feature maps)."""

import numpy as np
import pytest
import torch

import lamina as keras


class FeatureMatching(keras.losses.Loss):
    """Mean absolute error summed over paired feature maps."""

    def call(self, y_true, y_pred):
        pairs = (
            zip(y_true.values(), y_pred.values())
            if isinstance(y_pred, dict)
            else zip(y_true, y_pred)
        )
        self.seen = (type(y_true), type(y_pred), [b.dtype for _, b in pairs])
        pairs = (
            zip(y_true.values(), y_pred.values())
            if isinstance(y_pred, dict)
            else zip(y_true, y_pred)
        )
        return sum(keras.ops.mean(keras.ops.abs(a - b)) for a, b in pairs)


def _maps():
    rng = np.random.default_rng(0)
    real = [rng.random((2, 3)), rng.random((2, 4, 4)).astype("float32")]
    fake = [keras.ops.ones((2, 3)), np.ones((2, 4, 4), "int32")]
    expected = sum(np.mean(np.abs(r - 1.0)) for r in real)
    return real, fake, expected


@pytest.mark.parametrize("container", [list, tuple])
def test_sequence_of_feature_maps(container):
    real, fake, expected = _maps()
    loss = FeatureMatching()
    value = loss(container(real), container(fake))
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)
    assert loss.seen[:2] == (container, container)
    assert loss.seen[2] == [torch.float32, torch.float32]


def test_dict_of_feature_maps():
    real, fake, expected = _maps()
    loss = FeatureMatching()
    value = loss({"a": real[0], "b": real[1]}, {"a": fake[0], "b": fake[1]})
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)
    assert loss.seen[2] == [torch.float32, torch.float32]


def test_nested_inputs_gradients_flow():
    real, _, _ = _maps()
    fake = [
        torch.zeros(2, 3, requires_grad=True),
        torch.zeros(2, 4, 4, requires_grad=True),
    ]
    FeatureMatching()(real, fake).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in fake)


def test_plain_number_lists_are_still_one_tensor():
    mse = keras.losses.MeanSquaredError()
    np.testing.assert_allclose(float(mse([0.0, 1.0], [0.2, 0.8])), 0.04, rtol=1e-6)
    sce = keras.losses.SparseCategoricalCrossentropy()
    value = sce([1, 0], [[0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_allclose(float(value), -np.mean(np.log([0.8, 0.6])), rtol=1e-5)
