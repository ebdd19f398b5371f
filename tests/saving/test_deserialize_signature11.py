"""`deserialize_keras_object` takes Keras 3's signature: `(config,
custom_objects=None, safe_mode=True, **kwargs)` with `module_objects` and
`printable_module_name` as keywords (KerasHub calls it that way)."""

import pytest

import lamina
from lamina.saving import serialization_lib


class _Sampler:
    def __init__(self, k=3):
        self.k = k

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _plain_function(x):
    return x


def test_second_positional_argument_is_custom_objects():
    got = serialization_lib.deserialize_keras_object("mine", {"mine": _plain_function})
    assert got is _plain_function


def test_printable_module_name_is_accepted_and_names_the_family():
    with pytest.raises(ValueError, match="Unknown samplers 'nope'"):
        serialization_lib.deserialize_keras_object(
            "nope",
            module_objects={"top_k": _Sampler},
            custom_objects={},
            printable_module_name="samplers",
        )


def test_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="unexpected keyword"):
        serialization_lib.deserialize_keras_object("x", module_object={})


def test_bare_name_of_a_module_class_gives_an_instance():
    got = serialization_lib.deserialize_keras_object(
        "top_k", module_objects={"top_k": _Sampler}, printable_module_name="samplers"
    )
    assert isinstance(got, _Sampler) and got.k == 3


def test_bare_name_of_a_module_function_gives_the_function():
    got = serialization_lib.deserialize_keras_object(
        "f", module_objects={"f": _plain_function}
    )
    assert got is _plain_function


def test_bare_name_in_custom_objects_gives_the_class_itself():
    got = serialization_lib.deserialize_keras_object(
        "top_k", custom_objects={"top_k": _Sampler}, module_objects={}
    )
    assert got is _Sampler


def test_family_getters_still_give_instances():
    assert isinstance(lamina.optimizers.get("adam"), lamina.optimizers.Adam)
    assert isinstance(
        lamina.dtype_policies.deserialize("DTypePolicy"),
        lamina.dtype_policies.DTypePolicy,
    )
    assert isinstance(lamina.initializers.get("Zeros"), lamina.initializers.Zeros)
