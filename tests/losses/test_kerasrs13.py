"""Losses called with nested labels, as KerasRS's ranking losses are
(`y_true={"labels": ..., "mask": ...}` against one score tensor): Keras converts
every leaf of `y_true` to the loss dtype before `call`. Expected values were
computed with Keras 3.15.1 (torch backend)."""

import numpy as np
import pytest
import torch

from lamina import losses, ops

Y_PRED = np.array([[0.5, 1.0, 2.0], [1.0, 0.0, -1.0]], "float32")
LABELS = np.array([[1, 0, 2], [0, 1, 1]], "int32")
MASK = np.array([[True, False, True], [True, True, False]])


class _MaskedSquares(losses.Loss):
    def call(self, y_true, y_pred):
        self.seen = (y_true["labels"].dtype, y_true["mask"].dtype)
        return ops.sum(ops.square(y_true["labels"] - y_pred) * y_true["mask"], axis=-1)


class _PairAbs(losses.Loss):
    def call(self, y_true, y_pred):
        a, b = y_true
        self.seen = (a.dtype, b.dtype)
        return ops.mean(ops.abs(a - y_pred) * b, axis=-1)


def test_dict_labels_each_leaf_becomes_a_float_tensor():
    loss = _MaskedSquares()
    out = loss({"labels": LABELS, "mask": MASK}, Y_PRED)
    assert float(out) == pytest.approx(1.125)
    assert loss.seen == (torch.float32, torch.float32)


def test_dict_labels_with_sample_weight_and_no_reduction():
    loss = _MaskedSquares(reduction="none")
    out = loss(
        {"labels": LABELS, "mask": MASK}, Y_PRED, sample_weight=np.array([2.0, 0.5])
    )
    np.testing.assert_allclose(ops.convert_to_numpy(out), [0.5, 1.0])


def test_tuple_labels_and_loss_dtype():
    loss = _PairAbs()
    out = loss((LABELS, MASK.astype("float64")), Y_PRED)
    assert float(out) == pytest.approx(0.41666669)
    assert loss.seen == (torch.float32, torch.float32)
    loss64 = _MaskedSquares(dtype="float64")
    assert float(loss64({"labels": LABELS, "mask": MASK}, Y_PRED)) == pytest.approx(
        1.125
    )
    assert loss64.seen == (torch.float64, torch.float64)


def test_tensor_labels_in_a_dict_keep_their_device_and_values():
    loss = _MaskedSquares()
    y_true = {"labels": torch.tensor(LABELS), "mask": torch.tensor(MASK)}
    assert float(loss(y_true, torch.tensor(Y_PRED))) == pytest.approx(1.125)


def test_fit_with_dict_targets_through_compute_loss():
    # A model whose compute_loss hands {"labels", "mask"} targets to a custom
    # loss (KerasRS's masked-list pattern); history and weights from Keras.
    import lamina as keras

    class Ranker(keras.Model):
        def compute_loss(self, x, y, y_pred, sample_weight, training=True):
            return self.rank_loss(y, y_pred, sample_weight)

    inp = keras.Input((2,))
    out = keras.layers.Dense(3, kernel_initializer="ones", bias_initializer="zeros")(
        inp
    )
    model = Ranker(inp, out)
    model.rank_loss = _MaskedSquares()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.5, -1.0]], "float32")
    y = {
        "labels": np.array([[1, 0, 2], [0, 1, 1], [2, 2, 0], [1, 0, 0]], "int32"),
        "mask": np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]], bool),
    }
    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [3.225625, 1.690608], rtol=1e-5)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(
        kernel, [[1.111488, 1.0975, 0.846906], [0.204025, 0.6915, 0.545188]], atol=1e-5
    )
    np.testing.assert_allclose(bias, [-0.064525, -0.0255, -0.125437], atol=1e-5)
