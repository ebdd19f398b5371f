"""Saving as Keras 3 does it: `.keras` files of models built on a list of one
input keep that list both ways, and the errors for unbuilt models, malformed
Sequential layer entries and unknown export formats carry Keras's key
phrases."""

import os
import warnings

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _list_model(lib):
    x = lib.Input((3,), name="x")
    return lib.Model([x], [lib.layers.Dense(2, name="d")(x)])


@pytest.mark.parametrize("writer", ["ours", "theirs"])
def test_list_of_one_model_files_keep_the_list_both_ways(tmp_path, writer):
    keras = pytest.importorskip("keras")
    libs = {"ours": lamina, "theirs": keras}
    reader = "theirs" if writer == "ours" else "ours"
    source = _list_model(libs[writer])
    path = str(tmp_path / "listed.keras")
    source.save(path)
    loaded = libs[reader].models.load_model(path)
    assert isinstance(loaded.input, list) and len(loaded.input) == 1
    assert isinstance(loaded.output, list) and len(loaded.output) == 1
    data = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: an array is not `[x]`
        got = loaded.predict(data, verbose=0)
        want = source.predict(data, verbose=0)
    assert isinstance(got, np.ndarray)  # predict unwraps the one output
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_unbuilt_model_weights_errors_carry_keras_phrases(tmp_path):
    model = lamina.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="You are saving a model that has not yet"):
        model.save_weights(str(tmp_path / "w.weights.h5"))
    built = lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])
    built.save_weights(str(tmp_path / "w.weights.h5"))
    with pytest.raises(
        ValueError, match="You are loading weights into a model that has not yet"
    ):
        model.load_weights(str(tmp_path / "w.weights.h5"))


def test_malformed_sequential_layer_entry_is_a_keras_value_error():
    config = {
        "class_name": "Sequential",
        "module": "keras",
        "config": {
            "name": "seq",
            "layers": [
                {"class_name": "Dense", "module": "keras.layers", "config": {}},
                {},
            ],
        },
    }
    with pytest.raises(
        ValueError, match="Expected a dictionary containing a 'config' key."
    ):
        lamina.saving.deserialize_keras_object(config)


def test_unknown_export_format_names_it(tmp_path):
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="Unrecognized format='bad_format'"):
        model.export(str(tmp_path / "m"), format="bad_format")


@pytest.mark.parametrize("listed_model, listed_given", [(0, 1), (1, 0), (1, 1)])
def test_clone_input_tensors_follow_model_input_structure(listed_model, listed_given):
    keras = pytest.importorskip("keras")
    outcomes = []
    for lib in (lamina, keras):
        x = lib.Input((3,), name="x")
        model = lib.Model([x] if listed_model else x, lib.layers.Dense(2)(x))
        given = lib.Input((3,))
        try:
            clone = lib.models.clone_model(
                model, input_tensors=[given] if listed_given else given
            )
        except ValueError as error:
            assert "same structure as model.input" in str(error)
            outcomes.append("refused")
        else:
            outcomes.append(type(clone.input).__name__)
    assert outcomes[0] == outcomes[1]


def _shared_wrapper_model(lib):
    class Wrapping(lib.layers.Wrapper):
        def call(self, x):
            return self.layer(x)

    first, second = lib.Input((2,)), lib.Input((2,))
    shared = lib.layers.Dense(1, name="shared")
    outputs = [shared(first), Wrapping(shared, name="wrap")(second)]
    return lib.Model([first, second], outputs), Wrapping


@pytest.mark.parametrize("writer", ["ours", "theirs"])
def test_layer_shared_with_a_wrapper_stays_one_layer_across_files(tmp_path, writer):
    # Keras marks objects a config meets twice with "shared_object_id"; a
    # file without it rebuilds two layers and its weights do not load.
    keras = pytest.importorskip("keras")
    libs = {"ours": lamina, "theirs": keras}
    reader = "theirs" if writer == "ours" else "ours"
    source, _ = _shared_wrapper_model(libs[writer])
    path = str(tmp_path / "shared.keras")
    source.save(path)
    _, wrapping = _shared_wrapper_model(libs[reader])
    loaded = libs[reader].models.load_model(path, custom_objects={"Wrapping": wrapping})
    assert loaded.get_layer("wrap").layer is loaded.get_layer("shared")
    data = [np.ones((2, 2), "float32"), np.full((2, 2), 2.0, "float32")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = loaded.predict(data, verbose=0), source.predict(data, verbose=0)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_sharing_scope_marks_only_objects_met_twice():
    layer = layers.Dense(1)
    other = layers.Dense(2)
    with lamina.saving.serialization_lib.ObjectSharingScope():
        configs = lamina.saving.serialize_keras_object([layer, other, layer])
    assert configs[0]["shared_object_id"] == configs[2]["shared_object_id"]
    assert "shared_object_id" not in configs[1]
    assert "shared_object_id" not in lamina.saving.serialize_keras_object(layer)
    with lamina.saving.serialization_lib.ObjectSharingScope():
        rebuilt = lamina.saving.deserialize_keras_object(configs)
    assert rebuilt[0] is rebuilt[2] and rebuilt[1] is not rebuilt[0]


def test_sharing_scope_round_trip_inside_one_scope():
    class Shared:
        def __call__(self, x):
            return x

        def get_config(self):
            return {}

        @classmethod
        def from_config(cls, config):
            return cls()

    one = Shared()
    with lamina.saving.serialization_lib.ObjectSharingScope():
        configs = lamina.saving.serialize_keras_object([one, one])
        back = lamina.saving.deserialize_keras_object(
            configs, custom_objects={"Shared": Shared}
        )
    assert isinstance(back[0], Shared) and back[0] is back[1]
