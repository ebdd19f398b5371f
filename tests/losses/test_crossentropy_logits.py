"""Outputs of lamina's softmax/sigmoid carry `_keras_logits`; cross-entropies use
them for an exact, stable log. Simulated here with plain tensors."""

import math

import pytest
import torch

from lamina import losses, metrics


def _softmax_output(logits):
    out = torch.softmax(logits, dim=-1)
    out._keras_logits = logits
    return out


def _sigmoid_output(logits):
    out = torch.sigmoid(logits)
    out._keras_logits = logits
    return out


def test_categorical_crossentropy_uses_attached_logits_beyond_the_clip():
    logits = torch.tensor([[60.0, -60.0]], requires_grad=True)
    y_pred = _softmax_output(logits)
    out = losses.CategoricalCrossentropy()(torch.tensor([[0.0, 1.0]]), y_pred)
    # Exact value 120; clipping probabilities would cap it at -log(1e-7) ~ 16.1.
    assert float(out.detach()) == pytest.approx(120.0)
    out.backward()
    assert logits.grad is not None
    assert logits.grad[0].tolist() == pytest.approx([1.0, -1.0])


def test_sparse_categorical_crossentropy_uses_attached_logits():
    logits = torch.tensor([[60.0, -60.0, 0.0]])
    out = losses.sparse_categorical_crossentropy(
        torch.tensor([1]), _softmax_output(logits)
    )
    assert float(out[0]) == pytest.approx(120.0)


def test_binary_crossentropy_uses_attached_logits():
    logits = torch.tensor([[-40.0]])
    out = losses.BinaryCrossentropy()(torch.tensor([[1.0]]), _sigmoid_output(logits))
    assert float(out) == pytest.approx(40.0)


def test_in_range_values_agree_with_the_probability_formula():
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]])
    y_true = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    with_logits = losses.categorical_crossentropy(y_true, _softmax_output(logits))
    plain = losses.categorical_crossentropy(y_true, torch.softmax(logits, -1))
    torch.testing.assert_close(with_logits, plain, rtol=1e-5, atol=1e-6)
    b_logits = torch.tensor([[0.3, -1.2], [2.0, 0.1]])
    b_true = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    torch.testing.assert_close(
        losses.binary_crossentropy(b_true, _sigmoid_output(b_logits)),
        losses.binary_crossentropy(b_true, torch.sigmoid(b_logits)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_logits_survive_the_cast_to_the_loss_dtype():
    logits = torch.tensor([[60.0, -60.0]], dtype=torch.float64)
    y_pred = _softmax_output(logits)
    out = losses.CategoricalCrossentropy()(torch.tensor([[0.0, 1.0]]), y_pred)
    assert out.dtype == torch.float32 and float(out) == pytest.approx(120.0)


def test_logits_of_another_activation_are_ignored_when_labelled():
    logits = torch.tensor([[2.0, -1.0]])
    y_pred = _softmax_output(logits)
    y_pred._keras_logits_from = "softmax"
    y_true = torch.tensor([[1.0, 0.0]])
    out = losses.binary_crossentropy(y_true, y_pred)
    plain = losses.binary_crossentropy(y_true, torch.softmax(logits, -1))
    torch.testing.assert_close(out, plain)


def test_crossentropy_metrics_use_attached_logits_too():
    logits = torch.tensor([[60.0, -60.0]])
    metric = metrics.CategoricalCrossentropy()
    metric.update_state(torch.tensor([[0.0, 1.0]]), _softmax_output(logits))
    assert float(metric.result()) == pytest.approx(120.0)


def test_from_logits_true_ignores_attachments():
    logits = torch.tensor([[0.0, 0.0]])
    out = losses.categorical_crossentropy(
        torch.tensor([[0.0, 1.0]]), logits, from_logits=True
    )
    assert float(out[0]) == pytest.approx(math.log(2.0))


def test_binary_focal_crossentropy_uses_attached_logits_for_its_log():
    logits = torch.tensor([[-40.0]])
    out = losses.binary_focal_crossentropy(
        torch.tensor([[1.0]]), _sigmoid_output(logits), gamma=0.0
    )
    assert float(out[0]) == pytest.approx(40.0)
