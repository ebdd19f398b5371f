import numpy as np
import pytest
import torch

from lamina import losses
from lamina.losses.loss import reduce_weighted_values, squeeze_or_expand_to_same_rank

Y_TRUE = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], dtype="float32")
Y_PRED = np.array([[1.0, 1.0], [1.0, 3.0], [2.0, 2.0]], dtype="float32")
# Per-sample mean squared errors: [1, 2, 0].


@pytest.mark.parametrize(
    "reduction,expected",
    [
        ("sum_over_batch_size", 1.0),
        ("mean", 1.0),
        ("sum", 3.0),
        ("mean_with_sample_weight", 1.0),
        ("none", [1.0, 2.0, 0.0]),
        (None, [1.0, 2.0, 0.0]),
    ],
)
def test_reductions_without_weights(reduction, expected):
    loss = losses.MeanSquaredError(reduction=reduction)
    np.testing.assert_allclose(loss(Y_TRUE, Y_PRED).cpu().numpy(), expected)


@pytest.mark.parametrize(
    "reduction,expected",
    [
        ("sum_over_batch_size", (1 * 2 + 2 * 0.5 + 0) / 3),
        ("sum", 1 * 2 + 2 * 0.5),
        ("mean_with_sample_weight", (1 * 2 + 2 * 0.5) / (2 + 0.5 + 4)),
        ("none", [2.0, 1.0, 0.0]),
    ],
)
def test_reductions_with_sample_weights(reduction, expected):
    loss = losses.MeanSquaredError(reduction=reduction)
    out = loss(Y_TRUE, Y_PRED, sample_weight=np.array([2.0, 0.5, 4.0]))
    np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=1e-6)


def test_column_sample_weights_give_column_losses_as_in_keras():
    loss = losses.MeanSquaredError(reduction="none")
    out = loss(Y_TRUE, Y_PRED, sample_weight=np.array([[2.0], [0.5], [4.0]]))
    np.testing.assert_allclose(out.cpu().numpy(), [[2.0], [1.0], [0.0]])
    total = losses.MeanSquaredError()(
        Y_TRUE, Y_PRED, sample_weight=np.array([[2.0], [0.5], [4.0]])
    )
    assert float(total) == pytest.approx(1.0)


def test_per_sample_weights_scale_every_timestep_of_sequence_losses():
    y_true = torch.zeros(2, 3, 1)
    y_pred = torch.ones(2, 3, 1)
    loss = losses.MeanSquaredError(reduction="sum")
    # Per-timestep losses (2, 3) of ones; weight 1 for sample 0, 3 for sample 1.
    out = loss(y_true, y_pred, sample_weight=torch.tensor([1.0, 3.0]))
    assert float(out) == 3 * 1 + 3 * 3


def test_scalar_loss_is_returned_unreduced():
    values = torch.tensor(2.5)
    assert reduce_weighted_values(values, reduction="sum_over_batch_size") is values


def test_empty_batch_gives_zero_not_nan():
    out = losses.MeanSquaredError()(np.zeros((0, 2)), np.zeros((0, 2)))
    assert out.numel() == 0 or float(out) == 0.0


def test_mask_on_predictions_averages_over_valid_entries_only():
    y_pred = torch.tensor([[1.0], [3.0], [5.0]])
    y_pred._keras_mask = torch.tensor([True, True, False])
    out = losses.MeanSquaredError()(torch.zeros(3, 1), y_pred)
    assert float(out) == pytest.approx((1 + 9) / 2)


def test_squeeze_or_expand_follows_keras_rules():
    a, b = squeeze_or_expand_to_same_rank(torch.zeros(4), torch.zeros(4, 1))
    assert (tuple(a.shape), tuple(b.shape)) == ((4, 1), (4, 1))
    a, b = squeeze_or_expand_to_same_rank(torch.zeros(4, 5), torch.zeros(4, 5, 1))
    assert (tuple(a.shape), tuple(b.shape)) == ((4, 5), (4, 5))
    a, b = squeeze_or_expand_to_same_rank(
        torch.zeros(4), torch.zeros(4, 1), expand_rank_1=False
    )
    assert (tuple(a.shape), tuple(b.shape)) == ((4,), (4,))
    a, b = squeeze_or_expand_to_same_rank(torch.zeros(4, 3), torch.zeros(4))
    assert (tuple(a.shape), tuple(b.shape)) == ((4, 3), (4,))


@pytest.mark.parametrize("reduction", ["avg", "SUM", 0])
def test_unknown_reduction_is_rejected_with_the_choices(reduction):
    with pytest.raises(ValueError, match="Invalid reduction.*sum_over_batch_size"):
        losses.MeanSquaredError(reduction=reduction)


def test_loss_runs_in_the_configured_dtype():
    loss = losses.MeanSquaredError(dtype="float64")
    out = loss(torch.zeros(2, 2, dtype=torch.float32), torch.ones(2, 2))
    assert out.dtype == torch.float64 and loss.dtype == "float64"


def test_integer_and_float64_inputs_become_float32():
    out = losses.MeanAbsoluteError()(np.array([[1], [2]]), np.array([[1.5], [2.5]]))
    assert out.dtype == torch.float32 and float(out) == pytest.approx(0.5)


def test_gradient_flows_to_predictions():
    y_pred = torch.tensor([[0.2, 0.8]], requires_grad=True)
    losses.CategoricalCrossentropy()(torch.tensor([[0.0, 1.0]]), y_pred).backward()
    assert y_pred.grad is not None and torch.isfinite(y_pred.grad).all()


def test_subclass_with_call_gets_reduction_and_weights():
    class Cubes(losses.Loss):
        def call(self, y_true, y_pred):
            return ((y_pred - y_true) ** 3).sum(dim=-1)

    loss = Cubes(reduction="sum")
    assert loss.name == "cubes" or loss.name.startswith("cubes_")
    out = loss(np.zeros((2, 1)), np.full((2, 1), 2.0), sample_weight=[1.0, 0.5])
    assert float(out) == pytest.approx(8 + 4)
    assert Cubes.from_config(loss.get_config()).reduction == "sum"


def test_subclass_without_call_explains_what_to_define():
    with pytest.raises(NotImplementedError, match="define it"):
        losses.Loss()(np.zeros(2), np.zeros(2))


def test_loss_function_wrapper_passes_kwargs_and_round_trips():
    loss = losses.LossFunctionWrapper(losses.huber, delta=0.5, name="h")
    out = loss(np.array([[0.0]]), np.array([[2.0]]))
    assert float(out) == pytest.approx(0.5 * 2.0 - 0.5 * 0.25)
    config = losses.serialize(loss)
    assert config["config"]["fn"]["config"] == "huber"
    rebuilt = losses.deserialize(config)
    assert rebuilt.fn is losses.huber and rebuilt._fn_kwargs == {"delta": 0.5}
    assert rebuilt.name == "h"
