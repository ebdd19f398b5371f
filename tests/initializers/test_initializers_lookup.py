import numpy as np
import pytest
import torch

from lamina import initializers, random, saving


@pytest.mark.parametrize(
    "name, cls",
    [
        ("glorot_uniform", initializers.GlorotUniform),
        ("GlorotUniform", initializers.GlorotUniform),
        ("he_normal", initializers.HeNormal),
        ("lecun_normal", initializers.LecunNormal),
        ("zeros", initializers.Zeros),
        ("zero", initializers.Zeros),
        ("ones", initializers.Ones),
        ("constant", initializers.Constant),
        ("identity", initializers.Identity),
        ("IdentityInitializer", initializers.Identity),
        ("orthogonal", initializers.Orthogonal),
        ("random_normal", initializers.RandomNormal),
        ("normal", initializers.RandomNormal),
        ("uniform", initializers.RandomUniform),
        ("truncated_normal", initializers.TruncatedNormal),
        ("variance_scaling", initializers.VarianceScaling),
    ],
)
def test_get_by_name_builds_an_instance(name, cls):
    obj = initializers.get(name)
    assert type(obj) is cls


def test_get_none_class_instance_and_callable():
    assert initializers.get(None) is None
    assert isinstance(initializers.get(initializers.Ones), initializers.Ones)
    init = initializers.Zeros()
    assert initializers.get(init) is init

    def fn(shape, dtype=None):
        return torch.zeros(shape)

    assert initializers.get(fn) is fn


def test_get_tensor_fills_its_own_shape_only():
    value = np.array([[1.0, 2.0]])
    init = initializers.get(value)
    np.testing.assert_array_equal(init((1, 2)).numpy(), value)
    with pytest.raises(ValueError, match="own shape"):
        init((2, 2))


def test_get_unknown_name_suggests_close_match():
    with pytest.raises(
        ValueError, match="Unknown initializer 'glorot_unifrom'.*'glorot_uniform'"
    ):
        initializers.get("glorot_unifrom")


def test_get_rejects_other_objects():
    with pytest.raises(TypeError, match="initializer must be"):
        initializers.get(3.5)


@pytest.mark.parametrize(
    "init",
    [
        initializers.Constant(1.5),
        initializers.Identity(gain=2.0),
        initializers.RandomNormal(mean=1.0, stddev=0.1, seed=3),
        initializers.RandomUniform(minval=0.0, maxval=2.0, seed=3),
        initializers.TruncatedNormal(seed=3),
        initializers.VarianceScaling(
            scale=3.0, mode="fan_avg", distribution="uniform", seed=3
        ),
        initializers.GlorotUniform(seed=3),
        initializers.HeNormal(seed=3),
        initializers.Orthogonal(gain=0.5, seed=3),
    ],
)
def test_config_round_trip_rebuilds_the_same_values(init):
    config = initializers.serialize(init)
    assert config["module"] == "keras.initializers"
    assert config["class_name"] == type(init).__name__
    clone = initializers.deserialize(config)
    assert type(clone) is type(init)
    assert clone.get_config() == init.get_config()
    assert torch.equal(clone((4, 4)), init((4, 4)))


def test_seed_generator_in_config_is_serialized_under_keras_random():
    init = initializers.RandomNormal(seed=random.SeedGenerator(4, name="g"))
    config = initializers.serialize(init)["config"]
    assert config["seed"] == {
        "module": "keras.random",
        "class_name": "SeedGenerator",
        "config": {"seed": 4, "name": "g"},
        "registered_name": None,
    }
    clone = initializers.RandomNormal.from_config(config)
    assert isinstance(clone.seed, random.SeedGenerator)
    assert torch.equal(clone((3,)), initializers.RandomNormal(seed=4)((3,)))


def test_preset_configs_hold_only_seed_and_axes():
    assert initializers.GlorotUniform(seed=1).get_config() == {
        "seed": 1,
        "input_axes": None,
        "output_axes": None,
    }


def test_registered_custom_initializer_resolves_by_name():
    @saving.register_keras_serializable(package="lamina_tests")
    class Threes(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return torch.full(tuple(shape), 3.0)

    init = initializers.get("lamina_tests>Threes")
    assert init((2,)).tolist() == [3.0, 3.0]
    clone = initializers.deserialize(initializers.serialize(init))
    assert isinstance(clone, Threes)


def test_clone_copies_configuration():
    init = initializers.RandomUniform(minval=1.0, maxval=2.0, seed=2)
    clone = init.clone()
    assert clone is not init and clone.get_config() == init.get_config()
