import math

import numpy as np
import pytest
import torch

from lamina import regularizers

W = torch.tensor([[1.0, -2.0], [3.0, 0.0]])


def test_l1_sums_absolute_values():
    assert float(regularizers.L1(0.5)(W)) == pytest.approx(3.0)


def test_l2_sums_squares_without_a_half():
    assert float(regularizers.L2(0.5)(W)) == pytest.approx(7.0)


def test_l1l2_adds_both_terms():
    assert float(regularizers.L1L2(l1=0.5, l2=0.25)(W)) == pytest.approx(3.0 + 3.5)
    zero = regularizers.L1L2()(W)
    assert zero.shape == () and float(zero) == 0.0


def test_defaults_match_keras():
    assert regularizers.L2().l2 == 0.01
    assert regularizers.L1().l1 == pytest.approx(0.01)
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.OrthogonalRegularizer().mode == "rows"


def test_l1_and_orthogonal_factors_are_float32_rounded_like_keras():
    assert regularizers.L1(0.01).get_config() == {"l1": 0.009999999776482582}
    assert regularizers.OrthogonalRegularizer().get_config() == {
        "factor": 0.009999999776482582,
        "mode": "rows",
    }


def test_penalty_keeps_the_weights_dtype_and_gradient():
    w = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    penalty = regularizers.L2(1.0)(w)
    assert penalty.dtype == torch.float64
    penalty.backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, -2.0])


def test_orthogonal_rows_penalty_closed_form():
    # Rows (1, 0) and (1, 1)/sqrt(2): cosine 1/sqrt(2); one pair, counted twice.
    w = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    penalty = regularizers.OrthogonalRegularizer(factor=1.0)(w)
    assert float(penalty) == pytest.approx(0.5 * 2 / math.sqrt(2) / 1.0, rel=1e-6)


def test_orthogonal_is_zero_for_orthogonal_columns():
    w = torch.tensor([[1.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    assert float(regularizers.OrthogonalRegularizer(1.0, mode="columns")(w)) == 0.0


def test_orthogonal_requires_a_matrix():
    with pytest.raises(ValueError, match="2D weights"):
        regularizers.OrthogonalRegularizer()(torch.ones(2, 2, 2))


@pytest.mark.parametrize("value", [-0.1, math.inf, math.nan, "0.1", True])
def test_factors_must_be_non_negative_finite_numbers(value):
    with pytest.raises(ValueError, match="non-negative finite"):
        regularizers.L2(value)


def test_orthogonal_mode_is_validated():
    with pytest.raises(ValueError, match="'rows' or 'columns'"):
        regularizers.OrthogonalRegularizer(mode="diagonal")


@pytest.mark.parametrize(
    "name, cls",
    [
        ("l1", regularizers.L1),
        ("l2", regularizers.L2),
        ("l1l2", regularizers.L1L2),
        ("l1_l2", regularizers.L1L2),
        ("L2", regularizers.L2),
        ("orthogonal_regularizer", regularizers.OrthogonalRegularizer),
        ("OrthogonalRegularizer", regularizers.OrthogonalRegularizer),
    ],
)
def test_get_by_name_builds_default_instance(name, cls):
    assert type(regularizers.get(name)) is cls


def test_get_passes_instances_callables_and_none():
    reg = regularizers.L1(0.2)
    assert regularizers.get(reg) is reg
    assert regularizers.get(None) is None
    assert isinstance(regularizers.get(regularizers.L2), regularizers.L2)

    def fn(w):
        return w.sum()

    assert regularizers.get(fn) is fn


def test_get_unknown_name_and_bad_type():
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'"):
        regularizers.get("l3")
    with pytest.raises(TypeError, match="regularizer must be"):
        regularizers.get(0.01)


@pytest.mark.parametrize(
    "reg",
    [
        regularizers.L1(0.3),
        regularizers.L2(0.2),
        regularizers.L1L2(0.1, 0.4),
        regularizers.OrthogonalRegularizer(0.5, "columns"),
    ],
)
def test_config_round_trip(reg):
    config = regularizers.serialize(reg)
    assert config["module"] == "keras.regularizers"
    clone = regularizers.get(config)
    assert type(clone) is type(reg) and clone.get_config() == reg.get_config()
    assert float(clone(W)) == pytest.approx(float(reg(W)))


def test_base_regularizer_penalty_is_zero_and_config_must_be_written():
    assert float(regularizers.Regularizer()(W)) == 0.0
    with pytest.raises(NotImplementedError, match="get_config"):
        regularizers.Regularizer().get_config()
