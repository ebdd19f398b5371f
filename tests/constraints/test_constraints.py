import numpy as np
import pytest
import torch

from lamina import constraints
from lamina.backend import epsilon


def host(t):
    return t.detach().cpu().numpy()


# Columns of W have norms 5 and 1.
W = torch.tensor([[3.0, 0.0], [4.0, 1.0]])


def test_max_norm_shrinks_only_columns_above_the_limit():
    out = host(constraints.MaxNorm(max_value=2.0)(W))
    np.testing.assert_allclose(
        out[:, 0], [3 * 2 / (5 + epsilon()), 4 * 2 / (5 + epsilon())], rtol=1e-6
    )
    np.testing.assert_allclose(out[:, 1], [0.0, 1 / (1 + epsilon())], rtol=1e-6)


def test_max_norm_over_rows():
    out = host(constraints.MaxNorm(max_value=1.0, axis=1)(W))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1.0, 1.0], rtol=1e-5)


def test_unit_norm_normalizes_each_column():
    out = host(constraints.UnitNorm()(W))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [1.0, 1.0], rtol=1e-6)


def test_unit_norm_over_several_axes():
    w = torch.arange(1.0, 25.0).reshape(2, 3, 4)
    out = host(constraints.UnitNorm(axis=[0, 1])(w))
    np.testing.assert_allclose(
        np.sqrt((out**2).sum(axis=(0, 1))), np.ones(4), rtol=1e-6
    )


def test_non_neg_zeroes_negative_weights():
    out = constraints.NonNeg()(torch.tensor([-1.0, 0.0, 2.0]))
    assert out.tolist() == [0.0, 0.0, 2.0]


def test_min_max_norm_clips_norms_into_range():
    out = host(constraints.MinMaxNorm(min_value=2.0, max_value=4.0)(W))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [4.0, 2.0], rtol=1e-5)


def test_min_max_norm_rate_moves_part_of_the_way():
    out = host(constraints.MinMaxNorm(min_value=0.0, max_value=1.0, rate=0.5)(W))
    # Column norm 5 -> 0.5 * 1 + 0.5 * 5 = 3.
    np.testing.assert_allclose(np.linalg.norm(out[:, 0]), 3.0, rtol=1e-5)


def test_zero_weights_stay_zero_thanks_to_epsilon():
    out = constraints.UnitNorm()(torch.zeros(3, 2))
    assert torch.equal(out, torch.zeros(3, 2))


def test_base_constraint_is_identity():
    assert constraints.Constraint()(W) is W


@pytest.mark.parametrize(
    "name, cls",
    [
        ("max_norm", constraints.MaxNorm),
        ("MaxNorm", constraints.MaxNorm),
        ("non_neg", constraints.NonNeg),
        ("unit_norm", constraints.UnitNorm),
        ("min_max_norm", constraints.MinMaxNorm),
    ],
)
def test_get_by_name(name, cls):
    assert type(constraints.get(name)) is cls


def test_get_instances_callables_none_and_errors():
    c = constraints.NonNeg()
    assert constraints.get(c) is c
    assert constraints.get(None) is None
    assert isinstance(constraints.get(constraints.UnitNorm), constraints.UnitNorm)
    with pytest.raises(ValueError, match="Unknown constraint 'max_nrom'.*'max_norm'"):
        constraints.get("max_nrom")
    with pytest.raises(TypeError, match="constraint must be"):
        constraints.get(2)


@pytest.mark.parametrize(
    "c",
    [
        constraints.MaxNorm(3, axis=[0, 1]),
        constraints.NonNeg(),
        constraints.UnitNorm(1),
        constraints.MinMaxNorm(0.5, 2.0, 0.3, 1),
    ],
)
def test_config_round_trip(c):
    config = constraints.serialize(c)
    assert config["module"] == "keras.constraints"
    clone = constraints.get(config)
    assert type(clone) is type(c) and clone.get_config() == c.get_config()
