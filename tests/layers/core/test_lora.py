"""LoRA on Dense, EinsumDense and Embedding, against Keras 3 on its torch backend."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _copy_weights(src_keras, dst_lamina):
    """Keras layer's weights (in `weights` order) into the lamina layer's."""
    pairs = list(zip(src_keras.weights, dst_lamina.weights, strict=True))
    for k, lam in pairs:
        assert k.name == lam.name, (k.name, lam.name)
        lam.assign(_np(k))


def _random_lora(layer):
    for variable in layer.weights:
        if variable.name.startswith("lora_"):
            values = 0.3 * RNG.normal(size=tuple(variable.shape))
            variable.assign(values.astype("float32"))


def _pair(name, *args, **kwargs):
    return getattr(keras.layers, name)(*args, **kwargs), getattr(layers, name)(
        *args, **kwargs
    )


CASES = [
    ("Dense", (3,), {"activation": "relu"}, (4, 5), "float32"),
    (
        "EinsumDense",
        ("abc,cde->abde",),
        {"output_shape": (None, 2, 3), "bias_axes": "de"},
        (2, 4, 5),
        "float32",
    ),
    ("Embedding", (10, 4), {}, (3, 6), "int32"),
]


def _inputs(shape, dtype):
    if dtype == "int32":
        return RNG.integers(0, 10, size=shape).astype("int32")
    return RNG.normal(size=shape).astype("float32")


@pytest.mark.parametrize("name, args, kwargs, shape, dtype", CASES)
def test_same_weights_in_same_outputs_out_and_same_trainable_split(
    name, args, kwargs, shape, dtype
):
    k_layer, l_layer = _pair(name, *args, **kwargs)
    x = _inputs(shape, dtype)
    k_layer(x)
    l_layer(x)
    k_layer.enable_lora(2, lora_alpha=6)
    l_layer.enable_lora(2, lora_alpha=6)
    _random_lora(k_layer)
    _copy_weights(k_layer, l_layer)
    np.testing.assert_allclose(
        l_layer(x).detach().cpu().numpy(), _np(k_layer(x)), rtol=1e-5, atol=1e-5
    )
    assert l_layer.lora_enabled and l_layer.lora_rank == 2 and l_layer.lora_alpha == 6
    assert [w.name for w in l_layer.trainable_weights] == [
        w.name for w in k_layer.trainable_weights
    ]
    assert [w.name for w in l_layer.non_trainable_weights] == [
        w.name for w in k_layer.non_trainable_weights
    ]
    assert [tuple(w.shape) for w in l_layer.weights] == [
        tuple(w.shape) for w in k_layer.weights
    ]
    assert all(str(w.dtype) == "torch.float32" for w in l_layer.trainable_weights)


def test_einsum_dense_kernel_is_the_merged_kernel_as_in_keras():
    k_layer, l_layer = _pair("EinsumDense", "ab,bc->ac", output_shape=3)
    x = _inputs((2, 4), "float32")
    k_layer(x)
    l_layer(x)
    k_layer.enable_lora(2)
    l_layer.enable_lora(2)
    _random_lora(k_layer)
    _copy_weights(k_layer, l_layer)
    np.testing.assert_allclose(
        l_layer.kernel.detach().cpu().numpy(), _np(k_layer.kernel), rtol=1e-6
    )


def test_lora_starts_as_a_no_op_and_b_starts_at_zero():
    layer = layers.Dense(3)
    x = _inputs((4, 5), "float32")
    before = layer(x).detach().cpu().numpy()
    layer.enable_lora(4)
    np.testing.assert_array_equal(layer.lora_kernel_b.detach().cpu().numpy(), 0.0)
    assert np.abs(layer.lora_kernel_a.detach().cpu().numpy()).max() > 0
    np.testing.assert_allclose(layer(x).detach().cpu().numpy(), before, rtol=1e-6)
    # The base kernel keeps its torch name; the LoRA pair joins it.
    assert sorted(layer.state_dict()) == [
        "bias",
        "kernel",
        "lora_kernel_a",
        "lora_kernel_b",
    ]


def _models(enable_both=True):
    def build(lib):
        inputs = lib.Input((5,), dtype="int32")
        x = lib.layers.Embedding(10, 4, name="emb")(inputs)
        x = lib.layers.EinsumDense("abc,cd->abd", (5, 3), bias_axes="d", name="ed")(x)
        x = lib.layers.Flatten()(x)
        outputs = lib.layers.Dense(2, name="out")(x)
        return lib.Model(inputs, outputs)

    k_model, l_model = build(keras), build(lamina)
    l_model.set_weights([_np(w) for w in k_model.weights])
    for layer_name in ("emb", "ed", "out"):
        k_model.get_layer(layer_name).enable_lora(2, lora_alpha=4)
        l_model.get_layer(layer_name).enable_lora(2, lora_alpha=4)
        _random_lora(k_model.get_layer(layer_name))
        _copy_weights(k_model.get_layer(layer_name), l_model.get_layer(layer_name))
    return k_model, l_model


def test_sgd_trains_only_the_lora_weights_along_keras_trajectory():
    k_model, l_model = _models()
    x = RNG.integers(0, 10, size=(16, 5)).astype("int32")
    y = RNG.normal(size=(16, 2)).astype("float32")
    base = {
        w.path: w.detach().cpu().numpy().copy() for w in l_model.non_trainable_weights
    }
    start = {w.path: w.detach().cpu().numpy().copy() for w in l_model.trainable_weights}
    assert sorted(p.rsplit("/", 1)[-1] for p in base) == [
        "embeddings",
        "kernel",
        "kernel",
    ]
    for lib, model in ((keras, k_model), (lamina, l_model)):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for k, lam in zip(k_model.weights, l_model.weights, strict=True):
        assert np.all(np.isfinite(lam.detach().cpu().numpy()))
        np.testing.assert_allclose(
            lam.detach().cpu().numpy(), _np(k), rtol=1e-4, atol=1e-5
        )
    for w in l_model.non_trainable_weights:
        np.testing.assert_array_equal(w.detach().cpu().numpy(), base[w.path])
    for w in l_model.trainable_weights:
        assert not np.allclose(w.detach().cpu().numpy(), start[w.path]), w.path


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_files_saved_by_lamina_load_in_keras_and_back(tmp_path, suffix):
    k_model, l_model = _models()
    x = RNG.integers(0, 10, size=(3, 5)).astype("int32")
    expected = l_model(x).detach().cpu().numpy()
    np.testing.assert_allclose(expected, _np(k_model(x)), rtol=1e-5, atol=1e-5)

    # lamina writes, Keras reads (the merged weights; its LoRA weights zeroed).
    path = str(tmp_path / f"lamina{suffix}")
    if suffix == ".keras":
        l_model.save(path)
        k_loaded = keras.saving.load_model(path)
        assert k_loaded.get_layer("out").lora_enabled
    else:
        l_model.save_weights(path)
        k_loaded, _ = _models()
        k_loaded.load_weights(path)
    np.testing.assert_allclose(_np(k_loaded(x)), expected, rtol=1e-5, atol=1e-5)
    assert not np.any(_np(k_loaded.get_layer("out").lora_kernel_b))

    # Keras writes, lamina reads.
    path = str(tmp_path / f"keras{suffix}")
    if suffix == ".keras":
        k_model.save(path)
        l_loaded = lamina.saving.load_model(path)
        assert l_loaded.get_layer("emb").lora_enabled
        assert l_loaded.get_layer("emb").lora_alpha == 4
    else:
        k_model.save_weights(path)
        _, l_loaded = _models()
        l_loaded.load_weights(path)
    np.testing.assert_allclose(
        l_loaded(x).detach().cpu().numpy(), expected, rtol=1e-5, atol=1e-5
    )
    for layer_name in ("emb", "ed", "out"):
        for w in l_loaded.get_layer(layer_name).trainable_weights:
            if w.name.startswith("lora_"):
                assert not np.any(w.detach().cpu().numpy())


def test_a_saved_lora_dense_is_a_plain_dense_in_the_file(tmp_path):
    layer = layers.Dense(3)
    model = lamina.Sequential([lamina.Input((4,)), layer])
    layer.enable_lora(2)
    _random_lora(layer)
    merged = layer.kernel.detach().cpu().numpy() + 1.0 * (
        layer.lora_kernel_a.detach().cpu().numpy()
        @ layer.lora_kernel_b.detach().cpu().numpy()
    )
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    plain = lamina.Sequential([lamina.Input((4,)), layers.Dense(3)])
    plain.load_weights(path)
    np.testing.assert_allclose(
        plain.layers[0].kernel.detach().cpu().numpy(), merged, rtol=1e-6
    )


@pytest.mark.parametrize("name, args, kwargs, shape, dtype", CASES)
def test_get_config_round_trip_keeps_rank_and_alpha(name, args, kwargs, shape, dtype):
    layer = getattr(layers, name)(*args, lora_rank=3, lora_alpha=12, **kwargs)
    config = layer.get_config()
    assert config["lora_rank"] == 3 and config["lora_alpha"] == 12
    k_config = getattr(keras.layers, name)(
        *args, lora_rank=3, lora_alpha=12, **kwargs
    ).get_config()
    assert set(config) == set(k_config)
    clone = getattr(layers, name).from_config(config)
    clone(_inputs(shape, dtype))
    assert clone.lora_enabled and clone.lora_rank == 3 and clone.lora_alpha == 12
    assert "lora_rank" not in getattr(layers, name)(*args, **kwargs).get_config()


def test_enabling_twice_unbuilt_or_with_a_constraint_raises():
    layer = layers.Dense(3)
    with pytest.raises(ValueError, match="isn't yet built"):
        layer.enable_lora(2)
    layer(_inputs((2, 4), "float32"))
    layer.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)
    constrained = layers.Embedding(5, 2, embeddings_constraint="non_neg")
    constrained.build()
    with pytest.raises(ValueError, match="embeddings_constraint"):
        constrained.enable_lora(2)
    with pytest.raises(ValueError, match="positive int"):
        layers.Dense(3, lora_rank=-1)
    built = layers.Dense(3)
    built(_inputs((2, 4), "float32"))
    with pytest.raises(ValueError, match="got rank=0"):
        built.enable_lora(0)


def test_subclass_with_its_own_call_and_int4_layers_are_refused():
    class Scaled(layers.Dense):
        def call(self, inputs):
            return 2 * super().call(inputs)

    layer = Scaled(3)
    layer(_inputs((2, 4), "float32"))
    with pytest.raises(NotImplementedError, match="overrides call"):
        layer.enable_lora(2)
    lora = layers.Dense(4)
    lora(_inputs((2, 4), "float32"))
    lora.enable_lora(2)
    config = lamina.quantizers.GPTQConfig(dataset=None, tokenizer=None)
    with pytest.raises(NotImplementedError, match="not 'gptq'"):
        lora.quantize("gptq", config=config)


@pytest.mark.parametrize("name, args, kwargs, shape, dtype", CASES)
def test_lora_on_an_int8_layer_matches_keras_and_saves_requantized(
    tmp_path, name, args, kwargs, shape, dtype
):
    k_layer, l_layer = _pair(name, *args, **kwargs)
    x = _inputs(shape, dtype)
    k_layer(x)
    l_layer(x)
    _copy_weights(k_layer, l_layer)
    k_layer.quantize("int8")
    l_layer.quantize("int8")
    k_layer.enable_lora(2, lora_alpha=4)
    l_layer.enable_lora(2, lora_alpha=4)
    _random_lora(k_layer)
    for k, lam in zip(k_layer.weights, l_layer.weights, strict=True):
        if k.name.startswith("lora_"):
            lam.assign(_np(k))
    np.testing.assert_allclose(
        l_layer(x).detach().cpu().numpy(), _np(k_layer(x)), rtol=1e-4, atol=1e-4
    )
    k_store, l_store = {}, {}
    k_layer.save_own_variables(k_store)
    l_layer.save_own_variables(l_store)
    assert sorted(k_store) == sorted(l_store)
    for key in k_store:
        np.testing.assert_allclose(
            lamina.ops.convert_to_numpy(l_store[key]),
            _np(k_store[key]),
            rtol=1e-5,
            atol=1e-6,
        )


def test_int8_lora_model_files_move_both_ways(tmp_path):
    def build(lib):
        return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, name="d")])

    k_model, l_model = build(keras), build(lamina)
    l_model.set_weights([_np(w) for w in k_model.weights])
    for model in (k_model, l_model):
        model.get_layer("d").quantize("int8")
        model.get_layer("d").enable_lora(2)
    _random_lora(k_model.get_layer("d"))
    for k, lam in zip(k_model.weights, l_model.weights, strict=True):
        lam.assign(_np(k))
    x = _inputs((5, 4), "float32")
    np.testing.assert_allclose(
        l_model(x).detach().cpu().numpy(), _np(k_model(x)), rtol=1e-4, atol=1e-4
    )
    l_model.save(str(tmp_path / "lamina.keras"))
    k_model.save(str(tmp_path / "keras.keras"))
    k_loaded = keras.saving.load_model(str(tmp_path / "lamina.keras"))
    l_loaded = lamina.saving.load_model(str(tmp_path / "keras.keras"))
    layer = l_loaded.get_layer("d")
    assert layer.lora_enabled and layer.dtype_policy.name == "int8_from_float32"
    assert str(layer.kernel.dtype) == "torch.int8"
    np.testing.assert_allclose(
        l_loaded(x).detach().cpu().numpy(), _np(k_loaded(x)), rtol=1e-5, atol=1e-5
    )


def test_dense_variable_serialization_spec_matches_keras_and_what_lamina_saves():
    spec = layers.Dense(2).variable_serialization_spec
    assert spec == keras.layers.Dense(2).variable_serialization_spec
    # The implemented modes are what quantized layers actually write.
    dense = layers.Dense(3)
    dense.build((None, 4))
    dense.quantize("int8")
    store = {}
    dense.save_own_variables(store)
    assert len(store) == len(spec["int8"])
