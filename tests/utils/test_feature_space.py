"""FeatureSpace: encoding structured data as keras.utils.FeatureSpace does.

Keras's FeatureSpace runs through TensorFlow (absent here), so values are
checked against what each preprocessing layer gives on its own.
"""

import json

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.utils import FeatureSpace

DATA = {
    "age": [21.0, 35.0, 50.0, 40.0, 35.0],
    "city": ["paris", "rome", "paris", "oslo", "paris"],
    "rooms": [1, 2, 2, 3, 2],
}


def _space(**kwargs):
    features = {
        "age": "float_normalized",
        "city": "string_categorical",
        "rooms": "integer_categorical",
    }
    return FeatureSpace(features, **kwargs)


def test_concat_is_sorted_features_then_crosses_each_encoded():
    fs = _space(crosses=[("city", "rooms")], crossing_dim=8)
    fs.adapt(DATA)
    out = fs(DATA).cpu().numpy()

    age = np.array(DATA["age"], dtype=np.float32)
    normalized = (age - age.mean()) / age.std()
    city = layers.StringLookup()
    city.adapt(np.array(DATA["city"]).reshape(-1, 1))
    rooms = layers.IntegerLookup()
    rooms.adapt(np.array(DATA["rooms"]).reshape(-1, 1))
    city_ids = city(np.array(DATA["city"]).reshape(-1, 1))
    room_ids = rooms(np.array(DATA["rooms"]).reshape(-1, 1))
    crossed = layers.HashedCrossing(8)([city_ids, room_ids]).cpu().numpy()[:, 0]

    n_city, n_rooms = city.vocabulary_size(), rooms.vocabulary_size()
    assert out.shape == (5, 1 + n_city + n_rooms + 8)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], normalized, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        out[:, 1 : 1 + n_city], np.eye(n_city)[city_ids.cpu().numpy()[:, 0]]
    )
    np.testing.assert_array_equal(
        out[:, 1 + n_city : 1 + n_city + n_rooms],
        np.eye(n_rooms)[room_ids.cpu().numpy()[:, 0]],
    )
    np.testing.assert_array_equal(out[:, -8:], np.eye(8)[crossed])


def test_one_sample_of_scalars_gives_an_unbatched_vector():
    fs = _space()
    fs.adapt(DATA)
    batch = fs(DATA)
    one = fs({"age": 35.0, "city": "rome", "rooms": 2})
    assert tuple(one.shape) == (batch.shape[1],)
    np.testing.assert_allclose(one.cpu().numpy(), batch[1].cpu().numpy())


def test_dict_mode_keeps_int_outputs_and_one_hot_widths():
    fs = FeatureSpace(
        {
            "age": FeatureSpace.float_discretized(num_bins=3),
            "city": FeatureSpace.string_hashed(num_bins=4, output_mode="int"),
            "rooms": FeatureSpace.integer_hashed(num_bins=5),
        },
        output_mode="dict",
    )
    fs.adapt(DATA)
    out = fs(DATA)
    assert sorted(out) == ["age", "city", "rooms"]
    assert tuple(out["age"].shape) == (5, 3)
    assert tuple(out["rooms"].shape) == (5, 5)
    hashed = layers.Hashing(num_bins=4)(np.array(DATA["city"]).reshape(-1, 1))
    np.testing.assert_array_equal(out["city"].cpu().numpy(), hashed.cpu().numpy())
    np.testing.assert_array_equal(out["age"].cpu().numpy().sum(axis=1), np.ones(5))


def test_bin_boundaries_rescaling_and_plain_floats_need_no_adapt():
    fs = FeatureSpace(
        {
            "a": FeatureSpace.float_discretized(
                num_bins=None, bin_boundaries=[0.0, 1.0]
            ),
            "b": FeatureSpace.float_rescaled(scale=2.0, offset=1.0),
            "c": "float",
        }
    )
    out = fs({"a": [-1.0, 0.5, 3.0], "b": [0.0, 1.0, 2.0], "c": [7.0, 8.0, 9.0]})
    np.testing.assert_array_equal(out[:, :3].cpu().numpy(), np.eye(3))
    np.testing.assert_allclose(out[:, 3].cpu().numpy(), [1.0, 3.0, 5.0])
    np.testing.assert_allclose(out[:, 4].cpu().numpy(), [7.0, 8.0, 9.0])


def test_adapt_on_batches_equals_adapt_on_a_dict():
    whole = _space()
    whole.adapt(DATA)
    batches = [
        {key: values[i : i + 2] for key, values in DATA.items()} for i in (0, 2, 4)
    ]
    batched = _space()
    batched.adapt(iter(batches))
    torch.testing.assert_close(batched(DATA), whole(DATA))
    samples = [{key: values[i] for key, values in DATA.items()} for i in range(5)]
    per_sample = _space()
    per_sample.adapt(samples)
    torch.testing.assert_close(per_sample(DATA), whole(DATA))


def test_encoded_features_build_a_model_that_fits_on_the_encoding():
    fs = _space(crosses=[FeatureSpace.cross(("city", "rooms"), crossing_dim=4)])
    fs.adapt(DATA)
    encoded = fs.get_encoded_features()
    x = fs(DATA)
    assert tuple(encoded.shape) == (None, x.shape[1])
    outputs = layers.Dense(1, activation="sigmoid")(encoded)
    model = lamina.Model(encoded, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, np.array([0, 1, 0, 1, 1]), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()


def test_raw_inputs_give_an_inference_model_equal_to_the_training_model(tmp_path):
    fs = _space(crosses=[("city", "rooms")], crossing_dim=8)
    fs.adapt(DATA)
    inputs = fs.get_inputs()
    assert {k: (tuple(v.shape), v.dtype) for k, v in inputs.items()} == {
        "age": ((None, 1), "float32"),
        "city": ((None, 1), "string"),
        "rooms": ((None, 1), "int32"),
    }
    encoded = fs.get_encoded_features()
    outputs = layers.Dense(1)(encoded)
    training_model = lamina.Model(encoded, outputs)
    inference_model = lamina.Model(inputs, outputs)
    raw = {key: np.array(values) for key, values in DATA.items()}
    np.testing.assert_allclose(
        inference_model.predict(raw, verbose=0),
        training_model.predict(fs(DATA), verbose=0),
        rtol=1e-6,
    )
    path = tmp_path / "inference.keras"
    inference_model.save(path)
    reloaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(raw, verbose=0), inference_model.predict(raw, verbose=0)
    )


def test_config_is_keras_shaped_and_round_trips():
    fs = _space(crosses=[("city", "rooms")], crossing_dim=16)
    config = lamina.saving.serialize_keras_object(fs)
    assert config["module"] == "keras.utils"
    assert config["class_name"] == "FeatureSpace"
    feature = config["config"]["features"]["city"]
    assert feature["module"] == "keras.src.layers.preprocessing.feature_space"
    assert feature["class_name"] == "Feature"
    assert feature["config"]["preprocessor"]["class_name"] == "StringLookup"
    assert config["config"]["crosses"][0]["config"] == {
        "feature_names": ["city", "rooms"],
        "crossing_dim": 16,
        "output_mode": "one_hot",
    }
    clone = lamina.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert isinstance(clone, FeatureSpace)
    assert clone.crosses[0].feature_names == ("city", "rooms")
    assert clone.features["rooms"].dtype == "int32"


def test_save_and_load_keep_the_learned_state(tmp_path):
    fs = _space(crosses=[("city", "rooms")], crossing_dim=8)
    fs.adapt(DATA)
    path = tmp_path / "features.keras"
    fs.save(path)
    loaded = lamina.saving.load_model(path)
    assert isinstance(loaded, FeatureSpace)
    new = {"age": [30.0], "city": ["rome"], "rooms": [3]}
    torch.testing.assert_close(loaded(new), fs(new))
    torch.testing.assert_close(loaded(DATA), fs(DATA))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FeatureSpace({}), "non-empty `features`"),
        (lambda: FeatureSpace({"a": "floaty"}), "unknown type 'floaty'"),
        (lambda: FeatureSpace({"a": "float"}, output_mode="list"), "output_mode"),
        (lambda: FeatureSpace({"a": "float"}, crosses=[("a", "b")]), r"\['b'\]"),
        (lambda: FeatureSpace.cross(("a", "b"), 4, output_mode="float"), "output_mode"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_usage_errors_say_what_was_expected():
    fs = _space()
    with pytest.raises(ValueError, match="call `.adapt"):
        fs(DATA)
    fs.adapt(DATA)
    with pytest.raises(ValueError, match=r"no values for features \['rooms'\]"):
        fs({"age": [1.0], "city": ["rome"]})
    with pytest.raises(ValueError, match="called with a dict"):
        fs([1.0, 2.0])
    with pytest.raises(ValueError, match="each element of the data must be a dict"):
        _space().adapt([[1.0, 2.0]])
    not_encoded = FeatureSpace(
        {"rooms": FeatureSpace.integer_hashed(4, output_mode="int")}
    )
    with pytest.raises(ValueError, match="cannot concatenate feature 'rooms'"):
        not_encoded({"rooms": [1, 2]})
    float_one_hot = FeatureSpace(
        {"a": FeatureSpace.feature("float32", layers.Rescaling(1.0), "one_hot")}
    )
    with pytest.raises(ValueError, match="must return integers; it returns float32"):
        float_one_hot({"a": [1.0]})
