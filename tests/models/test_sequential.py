import numpy as np
import pytest

import lamina
from lamina import layers


def tutorial_model():
    model = lamina.Sequential()
    model.add(layers.Dense(64, activation="relu", input_shape=(32,)))
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def test_input_shape_argument_builds_the_model_at_once():
    model = tutorial_model()
    assert model.built
    assert model.output_shape == (None, 10)
    assert model.count_params() == 32 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10


def test_list_with_input_equals_add_calls():
    model = lamina.Sequential([lamina.Input((32,)), layers.Dense(4)])
    assert model.built and model.output_shape == (None, 4)
    assert [layer.name for layer in model.layers] == ["dense"]


def test_deferred_build_from_the_first_batch():
    model = lamina.Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built
    out = model(np.ones((5, 3), "float32"))
    assert out.shape == (5, 2) and model.built
    assert model.layers[0].kernel.shape == (3, 4)


def test_summary_matches_keras_table(capsys):
    model = lamina.Sequential(
        [
            lamina.Input((32,)),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.summary()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'Model: "sequential"'
    assert out[1] == "┏" + "━" * 33 + "┳" + "━" * 24 + "┳" + "━" * 15 + "┓"
    assert (
        out[2] == "┃ Layer (type)                    ┃ Output Shape           ┃"
        "       Param # ┃"
    )
    assert (
        out[4] == "│ dense (Dense)                   │ (None, 64)             │"
        "         2,112 │"
    )
    assert out[-3:] == [
        " Total params: 2,762 (10.79 KB)",
        " Trainable params: 2,762 (10.79 KB)",
        " Non-trainable params: 0 (0.00 B)",
    ]


def test_summary_of_unbuilt_model_marks_layers_unbuilt():
    lines = []
    lamina.Sequential([layers.Dense(4)]).summary(print_fn=lines.append)
    assert any("?" in line and "0 (unbuilt)" in line for line in lines)


def test_duplicate_layer_names_are_rejected():
    with pytest.raises(ValueError, match="unique names"):
        lamina.Sequential([layers.Dense(2, name="d"), layers.Dense(2, name="d")])


def test_adding_a_non_layer_is_a_value_error_as_in_keras():
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        lamina.Sequential([lambda x: x])
    with pytest.raises(ValueError, match="got dict"):
        lamina.Sequential().add({})


def test_pop_removes_the_last_layer():
    model = tutorial_model()
    model.pop()
    assert model.output_shape == (None, 64)


def test_state_dict_holds_every_weight_with_torch_style_keys():
    model = tutorial_model()
    assert list(model.state_dict())[:2] == ["layers.0.kernel", "layers.0.bias"]


def test_get_config_round_trip_rebuilds_same_architecture():
    model = tutorial_model()
    clone = lamina.Sequential.from_config(model.get_config())
    assert clone.output_shape == (None, 10)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    clone.set_weights(model.get_weights())
    x = np.random.rand(3, 32).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_input_shape_mismatch_in_fit_names_layer_and_sizes():
    model = tutorial_model()
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="'dense'.*size 32.*\\(32, 20\\)"):
        model.fit(np.ones((40, 20), "float32"), np.ones((40, 10), "float32"), verbose=0)


def test_model_config_uses_keras_namespaces():
    config = lamina.saving.serialize_keras_object(tutorial_model())
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    assert config["config"]["layers"][0]["class_name"] == "InputLayer"
    assert config["config"]["layers"][1]["module"] == "keras.layers"
