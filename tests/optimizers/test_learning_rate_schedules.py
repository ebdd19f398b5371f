"""Learning-rate schedules: closed-form values, int and tensor steps, configs."""

import math

import pytest
import torch

from lamina.optimizers import schedules


def test_exponential_decay_continuous_and_staircase():
    smooth = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    stairs = schedules.ExponentialDecay(0.1, 4, 0.5, staircase=True)
    assert smooth(2) == pytest.approx(0.1 * 0.5**0.5)
    assert stairs(2) == pytest.approx(0.1)
    assert stairs(9) == pytest.approx(0.025)


def test_piecewise_constant_boundaries_belong_to_the_left_interval():
    schedule = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [schedule(s) for s in (0, 10, 11, 20, 21, 1000)] == [
        1.0,
        1.0,
        0.5,
        0.5,
        0.1,
        0.1,
    ]


def test_polynomial_decay_stops_at_the_end_rate_or_cycles():
    schedule = schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0)
    assert schedule(5) == pytest.approx(0.09 * 0.25 + 0.01)
    assert schedule(50) == pytest.approx(0.01)
    cyclic = schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.0, cycle=True)
    assert cyclic(0) == pytest.approx(0.1)
    assert cyclic(15) == pytest.approx(0.1 * (1 - 15 / 20))


def test_inverse_time_decay():
    schedule = schedules.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5)
    assert schedule(3) == pytest.approx(0.1 / (1 + 0.5 * 1.5))
    stairs = schedules.InverseTimeDecay(0.1, 2, 0.5, staircase=True)
    assert stairs(3) == pytest.approx(0.1 / 1.5)


def test_cosine_decay_with_alpha_and_warmup():
    schedule = schedules.CosineDecay(0.1, decay_steps=10, alpha=0.1)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(5) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))
    assert schedule(100) == pytest.approx(0.01)
    warm = schedules.CosineDecay(0.0, 10, warmup_target=0.2, warmup_steps=4)
    assert warm(2) == pytest.approx(0.1)
    assert warm(4) == pytest.approx(0.2)
    assert warm(9) == pytest.approx(0.2 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def test_cosine_decay_restarts_geometric_periods():
    schedule = schedules.CosineDecayRestarts(
        1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5
    )
    assert schedule(5) == pytest.approx(0.5)
    # Second period: steps 10..30, peak 0.5; step 20 is its middle.
    assert schedule(20) == pytest.approx(0.25)
    constant = schedules.CosineDecayRestarts(1.0, 10, t_mul=1.0)
    assert constant(15) == pytest.approx(0.5)


SCHEDULES = [
    schedules.ExponentialDecay(0.1, 3, 0.7),
    schedules.ExponentialDecay(0.1, 3, 0.7, staircase=True),
    schedules.PiecewiseConstantDecay([2, 5], [0.3, 0.2, 0.1]),
    schedules.PolynomialDecay(0.1, 6, power=0.5),
    schedules.PolynomialDecay(0.1, 4, cycle=True),
    schedules.InverseTimeDecay(0.1, 2, 0.3),
    schedules.CosineDecay(0.1, 8, alpha=0.2),
    schedules.CosineDecay(0.01, 8, warmup_target=0.1, warmup_steps=3),
    schedules.CosineDecayRestarts(0.1, 3),
    schedules.CosineDecayRestarts(0.1, 3, t_mul=1.0, m_mul=0.8),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_int_step_gives_a_float_and_tensor_step_gives_the_same_tensor(schedule):
    for step in (0, 1, 2, 4, 7, 13, 25):
        value = schedule(step)
        assert isinstance(value, float)
        tensor = schedule(torch.tensor(step))
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
        assert tensor.item() == pytest.approx(value, rel=1e-5)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = schedules.serialize(schedule)
    assert config["module"] == "keras.optimizers.schedules"
    assert config["class_name"] == type(schedule).__name__
    rebuilt = schedules.deserialize(config)
    assert type(rebuilt) is type(schedule)
    assert rebuilt.get_config() == schedule.get_config()


@pytest.mark.parametrize(
    "make",
    [
        lambda: schedules.ExponentialDecay(0.1, 0, 0.5),
        lambda: schedules.PolynomialDecay(0.1, -1),
        lambda: schedules.InverseTimeDecay(0.1, 0, 0.5),
        lambda: schedules.CosineDecay(0.1, 0),
        lambda: schedules.CosineDecayRestarts(0.1, 0),
    ],
)
def test_non_positive_decay_steps_are_rejected(make):
    with pytest.raises(ValueError, match="positive number of steps"):
        make()


def test_piecewise_needs_one_more_value_than_boundaries():
    with pytest.raises(ValueError, match="one more value than boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])


def test_base_class_methods_must_be_overridden():
    with pytest.raises(NotImplementedError, match="must override"):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="get_config"):
        schedules.LearningRateSchedule().get_config()
