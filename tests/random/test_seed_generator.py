# No __init__.py in this directory: as a package it would be named "random"
# and clash with the standard library under pytest's default import mode.
import pytest
import torch

from lamina import random
from lamina.utils import rng_utils


def test_int_seed_gives_same_numbers_every_call():
    a = random.normal((5,), seed=3)
    b = random.normal((5,), seed=3)
    assert torch.equal(a, b)


def test_seed_generator_gives_new_numbers_each_call_reproducibly():
    gen_a, gen_b = random.SeedGenerator(7), random.SeedGenerator(7)
    first = [random.uniform((4,), seed=gen_a) for _ in range(3)]
    second = [random.uniform((4,), seed=gen_b) for _ in range(3)]
    assert not torch.equal(first[0], first[1])
    for x, y in zip(first, second, strict=True):
        assert torch.equal(x, y)


def test_generator_draw_k_equals_int_seed_plus_k():
    gen = random.SeedGenerator(100)
    random.normal((3,), seed=gen)
    assert torch.equal(random.normal((3,), seed=gen), random.normal((3,), seed=101))


def test_state_is_seed_and_counter_and_advances_by_one():
    gen = random.SeedGenerator(5)
    assert gen.state.tolist() == [5, 0]
    assert gen.state.dtype == torch.int32
    assert gen.next().tolist() == [5, 0]
    assert gen.state.tolist() == [5, 1]


def test_state_can_be_restored():
    gen = random.SeedGenerator(5)
    random.normal((2,), seed=gen)
    saved = gen.state
    expected = random.normal((2,), seed=gen)
    gen.state = saved
    assert torch.equal(random.normal((2,), seed=gen), expected)


def test_state_assignment_rejects_wrong_length():
    with pytest.raises(ValueError, match="two ints"):
        random.SeedGenerator(1).state = [1, 2, 3]


def test_unseeded_generator_is_reproducible_under_torch_manual_seed(monkeypatch):
    # Torch's mode: no set_random_seed call (an earlier test may have made one).
    monkeypatch.setattr(rng_utils, "_GLOBAL_RANDOM_SEED", None)
    torch.manual_seed(123)
    a = random.normal((3,), seed=random.SeedGenerator())
    torch.manual_seed(123)
    b = random.normal((3,), seed=random.SeedGenerator())
    assert torch.equal(a, b)


def test_unseeded_draws_follow_torch_manual_seed(monkeypatch):
    monkeypatch.setattr(rng_utils, "_GLOBAL_RANDOM_SEED", None)
    torch.manual_seed(9)
    a = random.uniform((3,))
    torch.manual_seed(9)
    assert torch.equal(random.uniform((3,)), a)


def test_config_round_trip_keeps_initial_seed_and_name():
    gen = random.SeedGenerator(11, name="my_gen")
    assert gen.get_config() == {"seed": 11, "name": "my_gen"}
    clone = random.SeedGenerator.from_config(gen.get_config())
    assert clone.state.tolist() == [11, 0]
    assert clone.name == "my_gen"


def test_unseeded_config_records_none():
    assert random.SeedGenerator().get_config()["seed"] is None


@pytest.mark.parametrize("seed", ["1", 1.5, True])
def test_generator_rejects_non_int_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        random.SeedGenerator(seed)


def test_generator_rejects_unknown_keywords():
    with pytest.raises(ValueError, match="unexpected keyword"):
        random.SeedGenerator(1, colour="red")


@pytest.mark.parametrize("seed", ["abc", 2.0, [1]])
def test_random_functions_reject_bad_seeds(seed):
    with pytest.raises(ValueError, match="Expected `seed`"):
        random.normal((2,), seed=seed)


def test_large_seeds_wrap_to_32_bits_as_in_keras():
    assert torch.equal(random.normal((2,), seed=2**32 + 5), random.normal((2,), seed=5))
