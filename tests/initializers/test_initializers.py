import math

import numpy as np
import pytest
import torch

from lamina import initializers, random
from lamina.initializers.random_initializers import compute_fans
from lamina.utils import rng_utils


def host(t):
    return t.detach().cpu().numpy()


# Constant initializers


def test_zeros_ones_constant_values_and_cpu_placement():
    for init, value in (
        (initializers.Zeros(), 0.0),
        (initializers.Ones(), 1.0),
        (initializers.Constant(2.5), 2.5),
    ):
        out = init((2, 3))
        assert out.device.type == "cpu"
        assert out.dtype == torch.float32
        np.testing.assert_array_equal(host(out), np.full((2, 3), value))


def test_constant_initializers_honour_dtype():
    assert initializers.Zeros()((2,), dtype="int32").dtype == torch.int32
    assert initializers.Ones()((2,), dtype="float64").dtype == torch.float64
    assert initializers.Constant(3)((2,), dtype="int64").tolist() == [3, 3]


def test_constant_broadcasts_an_array_and_rejects_mismatched_shapes():
    out = initializers.Constant(np.array([1.0, 2.0]))((3, 2))
    np.testing.assert_array_equal(host(out), [[1, 2]] * 3)
    with pytest.raises(ValueError, match="Constant cannot fill"):
        initializers.Constant(np.ones(3))((2, 2))


def test_identity_with_gain_and_rectangular_shapes():
    np.testing.assert_array_equal(
        host(initializers.Identity(gain=3.0)((2, 2))), [[3, 0], [0, 3]]
    )
    np.testing.assert_array_equal(
        host(initializers.Identity()((2, 3))), [[1, 0, 0], [0, 1, 0]]
    )


def test_identity_rejects_non_matrices():
    with pytest.raises(ValueError, match="only 2D"):
        initializers.Identity()((2, 2, 2))


# Fans and variance scaling


@pytest.mark.parametrize(
    "shape, fans",
    [((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)), ((3, 3, 4, 8), (36, 72))],
)
def test_compute_fans_uses_receptive_field(shape, fans):
    assert compute_fans(shape) == fans


def test_compute_fans_with_explicit_axes():
    assert compute_fans((2, 3, 4), input_axes=[0, 1], output_axes=[2]) == (6, 4)


@pytest.mark.parametrize(
    "cls, limit",
    [
        (initializers.GlorotUniform, math.sqrt(6 / (40 + 60))),
        (initializers.HeUniform, math.sqrt(6 / 40)),
        (initializers.LecunUniform, math.sqrt(3 / 40)),
    ],
)
def test_uniform_variance_scaling_limits(cls, limit):
    out = host(cls(seed=1)((40, 60)))
    assert out.min() >= -limit and out.max() <= limit
    assert out.max() > 0.95 * limit and out.min() < -0.95 * limit
    assert abs(out.std() - limit / math.sqrt(3)) < 0.03 * limit


@pytest.mark.parametrize(
    "cls, stddev",
    [
        (initializers.GlorotNormal, math.sqrt(2 / (100 + 200))),
        (initializers.HeNormal, math.sqrt(2 / 100)),
        (initializers.LecunNormal, math.sqrt(1 / 100)),
    ],
)
def test_normal_variance_scaling_stddev_after_truncation(cls, stddev):
    out = host(cls(seed=2)((100, 200)))
    # Keras divides by 0.8796 so the *truncated* values have the target stddev.
    assert abs(out.std() - stddev) < 0.02 * stddev
    assert np.abs(out).max() <= 2 * stddev / 0.87962566103423978 + 1e-6


def test_untruncated_normal_and_fan_out_mode():
    init = initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal", seed=0
    )
    out = host(init((100, 400)))
    assert abs(out.std() - math.sqrt(2.0 / 400)) < 0.02 * math.sqrt(2.0 / 400)


def test_variance_scaling_normal_is_an_alias_of_truncated_normal():
    assert initializers.VarianceScaling(distribution="normal").distribution == (
        "truncated_normal"
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scale": 0.0}, "positive `scale`"),
        ({"mode": "fan_sum"}, "`mode`"),
        ({"distribution": "cauchy"}, "`distribution`"),
    ],
)
def test_variance_scaling_validates_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        initializers.VarianceScaling(**kwargs)


# Plain random initializers


def test_random_normal_uniform_truncated_statistics():
    normal = host(initializers.RandomNormal(mean=1.0, stddev=0.5, seed=0)((200, 100)))
    assert abs(normal.mean() - 1.0) < 0.02 and abs(normal.std() - 0.5) < 0.02
    uniform = host(initializers.RandomUniform(-3.0, -1.0, seed=0)((200, 100)))
    assert uniform.min() >= -3.0 and uniform.max() < -1.0
    trunc = host(initializers.TruncatedNormal(stddev=1.0, seed=0)((200, 100)))
    assert np.abs(trunc).max() <= 2.0


def test_default_random_initializer_arguments_are_keras_defaults():
    assert initializers.RandomNormal().get_config() == {
        "seed": None,
        "mean": 0.0,
        "stddev": 0.05,
    }
    assert initializers.RandomUniform().get_config() == {
        "seed": None,
        "minval": -0.05,
        "maxval": 0.05,
    }


# Seeds


def test_int_seed_and_no_seed_repeat_on_every_call():
    for init in (initializers.GlorotUniform(seed=4), initializers.GlorotUniform()):
        assert torch.equal(init((3, 3)), init((3, 3)))


def test_seed_generator_gives_new_values_per_call():
    init = initializers.RandomNormal(seed=random.SeedGenerator(1))
    assert not torch.equal(init((3,)), init((3,)))


def test_unseeded_initializers_are_reproducible_under_torch_manual_seed(monkeypatch):
    # Torch's mode: no set_random_seed call (an earlier test may have made one).
    monkeypatch.setattr(rng_utils, "_GLOBAL_RANDOM_SEED", None)
    torch.manual_seed(0)
    a = initializers.HeNormal()((4, 4))
    torch.manual_seed(0)
    b = initializers.HeNormal()((4, 4))
    assert torch.equal(a, b)
    assert not torch.equal(a, initializers.HeNormal()((4, 4)))


def test_same_int_seed_same_values_across_instances():
    a = initializers.Orthogonal(seed=5)((6, 3))
    assert torch.equal(a, initializers.Orthogonal(seed=5)((6, 3)))


def test_random_initializer_rejects_bad_seed():
    with pytest.raises(ValueError, match="expects `seed`"):
        initializers.RandomNormal(seed="abc")


# Orthogonal


@pytest.mark.parametrize("shape", [(5, 5), (8, 3), (3, 8), (2, 3, 4)])
def test_orthogonal_is_orthonormal_in_the_short_direction(shape):
    out = host(initializers.Orthogonal(gain=2.0, seed=0)(shape))
    assert out.shape == shape
    flat = out.reshape(-1, shape[-1]) / 2.0
    if flat.shape[0] >= flat.shape[1]:
        np.testing.assert_allclose(flat.T @ flat, np.eye(flat.shape[1]), atol=1e-5)
    else:
        np.testing.assert_allclose(flat @ flat.T, np.eye(flat.shape[0]), atol=1e-5)


def test_orthogonal_rejects_vectors():
    with pytest.raises(ValueError, match="rank 2 or more"):
        initializers.Orthogonal()((4,))


def test_orthogonal_half_precision_output():
    assert initializers.Orthogonal(seed=0)((4, 4), dtype="bfloat16").dtype == (
        torch.bfloat16
    )
