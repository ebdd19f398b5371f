"""Functional models, cloning, op configs and summary() as Keras 3 has them:
clone_model's input_tensors structure check, legacy layer entries without a
`module` (loops and missing nodes named), op arguments that are functions, and
summary(show_trainable=..., positions=...)."""

import json
import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _two_input_model(kind):
    x, y = lamina.Input((3,), name="x"), lamina.Input((3,), name="y")
    inputs = {"dict": {"x": x, "y": y}, "list": [x, y], "tuple": (x, y)}[kind]
    return lamina.Model(inputs, layers.Add()([x, y]))


# --- 1. clone_model(input_tensors=...) must match model.input's structure -----


@pytest.mark.parametrize(
    "kind, given",
    [
        ("dict", "tuple"),
        ("dict", "list"),
        ("dict", "dict_other_keys"),
        ("list", "tuple"),
        ("list", "dict"),
        ("tuple", "list"),
        ("list", "single"),
    ],
)
def test_clone_model_refuses_input_tensors_of_another_structure(kind, given):
    model = _two_input_model(kind)
    a, b = lamina.Input((3,), name="a"), lamina.Input((3,), name="b")
    tensors = {
        "tuple": (a, b),
        "list": [a, b],
        "dict": {"x": a, "y": b},
        "dict_other_keys": {"x": a, "z": b},
        "single": a,
    }[given]
    with pytest.raises(ValueError, match="must have the same structure as model.input"):
        lamina.models.clone_model(model, input_tensors=tensors)


@pytest.mark.parametrize("kind", ["dict", "list", "tuple"])
def test_clone_model_takes_input_tensors_of_the_same_structure(kind):
    model = _two_input_model(kind)
    a, b = lamina.Input((3,), name="x"), lamina.Input((3,), name="y")
    tensors = {"dict": {"x": a, "y": b}, "list": [a, b], "tuple": (a, b)}[kind]
    clone = lamina.models.clone_model(model, input_tensors=tensors)
    assert type(clone.input) is type(tensors)
    data = np.ones((2, 3), "float32")
    feed = {"x": data, "y": data} if kind == "dict" else [data, data]
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(clone(feed)), 2 * data)


def test_clone_model_refuses_input_tensors_that_are_not_keras_tensors():
    model = _two_input_model("list")
    with pytest.raises(ValueError, match="KerasTensors"):
        lamina.models.clone_model(model, input_tensors=[np.ones((1, 3))] * 2)


# --- 2. legacy layer entries (no `module`) in a functional config -------------


def _legacy_input():
    return {
        "class_name": "InputLayer",
        "name": "input_1",
        "config": {
            "batch_input_shape": [None, 10],
            "dtype": "float32",
            "name": "input_1",
        },
        "inbound_nodes": [],
    }


def _legacy_dense(name, source):
    return {
        "class_name": "Dense",
        "name": name,
        "config": {"units": 10, "name": name},
        "inbound_nodes": [[[source, 0, 0, {}]]],
    }


def test_functional_config_with_a_loop_is_a_value_error():
    config = {
        "name": "infinite_loop_model",
        "layers": [
            _legacy_input(),
            _legacy_dense("node_a", "node_b"),
            _legacy_dense("node_b", "node_a"),
        ],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["node_b", 0, 0]],
    }
    with pytest.raises(ValueError, match="loop"):
        lamina.models.Functional.from_config(config)


def test_functional_config_naming_a_missing_layer_is_a_value_error():
    config = {
        "name": "missing",
        "layers": [_legacy_input(), _legacy_dense("node_a", "node_b")],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["node_a", 0, 0]],
    }
    with pytest.raises(ValueError, match="Missing node: node_b"):
        lamina.models.Functional.from_config(config)


def test_functional_config_without_modules_is_rebuilt():
    config = {
        "name": "legacy",
        "layers": [_legacy_input(), _legacy_dense("node_a", "input_1")],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["node_a", 0, 0]],
    }
    model = lamina.models.Functional.from_config(config)
    assert [layer.name for layer in model.layers] == ["input_1", "node_a"]
    assert tuple(model(np.ones((2, 10), "float32")).shape) == (2, 10)


# --- 4. op arguments that are functions (vectorized_map) ----------------------


@lamina.saving.register_keras_serializable(package="structure9b")
def _double(x):
    return x + x


def test_vectorized_map_model_round_trips_through_its_config():
    inputs = lamina.Input((10,))
    model = lamina.Model(inputs, lamina.ops.vectorized_map(_double, inputs))
    config = json.loads(json.dumps(model.get_config()))
    assert config["layers"][1]["config"]["function"]["config"] == "structure9b>_double"
    data = np.random.default_rng(0).random((5, 10)).astype("float32")
    for _ in range(2):  # the reloaded model's config reloads too
        model = lamina.Model.from_config(config)
        np.testing.assert_allclose(
            lamina.ops.convert_to_numpy(model(data)), 2 * data, rtol=1e-6
        )
        config = json.loads(json.dumps(model.get_config()))


def _triple(x):
    return x * 3


def test_vectorized_map_config_written_by_keras_loads():
    keras = pytest.importorskip("keras")
    keras.saving.register_keras_serializable(package="structure9b")(_triple)
    inputs = keras.Input((4,))
    reference = keras.Model(inputs, keras.ops.vectorized_map(_triple, inputs))
    config = json.loads(json.dumps(reference.get_config()))
    # Keras's node passes the tensor positionally; `function` is in the config.
    model = lamina.Model.from_config(
        config, custom_objects={"structure9b>_triple": _triple}
    )
    data = np.arange(8, dtype="float32").reshape(2, 4)
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(model(data)), np.asarray(reference(data))
    )


def test_vectorized_map_with_a_lambda_needs_safe_mode_off():
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, lamina.ops.vectorized_map(lambda t: t * 3, inputs))
    config = json.loads(json.dumps(model.get_config()))
    with pytest.raises(ValueError, match="safe_mode=False"):
        lamina.Model.from_config(config)
    with lamina.saving.SafeModeScope(False):
        reloaded = lamina.Model.from_config(config)
    data = np.ones((2, 3), "float32")
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(reloaded(data)), 3 * data)


# --- 5. summary(show_trainable=..., positions=...) as Keras prints it ---------


def _models(lib):
    L = lib.layers
    seq = lib.Sequential(
        [
            lib.Input((4,)),
            L.Dense(3, name="d1"),
            L.Dropout(0.1, name="drop"),
            L.Dense(2, name="d2", trainable=False),
        ],
        name="seq",
    )
    x, y = lib.Input((4,), name="x"), lib.Input((4,), name="y")
    added = L.Add(name="add")([L.Dense(4, name="dx")(x), y])
    func = lib.Model([x, y], L.Dense(2, name="head")(added), name="func")
    i = lib.Input((4,), name="i")
    nested = lib.Model(i, L.Dense(1, name="out")(seq(i)), name="nested")
    return seq, func, nested


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"show_trainable": True},
        {"show_trainable": True, "expand_nested": True},
        {"line_length": 60, "show_trainable": True},
        {"line_length": 100},
        {"positions": [0.2, 0.5, 0.6, 1.0]},
    ],
)
def test_summary_prints_keras_layout(kwargs, monkeypatch):
    keras = pytest.importorskip("keras")
    monkeypatch.setenv("COLUMNS", "200")
    for ours, theirs in zip(_models(lamina), _models(keras)):
        if "positions" in kwargs and ours.name != "func":
            continue  # four positions fit the model with "Connected to" only
        lines, text = [], []
        ours.summary(print_fn=lines.append, **kwargs)
        theirs.summary(print_fn=text.append, **kwargs)
        assert "\n".join(lines) == text[0].rstrip("\n")


def test_summary_trainable_column_marks_each_layer():
    lines = []
    _models(lamina)[0].summary(print_fn=lines.append, show_trainable=True)
    rows = [line for line in lines if line.startswith("│")]
    assert [row.rstrip("│").split("│")[-1].strip() for row in rows] == ["Y", "-", "N"]


def test_summary_refuses_columns_narrower_than_four():
    with pytest.raises(ValueError, match="Insufficient console width"):
        _models(lamina)[0].summary(line_length=10)


def test_sequential_from_config_reads_keras2_layer_entries_without_module():
    config = {
        "name": "s",
        "layers": [
            {
                "class_name": "InputLayer",
                "config": {"batch_input_shape": [None, 3], "dtype": "float32"},
            },
            {"class_name": "Dense", "config": {"units": 2, "name": "d"}},
        ],
    }
    model = lamina.Sequential.from_config(config)
    assert [layer.name for layer in model.layers] == ["d"]
    assert model.output_shape == (None, 2)
