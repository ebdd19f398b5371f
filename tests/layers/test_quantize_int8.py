"""int8 quantization of Dense, EinsumDense and Embedding (`quantize("int8")`),
compared with Keras 3 on its torch backend: variables, outputs, gradients,
configs and files both ways."""

import json
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import layers, quantizers  # noqa: E402

keras = pytest.importorskip("keras")


def _np(x):
    return (
        x.detach().cpu().numpy()
        if isinstance(x, torch.Tensor)
        else (keras.ops.convert_to_numpy(x))
    )


def _data(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _pair(make, input_shape, dtype="float32"):
    """The same model in lamina and Keras with the same float weights."""
    ours = lamina.Sequential([lamina.Input(input_shape, dtype=dtype), make(layers)])
    theirs = keras.Sequential(
        [keras.Input(input_shape, dtype=dtype), make(keras.layers)]
    )
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _quantize_keras(model, *args, **kwargs):
    with warnings.catch_warnings():
        # Keras warns that its InputLayer has no quantize method.
        warnings.simplefilter("ignore", UserWarning)
        model.quantize(*args, **kwargs)


def _variables(layer):
    return [
        (w.path.split("/")[-1], str(w.dtype).replace("torch.", ""), tuple(w.shape))
        for w in layer.weights
    ]


def _keras_variables(layer):
    return [(w.path.split("/")[-1], w.dtype, tuple(w.shape)) for w in layer.weights]


CASES = {
    "dense": (lambda L: L.Dense(5, activation="relu", name="q"), (7,)),
    "dense_3d": (lambda L: L.Dense(4, use_bias=False, name="q"), (3, 6)),
    "einsum_2d": (
        lambda L: L.EinsumDense("ab,bc->ac", output_shape=5, bias_axes="c", name="q"),
        (6,),
    ),
    "einsum_heads": (
        lambda L: L.EinsumDense(
            "abc,cde->abde", output_shape=(None, 2, 4), bias_axes="de", name="q"
        ),
        (3, 6),
    ),
    "einsum_merge": (
        lambda L: L.EinsumDense("abcd,cde->abe", output_shape=(None, 5), name="q"),
        (3, 2, 4),
    ),
    "einsum_swap": (
        lambda L: L.EinsumDense("abc,dc->abd", output_shape=(None, 7), name="q"),
        (3, 4),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_quantized_layer_matches_keras(case):
    make, input_shape = CASES[case]
    ours, theirs = _pair(make, input_shape)
    ours.quantize("int8")
    _quantize_keras(theirs, "int8")
    layer, k_layer = ours.get_layer("q"), theirs.get_layer("q")
    assert _variables(layer) == _keras_variables(k_layer)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, _np(b), rtol=1e-6)
    assert layer.dtype_policy.name == "int8_from_float32"
    assert layer.quantization_mode == k_layer.quantization_mode == "int8"
    x = _data(4, *input_shape, seed=1)
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-5)
    ours_config = json.loads(json.dumps(layer.get_config()))
    theirs_config = json.loads(json.dumps(k_layer.get_config()))
    assert ours_config == theirs_config


def test_quantized_outputs_stay_close_to_the_float_layer():
    layer = layers.Dense(16)
    x = torch.tensor(_data(8, 32))
    before = layer(x).detach()
    layer.quantize("int8")
    after = layer(x).detach()
    assert layer.kernel.dtype == torch.int8
    assert float((after - before).abs().max()) < 0.02 * float(before.abs().max())


def test_embedding_matches_keras():
    make = lambda L: L.Embedding(10, 4, name="q")  # noqa: E731
    ours, theirs = _pair(make, (3,), dtype="int32")
    ours.quantize("int8")
    _quantize_keras(theirs, "int8")
    layer, k_layer = ours.get_layer("q"), theirs.get_layer("q")
    assert _variables(layer) == _keras_variables(k_layer)
    ids = np.array([[1, 2, 9], [0, 0, 5]], "int32")
    np.testing.assert_allclose(_np(ours(ids)), _np(theirs(ids)), rtol=1e-6, atol=1e-7)
    assert json.loads(json.dumps(layer.get_config())) == json.loads(
        json.dumps(k_layer.get_config())
    )


def test_custom_config_weight_only_matches_keras():
    def config(q):
        return q.Int8QuantizationConfig(
            weight_quantizer=q.AbsMaxQuantizer(axis=0), activation_quantizer=None
        )

    for make, shape in (CASES["dense"], CASES["einsum_heads"]):
        ours, theirs = _pair(make, shape)
        ours.quantize(config=config(quantizers))
        _quantize_keras(theirs, config=config(keras.quantizers))
        x = _data(2, *shape, seed=3)
        np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-6)
        assert ours.get_layer("q").inputs_quantizer is None


@pytest.mark.parametrize("case", ["dense_3d", "einsum_heads", "einsum_swap"])
def test_inputs_gradient_matches_keras_and_kernel_gets_none(case):
    make, input_shape = CASES[case]
    ours, theirs = _pair(make, input_shape)
    ours.quantize("int8")
    _quantize_keras(theirs, "int8")
    x = _data(2, *input_shape, seed=4)
    ours_x = torch.tensor(x, requires_grad=True)
    k_x = torch.tensor(x, requires_grad=True)
    (ours.get_layer("q")(ours_x) ** 2).sum().backward()
    (theirs.get_layer("q")(k_x) ** 2).sum().backward()
    np.testing.assert_allclose(_np(ours_x.grad), _np(k_x.grad), rtol=1e-4, atol=1e-5)
    assert (
        ours.get_layer("q")._kernel.grad is None
        if case != "dense_3d"
        else (ours.get_layer("q").kernel.grad is None)
    )


def test_training_after_quantization_updates_only_the_bias():
    model = lamina.Sequential([lamina.Input((6,)), layers.Dense(3)])
    model.quantize("int8")
    dense = model.layers[0]
    kernel, scale = dense.kernel.detach().clone(), dense.kernel_scale.detach().clone()
    bias = dense.bias.detach().clone()
    assert [w.path.split("/")[-1] for w in model.trainable_weights] == ["bias"]
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_data(16, 6), _data(16, 3), epochs=1, batch_size=8, verbose=0)
    assert torch.equal(dense.kernel, kernel) and torch.equal(dense.kernel_scale, scale)
    assert not torch.equal(dense.bias, bias)


def test_weights_files_load_both_ways(tmp_path):
    def make(L):
        return [
            L.Dense(8, name="a"),
            L.EinsumDense("ab,bcd->acd", output_shape=(2, 3), bias_axes="d"),
        ]

    ours = lamina.Sequential([lamina.Input((5,)), *make(layers)])
    theirs = keras.Sequential([keras.Input((5,)), *make(keras.layers)])
    theirs.set_weights(ours.get_weights())
    ours.quantize("int8")
    _quantize_keras(theirs, "int8")
    x = _data(3, 5, seed=5)
    expected = _np(theirs(x))
    np.testing.assert_allclose(_np(ours(x)), expected, rtol=1e-5, atol=1e-6)
    # Keras -> lamina, into a quantized model whose variables are all zeros.
    path = str(tmp_path / "k.weights.h5")
    theirs.save_weights(path)
    for w in ours.weights:
        w.data.zero_()
    ours.load_weights(path)
    np.testing.assert_allclose(_np(ours(x)), expected, rtol=1e-5, atol=1e-6)
    # lamina -> Keras.
    path = str(tmp_path / "o.weights.h5")
    ours.save_weights(path)
    for w in theirs.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    theirs.load_weights(path)
    np.testing.assert_allclose(_np(theirs(x)), expected, rtol=1e-6)


def test_keras_files_of_quantized_models_load_both_ways(tmp_path):
    def make(L):
        return [
            L.Embedding(12, 6, name="emb"),
            L.EinsumDense(
                "abc,cd->abd", output_shape=(None, 8), bias_axes="d", name="proj"
            ),
            L.Dense(3, name="head"),
        ]

    ours = lamina.Sequential([lamina.Input((4,), dtype="int32"), *make(layers)])
    theirs = keras.Sequential([keras.Input((4,), dtype="int32"), *make(keras.layers)])
    theirs.set_weights(ours.get_weights())
    ours.quantize("int8")
    _quantize_keras(theirs, "int8")
    ids = np.array([[1, 2, 3, 11], [0, 5, 5, 7]], "int32")
    expected = _np(theirs(ids))
    path = str(tmp_path / "k.keras")
    theirs.save(path)
    loaded = lamina.saving.load_model(path)
    assert loaded.get_layer("head").dtype_policy.name == "int8_from_float32"
    assert loaded.get_layer("head").kernel.dtype == torch.int8
    np.testing.assert_allclose(_np(loaded(ids)), expected, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "o.keras")
    ours.save(path)
    k_loaded = keras.saving.load_model(path)
    assert k_loaded.get_layer("proj").quantization_mode == "int8"
    np.testing.assert_allclose(_np(k_loaded(ids)), _np(ours(ids)), rtol=1e-5, atol=1e-6)
    again = lamina.saving.load_model(path)
    np.testing.assert_allclose(_np(again(ids)), _np(ours(ids)), rtol=1e-6)


def test_model_quantize_filters_and_skips_unsupported_layers():
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(4, name="a"),
            layers.Dropout(0.1),
            layers.Dense(2, name="b"),
        ]
    )
    model.quantize("int8", filters="b")
    assert model.get_layer("a").quantization_mode is None
    assert model.get_layer("b").quantization_mode == "int8"
    model.quantize("int8", filters=lambda layer: layer.name == "a")
    assert model.get_layer("a").kernel.dtype == torch.int8


def test_model_quantize_warns_for_subclasses_of_dense():
    class MyDense(layers.Dense):
        pass

    model = lamina.Sequential([lamina.Input((4,)), MyDense(2)])
    with pytest.warns(UserWarning, match="does not have a `quantize` method"):
        model.quantize("int8")
    assert model.layers[0].kernel.dtype == torch.float32
    model.layers[0].quantize("int8", type_check=False)
    assert model.layers[0].kernel.dtype == torch.int8


def test_quantize_errors():
    layer = layers.Dense(2)
    with pytest.raises(ValueError, match="not built"):
        layer.quantize("int8")
    layer.build((None, 3))
    with pytest.raises(ValueError, match="Invalid quantization mode"):
        layer.quantize("int7")
    with pytest.raises(ValueError, match="GPTQConfig"):
        layer.quantize("gptq")
    with pytest.raises(ValueError, match="(?i)contradictory"):
        layer.quantize("int8", config=quantizers.Int4QuantizationConfig())
    layer.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("int8")
    half = layers.Dense(2, dtype="float16")
    half.build((None, 3))
    with pytest.raises(ValueError, match="float16"):
        half.quantize("int8")


def test_quantized_layer_from_config_builds_int8_variables():
    layer = layers.Dense(3)
    layer.build((None, 5))
    layer.quantize("int8")
    clone = layers.Dense.from_config(layer.get_config())
    clone.build((None, 5))
    assert _variables(clone) == _variables(layer)
    clone.set_weights(layer.get_weights())
    x = torch.tensor(_data(2, 5))
    torch.testing.assert_close(clone(x), layer(x))


def test_constructor_refuses_a_quantization_config_of_the_wrong_kind():
    with pytest.raises(TypeError, match="quantization_config must be"):
        layers.Embedding(5, 2, quantization_config={"mode": "int8"})
    with pytest.raises(TypeError, match="quantization_config must be"):
        layers.Dense(2, quantization_config="int8")


def test_einsum_with_ellipsis_quantizes_like_its_explicit_equation():
    # Keras 3.15 cannot quantize ellipsis equations (its analysis fails);
    # lamina treats "...b,bc->...c" as the explicit "xyb,bc->xyc".
    implicit = layers.EinsumDense("...b,bc->...c", output_shape=5, bias_axes="c")
    explicit = layers.EinsumDense("xyb,bc->xyc", output_shape=(None, 5), bias_axes="c")
    x = torch.tensor(_data(2, 3, 4))
    implicit(x)
    explicit(x)
    explicit.set_weights(implicit.get_weights())
    implicit.quantize("int8")
    explicit.quantize("int8")
    assert implicit.kernel_scale.shape == explicit.kernel_scale.shape
    torch.testing.assert_close(implicit(x), explicit(x))
