"""Whole models in legacy `.h5` files: Keras 3.15 -> lamina, lamina -> Keras,
Keras 2 layouts, and hostile files refused without running anything."""

import json
import os
import warnings

import h5py
import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- Keras 3 models saved by Keras to .h5 ------------------------------------


def _keras_sequential():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(2, name="out"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.MeanSquaredError(),
        metrics=[keras.metrics.MeanAbsoluteError()],
    )
    x, y = RNG.random((16, 4), "float32"), RNG.random((16, 2), "float32")
    return model, x, y


def _keras_functional():
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    shared = keras.layers.Dense(5, activation="tanh", name="shared")
    merged = keras.layers.Concatenate(name="cat")([shared(a), shared(b)])
    out1 = keras.layers.Dense(1, name="out1")(merged)
    out2 = keras.layers.Dense(3, activation="softmax", name="out2")(merged)
    model = keras.Model([a, b], [out1, out2])
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=[
            keras.losses.MeanSquaredError(),
            keras.losses.CategoricalCrossentropy(),
        ],
        loss_weights=[1.0, 0.5],
    )
    x = [RNG.random((16, 4), "float32"), RNG.random((16, 4), "float32")]
    y = [
        RNG.random((16, 1), "float32"),
        np.eye(3, dtype="float32")[RNG.integers(0, 3, 16)],
    ]
    return model, x, y


def _keras_recurrent():
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    h = keras.layers.Embedding(20, 8, mask_zero=True, name="embed")(tokens)
    h = keras.layers.LSTM(5, name="lstm")(h)
    h = keras.layers.BatchNormalization(name="bn")(h)
    out = keras.layers.Dense(1, name="out")(h)
    model = keras.Model(tokens, out)
    model.compile(
        optimizer=keras.optimizers.Adam(), loss=keras.losses.MeanSquaredError()
    )
    x = RNG.integers(0, 20, (16, 6)).astype("int32")
    x[:, 4:] = 0  # padding, masked
    return model, x, RNG.random((16, 1), "float32")


@pytest.fixture(scope="module", params=["sequential", "functional", "recurrent"])
def keras_h5(request, tmp_path_factory):
    keras.utils.set_random_seed(1)
    build = {
        "sequential": _keras_sequential,
        "functional": _keras_functional,
        "recurrent": _keras_recurrent,
    }[request.param]
    model, x, y = build()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)  # moves BN statistics too
    path = tmp_path_factory.mktemp("h5") / f"{request.param}.h5"
    _quiet(model.save, path)
    return model, path, x, y


def _assert_close(a, b, atol=1e-5):
    a = a if isinstance(a, (list, tuple)) else [a]
    b = b if isinstance(b, (list, tuple)) else [b]
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), atol=atol)


def test_keras_h5_model_loads_with_same_predictions_and_evaluate(keras_h5):
    keras_model, path, x, y = keras_h5
    model = lamina.saving.load_model(path)
    assert [layer.name for layer in model.layers] == [
        layer.name for layer in keras_model.layers
    ]
    _assert_close(model.predict(x, verbose=0), keras_model.predict(x, verbose=0))
    assert model.optimizer is not None
    assert type(model.optimizer).__name__ == type(keras_model.optimizer).__name__
    # The optimizer state came back too (the step count after 2 epochs of 2).
    assert int(model.optimizer.iterations) == 4
    # Keras's own loader skips metrics it cannot rebuild; compare the loss.
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    theirs = keras_model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5, atol=1e-6)


def test_keras_h5_model_loads_uncompiled(keras_h5):
    keras_model, path, x, _ = keras_h5
    model = lamina.saving.load_model(path, compile=False)
    assert model.optimizer is None
    _assert_close(model.predict(x, verbose=0), keras_model.predict(x, verbose=0))


# --- lamina -> .h5 -> Keras ----------------------------------------------------


def _lamina_functional():
    a = lamina.Input((4,), name="a")
    b = lamina.Input((4,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    merged = layers.Concatenate(name="cat")([shared(a), shared(b)])
    h = layers.BatchNormalization(name="bn")(merged)
    out1 = layers.Dense(1, name="out1")(h)
    out2 = layers.Dense(3, name="out2")(h)
    model = lamina.Model([a, b], [out1, out2])
    model.compile(
        optimizer=lamina.optimizers.Adam(0.01),
        loss=[lamina.losses.MeanSquaredError(), lamina.losses.MeanAbsoluteError()],
    )
    x = [RNG.random((16, 4), "float32"), RNG.random((16, 4), "float32")]
    y = [RNG.random((16, 1), "float32"), RNG.random((16, 3), "float32")]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model, x, y


def test_lamina_h5_loads_in_keras_with_same_predictions(tmp_path):
    model, x, y = _lamina_functional()
    path = tmp_path / "ours.h5"
    with pytest.warns(UserWarning, match=r"legacy HDF5.*\.keras"):
        model.save(path)
    with h5py.File(path) as f:
        assert set(f.attrs) == {
            "keras_version",
            "backend",
            "model_config",
            "training_config",
        }
        assert f.attrs["backend"] == "torch"
        assert sorted(f) == ["model_weights", "optimizer_weights"]
        config = json.loads(f.attrs["model_config"])
        assert config["class_name"] == "Functional"
        assert "module" not in config["config"]["layers"][1]
    loaded = _quiet(keras.saving.load_model, path)
    _assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(loaded.optimizer.iterations) == 4
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )
    again = lamina.saving.load_model(path)
    _assert_close(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)
    for mine, saved in zip(again.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(saved))


def test_lamina_sequential_recurrent_h5_loads_in_keras(tmp_path):
    model = lamina.Sequential(
        [
            lamina.Input((6,), dtype="int32"),
            layers.Embedding(20, 8, mask_zero=True),
            layers.LSTM(5),
            layers.Dense(2),
        ]
    )
    x = RNG.integers(0, 20, (8, 6)).astype("int32")
    x[:, 3:] = 0
    path = tmp_path / "seq.hdf5"
    _quiet(lamina.saving.save_model, model, path)
    loaded = _quiet(keras.saving.load_model, path, compile=False)
    assert isinstance(loaded, keras.Sequential)
    _assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_include_optimizer_false_writes_no_training_config(tmp_path):
    model, x, _ = _lamina_functional()
    path = tmp_path / "plain.h5"
    _quiet(model.save, path, include_optimizer=False)
    with h5py.File(path) as f:
        assert "training_config" not in f.attrs and "optimizer_weights" not in f
    with pytest.warns(UserWarning, match="no training configuration"):
        loaded = lamina.saving.load_model(path)
    assert loaded.optimizer is None
    _assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)


def test_model_checkpoint_writes_h5(tmp_path):
    model, x, y = _lamina_functional()
    path = tmp_path / "ckpt-{epoch}.h5"
    callback = lamina.callbacks.ModelCheckpoint(str(path), monitor="loss")
    _quiet(model.fit, x, y, epochs=2, verbose=0, callbacks=[callback])
    loaded = lamina.saving.load_model(tmp_path / "ckpt-2.h5")
    _assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)
    with pytest.raises(ValueError, match=r"`\.keras`.*`\.h5`"):
        lamina.callbacks.ModelCheckpoint(str(tmp_path / "m.hd5"))


def test_h5_save_is_atomic_and_honours_overwrite(tmp_path, monkeypatch):
    from lamina.saving import legacy_h5_model

    model, x, _ = _lamina_functional()
    path = tmp_path / "m.h5"
    _quiet(model.save, path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        _quiet(model.save, path, overwrite=False)

    def broken(group, model):
        raise RuntimeError("disk full")

    monkeypatch.setattr(legacy_h5_model, "_write_model_weights", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _quiet(model.save, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.h5"]


def test_save_format_is_ignored_with_a_warning(tmp_path):
    model, _, _ = _lamina_functional()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save(tmp_path / "m.h5", save_format="h5")
    assert any("save_format is deprecated" in str(w.message) for w in caught)
    assert h5py.is_hdf5(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"save_format='h5' needs a path"):
        model.save(tmp_path / "m.keras2", save_format="h5")


# --- Keras 2 (tf.keras 2.x) layouts --------------------------------------------


def _initializer(name, **config):
    return {"class_name": name, "config": {"seed": None, **config}}


def _keras2_dense(name, units, activation, batch_input_shape=None):
    config = {
        "name": name,
        "trainable": True,
        "dtype": "float32",
        "units": units,
        "activation": activation,
        "use_bias": True,
        "kernel_initializer": _initializer("GlorotUniform"),
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}},
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    if batch_input_shape is not None:
        config["batch_input_shape"] = batch_input_shape
    return {"class_name": "Dense", "config": config}


def _keras2_functional_config():
    """A functional model as tf.keras 2.12 wrote it into `.h5` files."""
    embed = {
        "class_name": "Embedding",
        "config": {
            "name": "embedding",
            "trainable": True,
            "dtype": "float32",
            "batch_input_shape": [None, 5],
            "input_dim": 10,
            "output_dim": 4,
            "embeddings_initializer": {
                "class_name": "RandomUniform",
                "config": {"minval": -0.05, "maxval": 0.05, "seed": None},
            },
            "embeddings_regularizer": None,
            "activity_regularizer": None,
            "embeddings_constraint": None,
            "mask_zero": True,
            "input_length": 5,
        },
        "name": "embedding",
        "inbound_nodes": [[["input_1", 0, 0, {}]]],
    }
    lstm = {
        "class_name": "LSTM",
        "config": {
            "name": "lstm",
            "trainable": True,
            "dtype": "float32",
            "return_sequences": False,
            "return_state": False,
            "go_backwards": False,
            "stateful": False,
            "unroll": False,
            "time_major": False,
            "units": 3,
            "activation": "tanh",
            "recurrent_activation": "sigmoid",
            "use_bias": True,
            "kernel_initializer": _initializer("GlorotUniform"),
            "recurrent_initializer": _initializer("Orthogonal", gain=1.0),
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "unit_forget_bias": True,
            "kernel_regularizer": None,
            "recurrent_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
            "implementation": 2,
        },
        "name": "lstm",
        "inbound_nodes": [[["embedding", 0, 0, {}]]],
    }
    bn = {
        "class_name": "BatchNormalization",
        "config": {
            "name": "batch_normalization",
            "trainable": True,
            "dtype": "float32",
            "axis": [1],
            "momentum": 0.99,
            "epsilon": 0.001,
            "center": True,
            "scale": True,
            "beta_initializer": {"class_name": "Zeros", "config": {}},
            "gamma_initializer": {"class_name": "Ones", "config": {}},
            "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
            "moving_variance_initializer": {"class_name": "Ones", "config": {}},
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        },
        "name": "batch_normalization",
        "inbound_nodes": [[["lstm", 0, 0, {}]]],
    }
    side = {**_keras2_dense("side", 3, "relu"), "name": "side"}
    side["inbound_nodes"] = [[["input_2", 0, 0, {}]]]
    add = {
        "class_name": "Add",
        "config": {"name": "add", "trainable": True, "dtype": "float32"},
        "name": "add",
        "inbound_nodes": [[["batch_normalization", 0, 0, {}], ["side", 0, 0, {}]]],
    }
    out = {**_keras2_dense("dense", 1, "linear"), "name": "dense"}
    out["inbound_nodes"] = [[["add", 0, 0, {}]]]
    inputs = []
    for name, shape, dtype in (
        ("input_1", [None, 5], "float32"),
        ("input_2", [None, 2], "float32"),
    ):
        inputs.append(
            {
                "class_name": "InputLayer",
                "config": {
                    "batch_input_shape": shape,
                    "dtype": dtype,
                    "sparse": False,
                    "ragged": False,
                    "name": name,
                },
                "name": name,
                "inbound_nodes": [],
            }
        )
    return {
        "class_name": "Functional",
        "config": {
            "name": "model",
            "trainable": True,
            "layers": [inputs[0], embed, lstm, bn, inputs[1], side, add, out],
            "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
            "output_layers": [["dense", 0, 0]],
        },
    }


def _keras2_weights():
    """{layer: [(weight name, value), ...]} as tf.keras 2 named them."""
    return {
        "embedding": [("embedding/embeddings:0", RNG.normal(size=(10, 4)))],
        "lstm": [
            ("lstm/lstm_cell/kernel:0", RNG.normal(size=(4, 12)) * 0.5),
            ("lstm/lstm_cell/recurrent_kernel:0", RNG.normal(size=(3, 12)) * 0.5),
            ("lstm/lstm_cell/bias:0", RNG.normal(size=(12,)) * 0.1),
        ],
        "batch_normalization": [
            ("batch_normalization/gamma:0", RNG.random(3) + 0.5),
            ("batch_normalization/beta:0", RNG.normal(size=3)),
            ("batch_normalization/moving_mean:0", RNG.normal(size=3)),
            ("batch_normalization/moving_variance:0", RNG.random(3) + 0.5),
        ],
        "side": [
            ("side/kernel:0", RNG.normal(size=(2, 3))),
            ("side/bias:0", RNG.normal(size=3)),
        ],
        "dense": [
            ("dense/kernel:0", RNG.normal(size=(3, 1))),
            ("dense/bias:0", RNG.normal(size=1)),
        ],
    }


def _write_keras2_h5(path, config, weights, layer_names, training_config=None):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.12.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [n.encode("utf8") for n in layer_names]
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.12.0"
        for name in layer_names:
            layer_group = group.create_group(name)
            entries = weights.get(name, [])
            layer_group.attrs["weight_names"] = [w.encode("utf8") for w, _ in entries]
            for weight_name, value in entries:
                layer_group.create_dataset(
                    weight_name, data=np.asarray(value, "float32")
                )
    return path


_KERAS2_TRAINING = {
    "loss": {
        "class_name": "MeanSquaredError",
        "config": {"reduction": "auto", "name": "mean_squared_error"},
    },
    "metrics": [
        [
            {
                "class_name": "MeanMetricWrapper",
                "config": {
                    "name": "mae",
                    "dtype": "float32",
                    "fn": "mean_absolute_error",
                },
            }
        ]
    ],
    "weighted_metrics": None,
    "loss_weights": None,
    "optimizer_config": {
        "class_name": "Adam",
        "config": {
            "name": "Adam",
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "jit_compile": True,
            "is_legacy_optimizer": False,
            "learning_rate": 0.002,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-07,
            "amsgrad": False,
        },
    },
}


def _lstm_reference(x, kernel, recurrent, bias, units):
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    return h


def test_keras2_functional_h5_loads(tmp_path):
    weights = _keras2_weights()
    config = _keras2_functional_config()
    names = [layer["name"] for layer in config["config"]["layers"]]
    path = _write_keras2_h5(
        tmp_path / "k2.h5", config, weights, names, _KERAS2_TRAINING
    )
    model = lamina.saving.load_model(path)
    tokens = RNG.integers(1, 10, (4, 5)).astype("float32")  # no padding
    side_in = RNG.random((4, 2), "float32")
    got = model.predict([tokens, side_in], verbose=0)
    w = {
        k: [np.asarray(v, "float32").astype("float64") for _, v in e]
        for k, e in weights.items()
    }
    emb = w["embedding"][0][tokens.astype(int)]
    h = _lstm_reference(emb, *w["lstm"], units=3)
    gamma, beta, mean, var = w["batch_normalization"]
    h = (h - mean) / np.sqrt(var + 1e-3) * gamma + beta
    side = np.maximum(side_in @ w["side"][0] + w["side"][1], 0)
    want = (h + side) @ w["dense"][0] + w["dense"][1]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert model.get_layer("batch_normalization").axis == 1
    assert model.get_layer("embedding").mask_zero
    assert isinstance(model.optimizer, lamina.optimizers.Adam)
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.002, rtol=1e-6)
    assert model.loss.__class__.__name__ == "MeanSquaredError"


def test_keras2_sequential_h5_with_batch_input_shape_on_first_layer(tmp_path):
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                _keras2_dense("dense", 3, "relu", batch_input_shape=[None, 2]),
                _keras2_dense("dense_1", 1, "sigmoid"),
            ],
        },
    }
    weights = {
        "dense": [
            ("dense/kernel:0", RNG.normal(size=(2, 3))),
            ("dense/bias:0", RNG.normal(size=3)),
        ],
        "dense_1": [
            ("dense_1/kernel:0", RNG.normal(size=(3, 1))),
            ("dense_1/bias:0", RNG.normal(size=1)),
        ],
    }
    path = _write_keras2_h5(tmp_path / "seq.h5", config, weights, ["dense", "dense_1"])
    with pytest.warns(UserWarning, match="no training configuration"):
        model = lamina.saving.load_model(path)
    x = RNG.random((5, 2), "float32")
    w = {k: [np.asarray(v, "float32") for _, v in e] for k, e in weights.items()}
    hidden = np.maximum(x @ w["dense"][0] + w["dense"][1], 0)
    want = 1 / (1 + np.exp(-(hidden @ w["dense_1"][0] + w["dense_1"][1])))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-6)
    assert model.get_layer("dense").kernel_regularizer.l2 == pytest.approx(0.01)


def test_keras2_json_loads_with_model_from_json():
    model = lamina.saving.model_from_json(json.dumps(_keras2_functional_config()))
    assert [tuple(t.shape) for t in model.inputs] == [(None, 5), (None, 2)]
    assert model.output_shape == (None, 1)
    old_sequential = {  # Keras 2.0: the config is the list of layers
        "class_name": "Sequential",
        "config": [_keras2_dense("d", 2, "linear", batch_input_shape=[None, 3])],
    }
    assert lamina.saving.model_from_json(json.dumps(old_sequential)).output_shape == (
        None,
        2,
    )


# --- hostile files ----------------------------------------------------------------


def _saved(tmp_path, name="good.h5"):
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2, name="dense")])
    path = tmp_path / name
    _quiet(model.save, path)
    return path


def _set_config(path, config):
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = json.dumps(config).encode("utf8")


def _sequential_config(layer):
    return {"class_name": "Sequential", "config": {"name": "s", "layers": [layer]}}


def test_unknown_class_is_refused(tmp_path):
    path = _saved(tmp_path)
    _set_config(path, _sequential_config({"class_name": "Mystery", "config": {}}))
    with pytest.raises(TypeError, match=r"good\.h5.*Could not locate class 'Mystery'"):
        lamina.saving.load_model(path)


def test_module_path_is_never_imported(tmp_path, monkeypatch):
    import importlib

    imported = []
    real_import = importlib.import_module

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", spy)
    path = _saved(tmp_path)
    layer = {
        "module": "evil_module_never_imported",
        "class_name": "system",
        "config": {"command": "touch pwned"},
        "registered_name": None,
    }
    _set_config(path, _sequential_config(layer))
    with pytest.raises(TypeError, match="Could not locate class 'system'"):
        lamina.saving.load_model(path)
    assert "evil_module_never_imported" not in imported
    _set_config(path, _sequential_config({"class_name": "os.system", "config": {}}))
    with pytest.raises(TypeError, match=r"Could not locate class 'os\.system'"):
        lamina.saving.load_model(path)
    assert not os.path.exists("pwned")


def _keras2_lambda_config():
    def double(x):
        return x * 2

    code, defaults, closure = lamina.saving.serialization_lib.dump_function(double)
    lam = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "trainable": True,
            "dtype": "float32",
            "function": [code, defaults, closure],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {},
        },
    }
    inp = {
        "class_name": "InputLayer",
        "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "in"},
    }
    return {"class_name": "Sequential", "config": {"name": "s", "layers": [inp, lam]}}


def test_lambda_bytecode_needs_safe_mode_off(tmp_path):
    path = _write_keras2_h5(
        tmp_path / "lam.h5", _keras2_lambda_config(), {}, ["lambda"]
    )
    with pytest.raises(ValueError, match=r"lam\.h5.*Python lambda.*safe_mode=False"):
        lamina.saving.load_model(path, compile=False)
    model = lamina.saving.load_model(path, compile=False, safe_mode=False)
    np.testing.assert_allclose(model.predict(np.ones((2, 3)), verbose=0), 2.0)


def test_corrupt_and_truncated_files_are_named(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ValueError, match=r"junk\.h5.*not an HDF5 file"):
        lamina.saving.load_model(junk)
    good = _saved(tmp_path)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[:600])
    with pytest.raises(ValueError, match=r"cut\.h5"):
        lamina.saving.load_model(cut)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        lamina.saving.load_model(tmp_path / "missing.h5")


def test_bad_structure_is_refused_with_what_was_expected(tmp_path):
    path = _saved(tmp_path, "a.h5")
    with h5py.File(path, "a") as f:
        del f["model_weights"]
        f.create_dataset("model_weights", data=np.zeros(3))
    with pytest.raises(
        ValueError, match=r"expected 'model_weights' to be a group.*Dataset"
    ):
        lamina.saving.load_model(path)

    path = _saved(tmp_path, "b.h5")
    with h5py.File(path, "a") as f:
        names = f["model_weights/dense"].attrs["weight_names"]
        del f["model_weights/dense"]
        f["model_weights"].create_dataset("dense", data=np.zeros(3))
        f["model_weights/dense"].attrs["weight_names"] = names
    with pytest.raises(ValueError, match=r"layer 'dense'.*expected a group.*Dataset"):
        lamina.saving.load_model(path)

    path = _saved(tmp_path, "c.h5")
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = np.arange(3)
    with pytest.raises(
        ValueError, match=r"'model_config' to be a JSON string.*ndarray"
    ):
        lamina.saving.load_model(path)

    path = _saved(tmp_path, "d.h5")
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = b"{not json"
    with pytest.raises(ValueError, match=r"'model_config' is not valid JSON"):
        lamina.saving.load_model(path)

    path = _saved(tmp_path, "e.h5")
    with h5py.File(path, "a") as f:
        del f.attrs["model_config"]
    with pytest.raises(ValueError, match=r"no 'model_config'.*load_weights"):
        lamina.saving.load_model(path)

    path = _saved(tmp_path, "f.h5")
    _set_config(
        path,
        {
            "class_name": "Functional",
            "config": {
                "name": "m",
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"units": 2},
                        "name": "d",
                        "inbound_nodes": [[["ghost", 0]]],
                    }
                ],
                "input_layers": [],
                "output_layers": [],
            },
        },
    )
    with pytest.raises(ValueError, match=r"expected an inbound tensor.*ghost"):
        lamina.saving.load_model(path)


def test_shape_mismatch_and_links_are_refused(tmp_path):
    path = _saved(tmp_path, "shape.h5")
    with h5py.File(path, "a") as f:
        group = f["model_weights/dense"]
        name = group.attrs["weight_names"][0]
        name = name.decode() if isinstance(name, bytes) else name
        del group[name]
        group.create_dataset(name, data=np.zeros((7, 7), "float32"))
    with pytest.raises(ValueError, match=r"shape \(3, 2\), the file has \(7, 7\)"):
        lamina.saving.load_model(path)

    path = _saved(tmp_path, "link.h5")
    with h5py.File(path, "a") as f:
        f["model_weights/sneaky"] = h5py.ExternalLink("/etc/passwd", "/")
    with pytest.raises(ValueError, match=r"link\.h5.*ExternalLink"):
        lamina.saving.load_model(path)

    path = _saved(tmp_path, "strings.h5")
    with h5py.File(path, "a") as f:
        f["model_weights"].create_dataset("note", data=np.array([b"x"], dtype=object))
    with pytest.raises(ValueError, match=r"strings\.h5.*numeric"):
        lamina.saving.load_model(path)
