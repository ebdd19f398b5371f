"""Losses behaving as Keras 3's own unit tests expect (session 9)."""

import os

import numpy as np
import pytest
import torch

from lamina import losses

os.environ.setdefault("KERAS_BACKEND", "torch")


class _Squares(losses.Loss):
    def call(self, y_true, y_pred):
        return (y_true - y_pred) ** 2


def test_a_numpy_keras_mask_on_y_pred_masks_the_loss():
    y_true = torch.tensor([1.0, 0.0, 1.0, 0.0])
    y_pred = torch.tensor([0.1, 0.2, 0.3, 0.4])
    y_pred._keras_mask = np.array([True, False, True, True])
    loss = _Squares()(y_true, y_pred)
    assert loss.dtype == torch.float32
    kept_true, kept_pred = np.array([1.0, 1.0, 0.0]), np.array([0.1, 0.3, 0.4])
    np.testing.assert_allclose(
        float(loss), np.sum((kept_true - kept_pred) ** 2) / 3, rtol=1e-6
    )


def test_an_all_false_numpy_mask_gives_zero_not_nan():
    y_pred = torch.tensor([0.1, 0.2])
    y_pred._keras_mask = np.array([False, False])
    assert float(_Squares()(torch.tensor([1.0, 0.0]), y_pred)) == 0.0


def test_a_numpy_mask_with_sample_weight_and_sum_matches_keras():
    keras = pytest.importorskip("keras")

    class KSquares(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return (y_true - y_pred) ** 2

    mask = np.array([True, False, True, True])
    weight = np.array([0.5, 1.0, 2.0, 1.0], "float32")
    y_true = np.array([1.0, 0.0, 1.0, 0.0], "float32")
    y_pred = np.array([0.1, 0.2, 0.3, 0.4], "float32")
    ours_pred = torch.tensor(y_pred)
    ours_pred._keras_mask = mask
    theirs_pred = keras.ops.convert_to_tensor(y_pred)
    theirs_pred._keras_mask = keras.ops.convert_to_tensor(mask)
    for reduction in ("sum", "sum_over_batch_size"):
        ours = _Squares(reduction=reduction)(y_true, ours_pred, sample_weight=weight)
        theirs = KSquares(reduction=reduction)(
            y_true, theirs_pred, sample_weight=weight
        )
        np.testing.assert_allclose(
            float(ours), float(keras.ops.convert_to_numpy(theirs)), rtol=1e-6
        )
