import json

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops


def two_in_two_out():
    a = lamina.Input((4,), name="a")
    b = lamina.Input((3,), name="b")
    shared = layers.Dense(5, name="shared")
    x = layers.concatenate([shared(layers.Dense(5)(a)), layers.Dense(5)(b)])
    out_reg = layers.Dense(1, name="out_reg")(ops.add(x, 1.0))
    out_cls = layers.Dense(2, activation="softmax", name="out_cls")(x)
    return lamina.Model([a, b], [out_reg, out_cls], name="demo")


def test_model_of_inputs_and_outputs_is_functional_with_keras_layer_order():
    model = two_in_two_out()
    assert isinstance(model, lamina.models.Functional)
    assert [layer.name for layer in model.layers] == [
        "a",
        "dense",
        "b",
        "shared",
        "dense_1",
        "concatenate",
        "out_reg",
        "out_cls",
    ]
    assert model.output_shape == [(None, 1), (None, 2)]
    assert model.output_names == ["out_reg", "out_cls"]


def test_functional_model_runs_and_equals_the_hand_computation():
    inputs = lamina.Input((3,))
    hidden = layers.Dense(3, kernel_initializer="identity", bias_initializer="ones")
    outputs = layers.add([inputs, hidden(inputs)])  # residual block
    model = lamina.Model(inputs, outputs)
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * x + 1)


def test_multi_output_losses_combine_with_loss_weights_exactly():
    model = two_in_two_out()
    model.compile(
        "sgd",
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights=[2.0, 0.5],
        metrics=[["mae"], ["accuracy"]],
    )
    x = [np.ones((8, 4), "float32"), np.ones((8, 3), "float32")]
    y = [np.zeros((8, 1), "float32"), np.zeros(8)]
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert set(logs) == {
        "loss",
        "out_reg_loss",
        "out_cls_loss",
        "out_reg_mae",
        "out_cls_accuracy",
    }
    assert logs["loss"] == pytest.approx(
        2.0 * logs["out_reg_loss"] + 0.5 * logs["out_cls_loss"], rel=1e-5
    )


def test_dict_inputs_outputs_and_losses_by_name():
    a = lamina.Input((4,), name="a")
    b = lamina.Input((3,), name="b")
    x = layers.concatenate([a, b])
    model = lamina.Model(
        {"a": a, "b": b}, {"r": layers.Dense(1)(x), "c": layers.Dense(2, "softmax")(x)}
    )
    model.compile(
        "adam",
        {"r": "mse", "c": "sparse_categorical_crossentropy"},
        metrics={"c": ["accuracy"]},
    )
    history = model.fit(
        {"a": np.ones((8, 4)), "b": np.ones((8, 3))},
        {"r": np.ones((8, 1)), "c": np.zeros(8)},
        epochs=2,
        verbose=0,
    )
    assert set(history.history) == {"loss", "r_loss", "c_loss", "c_accuracy"}
    out = model.predict({"a": np.ones((2, 4)), "b": np.ones((2, 3))}, verbose=0)
    assert set(out) == {"r", "c"} and out["c"].shape == (2, 2)


def test_dict_loss_with_unknown_output_name_is_rejected():
    model = two_in_two_out()
    model.compile("sgd", loss={"out_reg": "mse", "nope": "mse"})
    with pytest.raises(ValueError, match="unknown \\['nope'\\]"):
        model.fit(
            [np.ones((2, 4)), np.ones((2, 3))], [np.ones((2, 1)), np.ones(2)], verbose=0
        )


def test_shared_layer_gradients_sum_over_calls():
    shared = layers.Dense(1, use_bias=False, kernel_initializer="ones")
    a, b = lamina.Input((2,)), lamina.Input((2,))
    model = lamina.Model([a, b], layers.add([shared(a), shared(b)]))
    xa = torch.tensor([[1.0, 2.0]])
    xb = torch.tensor([[3.0, 5.0]])
    model([xa, xb]).sum().backward()
    np.testing.assert_allclose(shared.kernel.grad.cpu().numpy(), [[4.0], [7.0]])
    assert len(model.weights) == 1


def test_ops_on_symbolic_tensors_become_part_of_the_graph():
    inputs = lamina.Input((3,))
    outputs = ops.multiply(ops.relu(inputs), 2.0)
    model = lamina.Model(inputs, outputs)
    x = np.array([[-1.0, 0.5, 2.0]], "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), [[0.0, 1.0, 4.0]])
    assert outputs.shape == (None, 3)


def test_nested_models_train_and_summarise(capsys):
    inner = lamina.Sequential(
        [lamina.Input((3,)), layers.Dense(4, activation="relu")], name="inner"
    )
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, layers.Dense(1)(inner(inputs)))
    model.compile("adam", "mse")
    model.fit(np.random.rand(16, 3), np.random.rand(16, 1), epochs=1, verbose=0)
    assert len(model.trainable_weights) == 4
    model.summary(expand_nested=True)
    out = capsys.readouterr().out
    assert "inner (Sequential)" in out and "   └ dense" in out


def test_functional_summary_has_connected_to_column():
    lines = []
    two_in_two_out().summary(print_fn=lines.append)
    assert "Connected to" in lines[2]
    assert any("shared[0][0]," in line for line in lines)
    assert any("add (Add)" in line for line in lines)


def test_config_round_trip_rebuilds_the_graph_with_ops_and_shared_layers():
    model = two_in_two_out()
    config = json.loads(json.dumps(model.get_config()))
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    add_entry = next(e for e in config["layers"] if e["name"].startswith("add"))
    assert add_entry["module"] == "keras.src.ops.numpy"
    clone = lamina.models.Functional.from_config(config)
    clone.set_weights(model.get_weights())
    x = [np.random.rand(3, 4).astype("float32"), np.random.rand(3, 3).astype("float32")]
    for got, want in zip(clone.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_disconnected_graph_names_the_missing_input():
    a, b = lamina.Input((2,), name="a"), lamina.Input((2,), name="b")
    out = layers.add([a, b])
    with pytest.raises(ValueError, match="Graph disconnected.*'b'"):
        lamina.Model(a, out)


def test_unused_input_is_kept_as_in_keras():
    # Keras 3 keeps inputs no output uses (a custom loss may read them).
    a, b = lamina.Input((2,), name="a"), lamina.Input((2,), name="unused")
    model = lamina.Model([a, b], layers.Dense(1)(a))
    assert [layer.name for layer in model.layers][:2] == ["a", "unused"]
    assert len(model.layers) == 3
    out = model.predict([np.ones((3, 2)), np.ones((3, 2))], verbose=0)
    assert out.shape == (3, 1)


def test_duplicate_layer_names_in_a_graph_are_rejected():
    a = lamina.Input((2,))
    x = layers.Dense(2, name="same")(a)
    with pytest.raises(ValueError, match="\\['same'\\]"):
        lamina.Model(a, layers.Dense(2, name="same")(x))


def test_wrong_number_of_inputs_at_call_time():
    model = two_in_two_out()
    with pytest.raises(ValueError, match="expects 2 input"):
        model(np.ones((1, 4), "float32"))


def test_layer_on_incompatible_symbolic_shape_names_the_layer():
    dense = layers.Dense(2)
    dense(lamina.Input((3,)))
    with pytest.raises(ValueError, match="'dense'.*size 3.*\\(None, 5\\)"):
        dense(lamina.Input((5,)))


def test_freezing_a_nested_model_removes_its_weights_from_training():
    inner = lamina.Sequential([lamina.Input((3,)), layers.Dense(4)])
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, layers.Dense(1)(inner(inputs)))
    inner.trainable = False
    model.compile("sgd", "mse")
    before = inner.get_weights()
    model.fit(np.random.rand(8, 3), np.random.rand(8, 1), epochs=2, verbose=0)
    for a, b in zip(before, inner.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 2
    assert len(model.non_trainable_weights) == 2


def test_layer_input_and_output_build_feature_extractors_as_in_keras():
    inputs = lamina.Input((4,), name="pixels")
    hidden = lamina.layers.Dense(3, name="hidden")(inputs)
    model = lamina.Model(inputs, lamina.layers.Dense(2)(hidden))
    assert model.get_layer("hidden").input is inputs
    assert model.get_layer("hidden").output is hidden
    features = lamina.Model(model.input, model.get_layer("hidden").output)
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(
        features.predict(x, verbose=0),
        model.get_layer("hidden")(x).detach().cpu().numpy(),
    )
    sequential = lamina.Sequential(
        [lamina.Input((4,)), lamina.layers.Dense(3), lamina.layers.Dense(2)]
    )
    assert sequential.output is sequential.layers[-1].output
    assert lamina.Model(sequential.input, sequential.layers[0].output).output_shape == (
        None,
        3,
    )
    assert not hasattr(lamina.layers.Dense(2), "output")  # never called


def test_summary_of_two_heads_on_one_input_has_the_connected_to_column(capsys):
    # Keras 3.15: two calls at the same depth make the model a graph.
    inputs = lamina.Input((3,))
    heads = [layers.Dense(2, name="a")(inputs), layers.Dense(2, name="b")(inputs)]
    lamina.Model(inputs, heads).summary()
    assert "Connected to" in capsys.readouterr().out
    chain = lamina.Input((3,))
    lamina.Model(chain, layers.Dense(1)(layers.Dense(2)(chain))).summary()
    assert "Connected to" not in capsys.readouterr().out
