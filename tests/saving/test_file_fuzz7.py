"""Regressions found by the whole-model file fuzzer (Keras 3 <-> lamina), each
built from its smallest reproducer."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    "ignore:.*HDF5:UserWarning",
)

X = np.random.default_rng(0).random((6, 4), dtype=np.float32)
Y = np.random.default_rng(1).random((6, 2), dtype=np.float32)


def _rescaling_model(lib):
    inputs = lib.Input((4,))
    hidden = lib.layers.Dense(3, name="d1")(inputs)
    hidden = lib.layers.Rescaling(0.5, offset=0.1, name="resc")(hidden)
    return lib.Model(inputs, lib.layers.Dense(2, name="d2")(hidden))


def test_rescaling_after_a_weighted_layer_trains_after_a_first_predict():
    # predict() ran first in inference mode and Rescaling kept its constants
    # from that call; the next fit() then failed inside autograd.
    model = _rescaling_model(lamina)
    before = model.predict(X, verbose=0)
    model.compile(lamina.optimizers.SGD(0.1), "mse")
    history = model.fit(X, Y, batch_size=6, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(model.predict(X, verbose=0), before)


def test_rescaling_model_trains_like_keras_after_a_first_predict():
    keras = pytest.importorskip("keras")
    k_model, l_model = _rescaling_model(keras), _rescaling_model(lamina)
    l_model.set_weights(k_model.get_weights())
    for model, lib in ((k_model, keras), (l_model, lamina)):
        model.predict(X, verbose=0)
        model.compile(lib.optimizers.SGD(0.1), "mse")
        model.fit(X, Y, batch_size=6, shuffle=False, verbose=0)
    for k_w, l_w in zip(k_model.get_weights(), l_model.get_weights()):
        np.testing.assert_allclose(l_w, k_w, rtol=1e-5, atol=1e-6)


def _op_node_model(lib):
    # `x + 1.0`, ops.concatenate, slicing and ops.maximum become op nodes whose
    # class names ("Add", "Concatenate", "Maximum") are also merge layers'.
    inputs = lib.Input((4,), name="x")
    hidden = inputs + 1.0
    hidden = lib.ops.concatenate([hidden, inputs * 2.0, inputs[:, 0:1]], axis=-1)
    hidden = lib.ops.maximum(lib.ops.add(hidden, hidden), 0.5)
    return lib.Model(inputs, lib.layers.Dense(2, name="out")(hidden))


def test_legacy_h5_with_op_nodes_named_like_merge_layers_loads(tmp_path):
    model = _op_node_model(lamina)
    model.save(tmp_path / "m.h5")
    loaded = lamina.saving.load_model(tmp_path / "m.h5", compile=False)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    np.testing.assert_allclose(
        loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6
    )


def test_keras_legacy_h5_with_op_nodes_named_like_merge_layers_loads(tmp_path):
    keras = pytest.importorskip("keras")
    k_model = _op_node_model(keras)
    k_model.save(tmp_path / "k.h5")
    loaded = lamina.saving.load_model(tmp_path / "k.h5", compile=False)
    np.testing.assert_allclose(
        loaded.predict(X, verbose=0), k_model.predict(X, verbose=0), rtol=1e-5
    )


def test_legacy_h5_merge_layers_still_load_as_layers(tmp_path):
    inputs = lamina.Input((4,))
    a = lamina.layers.Dense(3, name="a")(inputs)
    b = lamina.layers.Dense(3, name="b")(inputs)
    merged = lamina.layers.Add(name="sum")([a, b])
    merged = lamina.layers.Concatenate(name="cat")([merged, a])
    model = lamina.Model(inputs, merged)
    model.save(tmp_path / "m.h5")
    loaded = lamina.saving.load_model(tmp_path / "m.h5", compile=False)
    assert isinstance(loaded.get_layer("sum"), lamina.layers.Add)
    assert isinstance(loaded.get_layer("cat"), lamina.layers.Concatenate)
    np.testing.assert_allclose(
        loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6
    )


def _two_output_layer_model(lib):
    @lib.saving.register_keras_serializable(package="fz7")
    class PlusMinus(lib.layers.Layer):
        def call(self, inputs):
            a, b = inputs
            return [a + b, a - b]

    inputs = lib.Input((4,), name="x")
    other = lib.layers.Dense(4, name="d")(inputs)
    plus, minus = PlusMinus(name="pm")([inputs, other])
    return lib.Model(inputs, lib.layers.Concatenate(name="cat")([plus, minus]))


def _summary_row(model, name):
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    rows = [
        [cell.strip() for cell in line.strip("│").split("│")][:3]
        for line in "\n".join(lines).splitlines()
        if line.startswith("│")
    ]
    start = next(i for i, row in enumerate(rows) if row[0].startswith(f"{name} ("))
    cells = rows[start]
    for row in rows[start + 1 :]:  # Keras wraps long cells onto more lines
        if row[0]:
            break
        cells = [f"{a} {b}".strip() for a, b in zip(cells, row)]
    return cells


def test_summary_shows_a_layers_two_outputs_as_a_list():
    assert _summary_row(_two_output_layer_model(lamina), "pm") == [
        "pm (PlusMinus)",
        "[(None, 4), (None, 4)]",
        "0",
    ]


def test_summary_row_of_a_two_output_layer_matches_keras():
    keras = pytest.importorskip("keras")
    k_row = _summary_row(_two_output_layer_model(keras), "pm")
    assert _summary_row(_two_output_layer_model(lamina), "pm") == k_row


def _nested_functional_model(lib):
    a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
    inner_input = lib.Input((4,), name="inner_in")
    inner = lib.Model(
        inner_input, lib.layers.Dense(4, name="inner_d")(inner_input), name="inner"
    )
    merged = lib.layers.Concatenate(name="cat")([inner(a), inner(b) * 3.0])
    return lib.Model([a, b], lib.layers.Dense(2, name="out")(merged), name="outer")


XS = [X, 10.0 * X[::-1]]


def _history_refs(config, layer_name):
    refs = []

    def walk(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            if value["config"]["keras_history"][0] == layer_name:
                refs.append(value["config"]["keras_history"])
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for entry in config["config"]["layers"]:
        for node in entry["inbound_nodes"]:
            walk(node["args"])
    return refs


def test_nested_functional_calls_are_numbered_from_zero_as_keras_3_writes():
    config = json.loads(_nested_functional_model(lamina).to_json())
    assert sorted(ref[1] for ref in _history_refs(config, "inner")) == [0, 1]


def test_nested_functional_config_numbered_from_one_still_loads():
    # lamina before this fix (and Keras 2) counted a nested model's calls from 1.
    model = _nested_functional_model(lamina)
    config = json.loads(model.to_json())
    for ref in _history_refs(config, "inner"):
        ref[1] += 1
    loaded = lamina.models.model_from_json(json.dumps(config))
    loaded.set_weights(model.get_weights())
    np.testing.assert_allclose(
        loaded.predict(XS, verbose=0), model.predict(XS, verbose=0), rtol=1e-6
    )


def test_keras_file_with_a_nested_functional_model_loads(tmp_path):
    keras = pytest.importorskip("keras")
    k_model = _nested_functional_model(keras)
    k_model.save(tmp_path / "k.keras")
    loaded = lamina.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(
        loaded.predict(XS, verbose=0), k_model.predict(XS, verbose=0), rtol=1e-5
    )


def test_lamina_file_with_a_nested_functional_model_loads_in_keras(tmp_path):
    keras = pytest.importorskip("keras")
    model = _nested_functional_model(lamina)
    model.save(tmp_path / "l.keras")
    loaded = keras.saving.load_model(tmp_path / "l.keras")
    np.testing.assert_allclose(
        loaded.predict(XS, verbose=0), model.predict(XS, verbose=0), rtol=1e-5
    )


def _nested_model_as_output(lib):
    inputs, inner_input = lib.Input((4,), name="x"), lib.Input((4,), name="inner_in")
    inner = lib.Model(
        inner_input, lib.layers.Dense(4, name="inner_d")(inner_input), name="inner"
    )
    hidden = inner(inputs)
    return lib.Model(inputs, [hidden, lib.layers.Dense(2, name="out")(hidden)])


def test_output_refs_count_a_nested_models_calls_from_one_as_keras_writes():
    config = json.loads(_nested_model_as_output(lamina).to_json())["config"]
    assert config["output_layers"] == [["inner", 1, 0], ["out", 0, 0]]
    assert _history_refs({"config": config}, "inner") == [["inner", 0, 0]]


def test_keras_file_whose_output_is_a_nested_models_output_loads(tmp_path):
    keras = pytest.importorskip("keras")
    k_model = _nested_model_as_output(keras)
    k_model.save(tmp_path / "k.keras")
    loaded = lamina.saving.load_model(tmp_path / "k.keras")
    for got, want in zip(loaded.predict(X, verbose=0), k_model.predict(X, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5)
