"""Saving and serialization as Keras 3's own unit tests expect (session 9)."""

import warnings

import numpy as np
import pytest

import lamina
from lamina import layers, saving
from lamina.saving import serialization_lib


def _model():
    return lamina.Sequential([layers.Input((3,)), layers.Dense(5), layers.Softmax()])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suite9")
    model = _model()
    paths = {
        "keras": str(folder / "m.keras"),
        "weights": str(folder / "m.weights.h5"),
        "legacy": str(folder / "m.h5"),
    }
    model.save(paths["keras"])
    model.save_weights(paths["weights"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(paths["legacy"])
    return paths


def test_load_weights_unknown_keyword_is_a_value_error(files):
    with pytest.raises(ValueError, match="Invalid keyword arguments"):
        _model().load_weights(files["keras"], bad_kwarg=None)


def test_load_weights_objects_to_skip_refused_for_legacy_h5(files):
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"only supports loading '.weights.h5' files"):
        model.load_weights(files["legacy"], objects_to_skip=[])
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("kind", ["keras", "weights"])
@pytest.mark.parametrize("by_name", [True, False])
def test_load_weights_by_name_only_for_legacy_h5(files, kind, by_name):
    # As Keras: any by_name (even False) on a Keras 3 file is refused.
    with pytest.raises(
        ValueError, match=r"only supports loading legacy '.h5' or '.hdf5' files"
    ):
        _model().load_weights(files[kind], by_name=by_name)


def test_load_weights_legacy_h5_by_name_false_still_loads(files):
    model = _model()
    model.load_weights(files["legacy"], by_name=False)
    reference = lamina.saving.load_model(files["keras"])
    np.testing.assert_allclose(model.get_weights()[0], reference.get_weights()[0])


def test_function_config_must_name_the_function():
    with pytest.raises(TypeError, match="Expected 'config' to be a non-null str"):
        serialization_lib.deserialize_keras_object(
            {"class_name": "function", "config": ["not", "a", "string"]}
        )


def test_class_config_must_be_a_dict():
    with pytest.raises(TypeError, match="Expected 'config' to be a dict for Dense"):
        serialization_lib.deserialize_keras_object(
            {"class_name": "Dense", "module": "keras.layers", "config": [1, 2, 3]}
        )


@pytest.mark.parametrize(
    "registered", ["builtins.eval", "subprocess.Popen", "my_pkg>MyDense"]
)
def test_registered_name_on_a_builtin_class_is_refused(registered):
    config = {
        "class_name": "Dense",
        "module": "keras.layers",
        "registered_name": registered,
        "config": {"units": 1},
    }
    with pytest.raises(ValueError, match="resolved to a Keras built-in"):
        serialization_lib.deserialize_keras_object(config)


def test_registered_name_on_a_builtin_function_is_refused():
    config = {
        "class_name": "function",
        "module": "builtins",
        "registered_name": "some_other_name",
        "config": "relu",
    }
    with pytest.raises(ValueError, match="resolved to a Keras built-in"):
        serialization_lib.deserialize_keras_object(config)


def test_builtins_written_by_lamina_and_keras_still_load():
    for config in (
        saving.serialize_keras_object(layers.Dense(2)),
        saving.serialize_keras_object(lamina.activations.relu),
        {
            "class_name": "Dense",
            "module": "keras.layers",
            "config": {"units": 2},
            "registered_name": "Dense",
        },
        {
            "class_name": "function",
            "module": "builtins",
            "config": "relu",
            "registered_name": "function",
        },
    ):
        assert serialization_lib.deserialize_keras_object(config) is not None


def test_a_registered_subclass_keeps_loading_by_its_registered_name():
    @saving.register_keras_serializable(package="suite9")
    class MyDense(layers.Dense):
        pass

    config = saving.serialize_keras_object(MyDense(3))
    assert config["registered_name"] == "suite9>MyDense"
    assert type(serialization_lib.deserialize_keras_object(config)) is MyDense


class _NoFromConfig:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, x):
        return x * self.factor

    def get_config(self):
        return {"factor": self.factor}


def test_a_class_without_from_config_is_a_type_error_not_the_class(tmp_path):
    inputs = lamina.Input((4,))
    model = lamina.Model(inputs, layers.Dense(1, activation=_NoFromConfig(0.5))(inputs))
    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(TypeError, match="Unable to reconstruct an instance"):
        saving.load_model(path, custom_objects={"_NoFromConfig": _NoFromConfig})


def test_messages_carry_keras_key_phrases(tmp_path):
    with pytest.raises(ValueError, match="Please ensure the file is an accessible"):
        saving.load_model(str(tmp_path / "missing.keras"))
    path = str(tmp_path / "m.keras")
    _model().save(path)
    other = lamina.Sequential([layers.Input((3,)), layers.Dense(6), layers.Softmax()])
    with pytest.raises(ValueError, match="must match"):
        other.load_weights(path)

    class CustomCompile(lamina.Sequential):
        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)

    model = CustomCompile([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="method is custom"):
        saving.saving_api.compile_from_config(model, model.get_compile_config())


def test_registering_a_class_without_get_config_names_the_problem():
    class NoConfig:
        pass

    with pytest.raises(
        ValueError, match="Cannot register a class that does not have a get_config"
    ):
        saving.register_keras_serializable(package="suite9")(NoConfig)


def test_variable_count_mismatch_says_how_many_were_received(tmp_path):
    path = str(tmp_path / "m.keras")
    lamina.Sequential([layers.Input((3,)), layers.Dense(2, use_bias=False)]).save(path)
    other = lamina.Sequential([layers.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="received 1 variables"):
        other.load_weights(path)
