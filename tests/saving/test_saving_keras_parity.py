"""Files move both ways between lamina and Keras 3 (torch backend): identical
HDF5 layouts, equal predictions, equal optimizer state."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


@pytest.fixture(autouse=True)
def _fresh_keras_names():
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield


def _layout(path):
    out = []
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: out.append(
                (
                    name,
                    getattr(obj, "shape", None),
                    str(getattr(obj, "dtype", "")),
                    {k: str(v) for k, v in obj.attrs.items()},
                )
            )
        )
    return out


def _predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


X = np.random.default_rng(0).random((6, 4), dtype=np.float32)
Y = np.random.default_rng(1).random((6, 2), dtype=np.float32)


def _sequential(lib):
    return lib.Sequential(
        [
            lib.Input((4,)),
            lib.layers.Dense(5, activation="relu"),
            lib.layers.Dropout(0.3),
            lib.layers.Dropout(0.1, seed=3),
            lib.layers.Dense(2),
        ]
    )


def _trained_pair(tmp_path):
    k_model, l_model = _sequential(keras), _sequential(lamina)
    for model, opt in ((k_model, keras.optimizers), (l_model, lamina.optimizers)):
        model.compile(opt.Adam(0.01), "mse", metrics=["mae"])
    k_model.fit(X, Y, epochs=2, batch_size=3, verbose=0)
    l_model.fit(X, Y, epochs=2, batch_size=3, verbose=0)
    return k_model, l_model


def test_sequential_weights_file_layout_is_keras_layout(tmp_path):
    k_model, l_model = _trained_pair(tmp_path)
    k_model.save_weights(tmp_path / "k.weights.h5")
    l_model.save_weights(tmp_path / "l.weights.h5")
    # Dropout layers (seeded or not) get an empty `vars` group: Keras does not
    # save seed-generator state.
    assert _layout(tmp_path / "l.weights.h5") == _layout(tmp_path / "k.weights.h5")


def test_functional_model_layout_is_keras_layout(tmp_path):
    def build(lib):
        a = lib.Input((4,), name="a")
        b = lib.Input((3,), name="b")
        shared = lib.layers.Dense(3, name="shared")
        merged = lib.layers.Concatenate()([shared(a), lib.layers.Dense(3)(b)])
        hidden = lib.layers.Dense(4, activation="relu")(merged)
        out1 = lib.layers.Dense(2, name="out1")(hidden)
        out2 = lib.layers.Dense(1, name="out2")(shared(lib.layers.Dense(4)(hidden)))
        return lib.Model([a, b], [out1, out2], name="demo")

    build(keras).save_weights(tmp_path / "k.weights.h5")
    build(lamina).save_weights(tmp_path / "l.weights.h5")
    assert _layout(tmp_path / "l.weights.h5") == _layout(tmp_path / "k.weights.h5")


def _subclassed(lib, with_dict):
    class Block(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d1 = lib.layers.Dense(2)
            self.d2 = lib.layers.Dense(2)

        def call(self, x):
            return self.d2(self.d1(x))

    class Net(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.zz = lib.layers.Dense(2)
            self.aa = lib.layers.Dense(3)
            self.blocks = [Block(), Block()]
            if with_dict:
                self.by_key = {"x": lib.layers.Dense(3)}
            self._hidden = lib.layers.Dense(3)

        def call(self, x):
            x = self.aa(x)
            if with_dict:
                x = self.by_key["x"](x)
            x = self._hidden(x)
            for block in self.blocks:
                x = block(x)
            return self.zz(x)

    model = Net()
    model(X[:2])
    return model


def test_subclassed_model_layout_is_keras_layout(tmp_path):
    _subclassed(keras, False).save_weights(tmp_path / "k.weights.h5")
    _subclassed(lamina, False).save_weights(tmp_path / "l.weights.h5")
    assert _layout(tmp_path / "l.weights.h5") == _layout(tmp_path / "k.weights.h5")


def test_subclassed_model_with_a_dict_of_layers_layout_is_keras_layout(tmp_path):
    _subclassed(keras, True).save_weights(tmp_path / "k.weights.h5")
    _subclassed(lamina, True).save_weights(tmp_path / "l.weights.h5")
    assert _layout(tmp_path / "l.weights.h5") == _layout(tmp_path / "k.weights.h5")


def test_keras_file_written_by_keras_loads_in_lamina(tmp_path):
    k_model, _ = _trained_pair(tmp_path)
    k_model.save(tmp_path / "k.keras")
    loaded = lamina.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(_predict(loaded, X), _predict(k_model, X), atol=1e-5)
    assert loaded.compiled and isinstance(loaded.optimizer, lamina.optimizers.Adam)
    k_state = [np.asarray(v) for v in k_model.optimizer.variables]
    l_state = [v.detach().cpu().numpy() for v in loaded.optimizer.variables]
    assert len(k_state) == len(l_state) == 10
    for k_value, l_value in zip(k_state, l_state):
        np.testing.assert_array_equal(k_value, l_value)


def test_keras_file_written_by_lamina_loads_in_keras(tmp_path):
    _, l_model = _trained_pair(tmp_path)
    l_model.save(tmp_path / "l.keras")
    loaded = keras.saving.load_model(tmp_path / "l.keras")
    np.testing.assert_allclose(_predict(loaded, X), _predict(l_model, X), atol=1e-5)
    assert int(loaded.optimizer.iterations) == 4
    for k_value, l_value in zip(
        loaded.optimizer.variables, l_model.optimizer.variables
    ):
        np.testing.assert_array_equal(
            np.asarray(k_value), l_value.detach().cpu().numpy()
        )


def test_weights_files_move_both_ways(tmp_path):
    k_model, l_model = _sequential(keras), _sequential(lamina)
    k_model.save_weights(tmp_path / "k.weights.h5")
    l_model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(_predict(l_model, X), _predict(k_model, X), atol=1e-5)
    other = _sequential(lamina)
    other.save_weights(tmp_path / "l.weights.h5")
    k_model.load_weights(tmp_path / "l.weights.h5")
    np.testing.assert_allclose(_predict(k_model, X), _predict(other, X), atol=1e-5)


def _functional_round_trips(tmp_path, single_input):
    def build(lib):
        a = lib.Input((4,), name="a")
        hidden = lib.layers.Dense(3, activation="tanh", name="h")(a)
        outputs = [lib.layers.Dense(2)(hidden), lib.layers.Dense(1)(hidden)]
        return lib.Model(a if single_input else [a], outputs)

    k_model = build(keras)
    k_model.save(tmp_path / "k.keras")
    loaded = lamina.saving.load_model(tmp_path / "k.keras")
    for got, want in zip(loaded.predict(X, verbose=0), k_model.predict(X, verbose=0)):
        np.testing.assert_allclose(got, np.asarray(want), atol=1e-5)
    l_model = build(lamina)
    l_model.save(tmp_path / "l.keras")
    back = keras.saving.load_model(tmp_path / "l.keras")
    for got, want in zip(back.predict(X, verbose=0), l_model.predict(X, verbose=0)):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


def test_functional_keras_files_move_both_ways(tmp_path):
    _functional_round_trips(tmp_path, single_input=False)


def test_functional_keras_files_with_a_single_input_tensor(tmp_path):
    _functional_round_trips(tmp_path, single_input=True)


def test_sharded_weights_move_both_ways_with_keras_shard_layout(tmp_path):
    def build(lib):
        return lib.Sequential(
            [lib.Input((4,)), lib.layers.Dense(300), lib.layers.Dense(40)]
        )

    k_model, l_model = build(keras), build(lamina)
    k_model.save_weights(tmp_path / "k.weights.json", max_shard_size=0.00005)
    l_model.load_weights(tmp_path / "k.weights.json")
    np.testing.assert_allclose(_predict(l_model, X), _predict(k_model, X), atol=1e-5)
    l_model.save_weights(tmp_path / "l.weights.json", max_shard_size=0.00005)
    for shard in ("00000", "00001"):
        assert _layout(tmp_path / f"l_{shard}.weights.h5") == _layout(
            tmp_path / f"k_{shard}.weights.h5"
        )
    fresh = build(keras)
    fresh.load_weights(tmp_path / "l.weights.json")
    np.testing.assert_allclose(_predict(fresh, X), _predict(l_model, X), atol=1e-5)


def test_legacy_h5_weights_load_by_order_and_by_name(tmp_path):
    from keras.src.legacy.saving import legacy_h5_format

    k_model = _sequential(keras)
    path = tmp_path / "legacy.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, k_model)
    by_order = _sequential(lamina)
    by_order.load_weights(path)
    np.testing.assert_allclose(_predict(by_order, X), _predict(k_model, X), atol=1e-5)
    # by_name matches layer names, whatever the model around them.
    renamed = lamina.Sequential(
        [
            lamina.Input((4,)),
            lamina.layers.Dense(5, activation="relu", name="dense"),
            lamina.layers.Dense(2, name="dense_1"),
        ]
    )
    renamed.load_weights(path, by_name=True)
    np.testing.assert_allclose(_predict(renamed, X), _predict(k_model, X), atol=1e-5)
    with pytest.raises(ValueError, match="by_name=True"):
        lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(2)]).load_weights(
            path
        )


# --- every layer family: Keras files load in lamina, lamina files in Keras -----

LAYER_SPECS = [
    ("Conv2D", "convolutional.conv2d", {"filters": 3, "kernel_size": 3}, (6, 6, 2)),
    ("Conv1D", "convolutional.conv1d", {"filters": 3, "kernel_size": 2}, (5, 2)),
    (
        "Conv2DTranspose",
        "convolutional.conv2d_transpose",
        {"filters": 3, "kernel_size": 2},
        (4, 4, 2),
    ),
    (
        "DepthwiseConv2D",
        "convolutional.depthwise_conv2d",
        {"kernel_size": 2},
        (4, 4, 2),
    ),
    (
        "SeparableConv2D",
        "convolutional.separable_conv2d",
        {"filters": 3, "kernel_size": 2},
        (4, 4, 2),
    ),
    ("BatchNormalization", "normalization.batch_normalization", {}, (4,)),
    ("LayerNormalization", "normalization.layer_normalization", {}, (4,)),
    ("GroupNormalization", "normalization.group_normalization", {"groups": 2}, (4,)),
    ("MaxPooling2D", "pooling.max_pooling", {}, (4, 4, 2)),
    ("GlobalAveragePooling2D", "pooling.global_average_pooling", {}, (4, 4, 2)),
    ("LSTM", "rnn.lstm", {"units": 3}, (5, 2)),
    ("GRU", "rnn.gru", {"units": 3}, (5, 2)),
    ("SimpleRNN", "rnn.simple_rnn", {"units": 3}, (5, 2)),
    ("Embedding", "core.embedding", {"input_dim": 7, "output_dim": 3}, (5,)),
    (
        "EinsumDense",
        "core.einsum_dense",
        {"equation": "ab,bc->ac", "output_shape": 3},
        (4,),
    ),
    ("PReLU", "activations.prelu", {}, (4,)),
]


def _lamina_class(module, name):
    import importlib

    try:
        return getattr(importlib.import_module(f"lamina.layers.{module}"), name)
    except (ImportError, AttributeError) as error:
        pytest.skip(f"lamina has no {name} yet ({error})")


def _input_for(name, shape):
    rng = np.random.default_rng(2)
    if name == "Embedding":
        return rng.integers(0, 7, (2, *shape)).astype("float32")
    return rng.random((2, *shape), dtype=np.float32)


@pytest.mark.parametrize("name, module, kwargs, shape", LAYER_SPECS)
def test_layer_families_move_both_ways(tmp_path, name, module, kwargs, shape):
    cls = _lamina_class(module, name)
    k_model = keras.Sequential(
        [keras.Input(shape), getattr(keras.layers, name)(**kwargs)]
    )
    # Non-trivial values everywhere (positive, so variances stay valid).
    k_model.set_weights(
        [
            np.random.default_rng(3).random(w.shape).astype(w.dtype)
            for w in k_model.get_weights()
        ]
    )
    x = _input_for(name, shape)
    k_model.save(tmp_path / "k.keras")
    k_model.save_weights(tmp_path / "k.weights.h5")
    exported = getattr(lamina.layers, name, None) is cls
    loaded = lamina.saving.load_model(
        tmp_path / "k.keras", custom_objects=None if exported else {name: cls}
    )
    np.testing.assert_allclose(_predict(loaded, x), _predict(k_model, x), atol=1e-5)
    l_model = lamina.Sequential([lamina.Input(shape), cls(**kwargs)])
    l_model.load_weights(tmp_path / "k.weights.h5")
    l_model.save_weights(tmp_path / "l.weights.h5")
    assert _layout(tmp_path / "l.weights.h5") == _layout(tmp_path / "k.weights.h5")
    if not exported:
        pytest.skip(f"lamina.layers does not export {name} yet: Keras cannot load it")
    l_model.save(tmp_path / "l.keras")
    back = keras.saving.load_model(tmp_path / "l.keras")
    np.testing.assert_allclose(_predict(back, x), _predict(l_model, x), atol=1e-5)


def test_bidirectional_lstm_moves_both_ways(tmp_path):
    bidirectional = _lamina_class("rnn.bidirectional", "Bidirectional")
    lstm = _lamina_class("rnn.lstm", "LSTM")
    k_model = keras.Sequential(
        [keras.Input((5, 2)), keras.layers.Bidirectional(keras.layers.LSTM(3))]
    )
    k_model.save_weights(tmp_path / "k.weights.h5")
    l_model = lamina.Sequential([lamina.Input((5, 2)), bidirectional(lstm(3))])
    l_model.load_weights(tmp_path / "k.weights.h5")
    l_model.save_weights(tmp_path / "l.weights.h5")
    assert _layout(tmp_path / "l.weights.h5") == _layout(tmp_path / "k.weights.h5")
    x = _input_for("LSTM", (5, 2))
    np.testing.assert_allclose(_predict(l_model, x), _predict(k_model, x), atol=1e-5)


def _nested(lib):
    inner = lib.Sequential(
        [lib.layers.Dense(3, activation="relu"), lib.layers.Dense(3)], name="inner"
    )
    a = lib.Input((4,), name="a")
    sub_in = lib.Input((3,))
    sub = lib.Model([sub_in], [lib.layers.Dense(2)(sub_in)], name="sub")
    return lib.Model([a], [sub(inner(a))], name="outer")


def test_nested_models_have_keras_layout_and_load_in_keras(tmp_path):
    _nested(keras).save_weights(tmp_path / "k.weights.h5")
    l_model = _nested(lamina)
    l_model.save_weights(tmp_path / "l.weights.h5")
    assert _layout(tmp_path / "l.weights.h5") == _layout(tmp_path / "k.weights.h5")
    l_model.save(tmp_path / "l.keras")
    back = keras.saving.load_model(tmp_path / "l.keras")
    np.testing.assert_allclose(
        np.asarray(back.predict(X, verbose=0)[0]),
        l_model.predict(X, verbose=0)[0],
        atol=1e-5,
    )


def test_nested_keras_file_written_by_keras_loads_in_lamina(tmp_path):
    k_model = _nested(keras)
    k_model.save(tmp_path / "k.keras")
    loaded = lamina.saving.load_model(tmp_path / "k.keras")
    # The file's outputs are a nested one-output list ([[sub_out]]): both
    # unwrap its outer level only and return [array].
    got, expected = loaded.predict(X, verbose=0), k_model.predict(X, verbose=0)
    assert isinstance(got, list) and len(got) == 1
    np.testing.assert_allclose(got[0], np.asarray(expected[0]), atol=1e-5)
