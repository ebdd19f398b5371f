import pytest
import torch

from lamina import activations, saving


def test_get_none_is_linear():
    assert activations.get(None) is activations.linear


def test_get_name_returns_the_function():
    assert activations.get("relu") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu


def test_get_callable_is_returned_as_is():
    def fn(t):
        return t * 2

    assert activations.get(fn) is fn


def test_get_unknown_name_suggests_close_match():
    with pytest.raises(ValueError, match="Unknown activation 'rleu'.*'relu'"):
        activations.get("rleu")


@pytest.mark.parametrize("bad", [3, 2.5, [1]])
def test_get_rejects_non_callables_with_type_error(bad):
    with pytest.raises(TypeError, match="activation must be"):
        activations.get(bad)


def test_serialize_builtin_returns_its_name():
    assert activations.serialize(activations.relu) == "relu"
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(activations.hard_sigmoid) == "hard_sigmoid"


def test_every_builtin_round_trips_through_its_name():
    for name, fn in activations.ALL_OBJECTS_DICT.items():
        assert activations.deserialize(activations.serialize(fn)) is fn, name
        assert activations.get(name) is fn


def test_deserialize_reads_the_keras_function_dict():
    config = {
        "module": "keras.activations",
        "class_name": "function",
        "config": "gelu",
        "registered_name": "gelu",
    }
    assert activations.deserialize(config) is activations.gelu
    assert activations.get(config) is activations.gelu


def test_registered_custom_activation_serializes_to_a_dict_and_back():
    @saving.register_keras_serializable(package="lamina_tests")
    def scaled_tanh(t):
        return 2 * torch.tanh(t)

    config = activations.serialize(scaled_tanh)
    assert isinstance(config, dict)
    assert config["class_name"] == "function"
    assert config["config"] == "lamina_tests>scaled_tanh"
    assert activations.deserialize(config) is scaled_tanh
    assert activations.get("lamina_tests>scaled_tanh") is scaled_tanh


def test_custom_activation_resolves_through_custom_objects():
    def my_act(t):
        return t

    config = {
        "module": None,
        "class_name": "function",
        "config": "my_act",
        "registered_name": "my_act",
    }
    assert activations.deserialize(config, custom_objects={"my_act": my_act}) is my_act
