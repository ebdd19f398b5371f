"""int4 and float8 quantization of Dense, EinsumDense and Embedding, compared
with Keras 3 on its torch backend: variables, outputs, gradients, float8
training steps, configs and files both ways."""

import json
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import dtype_policies, layers, quantizers  # noqa: E402

keras = pytest.importorskip("keras")


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return keras.ops.convert_to_numpy(x)


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


def _quantize_both(ours, theirs, mode=None, config=None):
    """`config` is a function of the quantizers module (lamina's or Keras's)."""
    ours.quantize(mode, config=None if config is None else config(quantizers))
    with warnings.catch_warnings():
        # Keras warns that its InputLayer has no quantize method.
        warnings.simplefilter("ignore", UserWarning)
        theirs.quantize(
            mode, config=None if config is None else config(keras.quantizers)
        )


def _variables(layer):
    return [
        (w.path.split("/")[-1], str(w.dtype).replace("torch.", ""), tuple(w.shape))
        for w in layer.weights
    ]


def _keras_variables(layer):
    return [(w.path.split("/")[-1], w.dtype, tuple(w.shape)) for w in layer.weights]


def _json(config):
    return json.loads(json.dumps(config))


CASES = {
    "dense": (lambda L: L.Dense(5, activation="relu", name="q"), (7,)),
    "dense_groups": (lambda L: L.Dense(6, name="q"), (10,)),
    "dense_3d": (lambda L: L.Dense(4, use_bias=False, name="q"), (3, 6)),
    "einsum_heads": (
        lambda L: L.EinsumDense(
            "abc,cde->abde", output_shape=(None, 2, 5), bias_axes="de", name="q"
        ),
        (3, 6),
    ),
    "einsum_swap": (
        lambda L: L.EinsumDense("abc,dc->abd", output_shape=(None, 7), name="q"),
        (3, 4),
    ),
}

INT4_CONFIGS = {
    "default": None,  # Keras: block_size=128
    "per_channel": lambda q: q.Int4QuantizationConfig(block_size=-1),
    "groups_of_4": lambda q: q.Int4QuantizationConfig(block_size=4),
    "quantized_inputs": lambda q: q.Int4QuantizationConfig(
        block_size=None, activation_quantizer=q.AbsMaxQuantizer()
    ),
}


@pytest.mark.parametrize("config", sorted(INT4_CONFIGS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_int4_layer_matches_keras(case, config):
    make, input_shape = CASES[case]
    ours, theirs = _pair(make, input_shape)
    _quantize_both(ours, theirs, "int4", INT4_CONFIGS[config])
    layer, k_layer = ours.get_layer("q"), theirs.get_layer("q")
    assert _variables(layer) == _keras_variables(k_layer)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, _np(b))
    assert layer.dtype_policy.name == k_layer.dtype_policy.name
    assert layer.quantization_mode == "int4"
    x = _data(4, *input_shape, seed=1)
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-5)
    assert _json(layer.get_config()) == _json(k_layer.get_config())


def test_int4_default_is_groups_of_128_with_zero_points():
    layer = layers.Dense(3)
    layer.build((None, 300))
    layer.quantize("int4")
    assert layer.dtype_policy.name == "int4/128_from_float32"
    assert isinstance(layer.dtype_policy, dtype_policies.Int4DTypePolicy)
    assert tuple(layer.kernel.shape) == (300, 2)
    assert tuple(layer.kernel_scale.shape) == tuple(layer.kernel_zero.shape) == (3, 3)
    np.testing.assert_array_equal(_np(layer.g_idx), np.arange(300) // 128)


def test_int4_outputs_stay_close_to_the_float_layer():
    layer = layers.Dense(16)
    x = torch.tensor(_data(8, 64))
    before = layer(x).detach()
    layer.quantize("int4", config=quantizers.Int4QuantizationConfig(block_size=-1))
    after = layer(x).detach()
    assert layer.kernel.dtype == torch.int8
    assert float((after - before).abs().max()) < 0.25 * float(before.abs().max())


@pytest.mark.parametrize("block_size", [None, 3])
def test_int4_embedding_matches_keras(block_size):
    make = lambda L: L.Embedding(10, 7, name="q")  # noqa: E731
    ours, theirs = _pair(make, (3,), dtype="int32")
    _quantize_both(
        ours,
        theirs,
        "int4",
        lambda q: q.Int4QuantizationConfig(block_size=block_size),
    )
    layer, k_layer = ours.get_layer("q"), theirs.get_layer("q")
    assert _variables(layer) == _keras_variables(k_layer)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, _np(b))
    ids = np.array([[1, 2, 9], [0, 0, 5]], "int32")
    np.testing.assert_allclose(_np(ours(ids)), _np(theirs(ids)), rtol=1e-6, atol=1e-6)
    assert _json(layer.get_config()) == _json(k_layer.get_config())


@pytest.mark.parametrize(
    "case,config",
    [
        ("dense_3d", "groups_of_4"),
        ("dense", "quantized_inputs"),
        ("einsum_heads", "per_channel"),
        ("einsum_swap", "quantized_inputs"),
        ("einsum_heads", "groups_of_4"),
    ],
)
def test_int4_inputs_gradient_matches_keras_and_kernel_stays_frozen(case, config):
    make, input_shape = CASES[case]
    ours, theirs = _pair(make, input_shape)
    _quantize_both(ours, theirs, "int4", INT4_CONFIGS[config])
    x = _data(2, *input_shape, seed=4)
    ours_x = torch.tensor(x, requires_grad=True)
    k_x = torch.tensor(x, requires_grad=True)
    (ours.get_layer("q")(ours_x) ** 2).sum().backward()
    (theirs.get_layer("q")(k_x) ** 2).sum().backward()
    np.testing.assert_allclose(_np(ours_x.grad), _np(k_x.grad), rtol=1e-4, atol=1e-5)
    trainable = [w.path.split("/")[-1] for w in ours.get_layer("q").trainable_weights]
    assert trainable == [w.path.split("/")[-1] for w in theirs.trainable_weights]
    assert "kernel" not in trainable


@pytest.mark.parametrize("case", ["dense", "einsum_heads", "einsum_swap"])
def test_float8_layer_matches_keras(case):
    make, input_shape = CASES[case]
    ours, theirs = _pair(make, input_shape)
    _quantize_both(ours, theirs, "float8")
    layer, k_layer = ours.get_layer("q"), theirs.get_layer("q")
    assert _variables(layer) == _keras_variables(k_layer)
    assert len(layer.trainable_weights) == len(k_layer.trainable_weights)
    assert isinstance(layer.dtype_policy, dtype_policies.QuantizedFloat8DTypePolicy)
    assert layer.dtype_policy.name == "float8_from_float32"
    # Scales other than 1 make the float8 rounding visible.
    for k_layer_weights in (layer, k_layer):
        for name, value in (("inputs_scale", 0.01), ("kernel_scale", 0.002)):
            getattr(k_layer_weights, name).assign(np.array(value, "float32"))
    x = _data(4, *input_shape, seed=1)
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-6, atol=1e-6)
    assert _json(layer.get_config()) == _json(k_layer.get_config())


@pytest.mark.parametrize("case", ["dense", "einsum_heads"])
def test_float8_gradients_match_keras(case):
    make, input_shape = CASES[case]
    ours, theirs = _pair(make, input_shape)
    _quantize_both(ours, theirs, "float8")
    layer, k_layer = ours.get_layer("q"), theirs.get_layer("q")
    layer.outputs_grad_scale.assign(np.array(0.01, "float32"))
    k_layer.outputs_grad_scale.assign(np.array(0.01, "float32"))
    x = _data(2, *input_shape, seed=4)
    ours_x = torch.tensor(x, requires_grad=True)
    k_x = torch.tensor(x, requires_grad=True)
    (layer(ours_x) ** 2).sum().backward()
    (k_layer(k_x) ** 2).sum().backward()
    np.testing.assert_allclose(_np(ours_x.grad), _np(k_x.grad), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        _np(layer.kernel.grad), _np(k_layer._kernel.value.grad), rtol=1e-5, atol=1e-6
    )


def _float8_models(history=8):
    policy = {
        "lamina": dtype_policies.QuantizedFloat8DTypePolicy(
            "float8", "float32", amax_history_length=history
        ),
        "keras": keras.dtype_policies.QuantizedFloat8DTypePolicy(
            "float8", "float32", amax_history_length=history
        ),
    }

    def make(L, which):
        return [
            L.Dense(8, activation="relu", dtype=policy[which], name="a"),
            L.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c", name="b"),
        ]

    ours = lamina.Sequential([lamina.Input((6,)), *make(layers, "lamina")])
    theirs = keras.Sequential([keras.Input((6,)), *make(keras.layers, "keras")])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


# The scales and histories are trainable, as in Keras, and get no gradient:
# the float8 backward pass writes them itself, and the optimizer does not warn.
@pytest.mark.filterwarnings("error:Gradients do not exist:UserWarning")
def test_float8_training_steps_match_keras():
    ours, theirs = _float8_models()
    # "a" was created float8; "b" is quantized.
    ours.quantize("float8", filters="b")
    theirs.quantize("float8", filters="b")
    assert [v[0] for v in _variables(ours.get_layer("a"))][:2] == [
        "inputs_scale",
        "inputs_amax_history",
    ]
    assert _variables(ours.get_layer("a")) == _keras_variables(theirs.get_layer("a"))
    x, y = _data(32, 6, seed=2) * 3, _data(32, 3, seed=3)
    ours.compile(optimizer=lamina.optimizers.SGD(0.05), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.weights, theirs.weights):
        assert a.path.split("/")[1:] == b.path.split("/")[1:]
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)
    scale = ours.get_layer("b").inputs_scale
    assert scale.item() != 1.0  # the delayed scaling did move
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-5)


def test_float8_scales_move_only_in_training_calls():
    layer = layers.Dense(2)
    layer.build((None, 3))
    layer.quantize("float8")
    x = torch.tensor(_data(4, 3) * 5)
    layer(x).sum().backward()
    assert layer.inputs_scale.item() == 1.0 and layer.kernel_scale.item() == 1.0
    # The outputs' gradient history is kept up to date by every backward pass.
    assert layer.outputs_grad_amax_history[0].item() == 1.0
    layer(x, training=True).sum().backward()
    amax = x.abs().max().item()
    assert layer.inputs_amax_history[0].item() == pytest.approx(amax)
    assert layer.inputs_scale.item() == 1.0  # the history was empty: scale kept
    layer(x, training=True).sum().backward()
    expected = amax / float(torch.finfo(torch.float8_e4m3fn).max)
    assert layer.inputs_scale.item() == pytest.approx(expected)


def test_weights_files_load_both_ways(tmp_path):
    def make(L):
        return [
            L.Dense(8, name="a"),
            L.EinsumDense("ab,bcd->acd", output_shape=(2, 3), bias_axes="d"),
        ]

    for mode, config in (("int4", None), ("int4", INT4_CONFIGS["per_channel"])):
        ours = lamina.Sequential([lamina.Input((5,)), *make(layers)])
        theirs = keras.Sequential([keras.Input((5,)), *make(keras.layers)])
        theirs.set_weights(ours.get_weights())
        _quantize_both(ours, theirs, mode, config)
        x = _data(3, 5, seed=5)
        expected = _np(theirs(x))
        path = str(tmp_path / "k.weights.h5")
        theirs.save_weights(path)
        for w in ours.weights:
            w.data.zero_()
        ours.load_weights(path)
        np.testing.assert_allclose(_np(ours(x)), expected, rtol=1e-5, atol=1e-6)
        path = str(tmp_path / "o.weights.h5")
        ours.save_weights(path)
        for w in theirs.weights:
            w.assign(np.zeros(w.shape, w.dtype))
        theirs.load_weights(path)
        np.testing.assert_allclose(_np(theirs(x)), expected, rtol=1e-6)


def _file_models():
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
    return ours, theirs


@pytest.mark.parametrize("mode", ["int4", "float8"])
def test_keras_files_load_both_ways(tmp_path, mode):
    ours, theirs = _file_models()
    with warnings.catch_warnings():
        # Embedding has no float8 mode: both warn and skip it.
        warnings.simplefilter("ignore", UserWarning)
        _quantize_both(ours, theirs, mode)
    for layer in ours.layers:
        layer_scale = getattr(layer, "kernel_scale", None)
        if mode == "float8" and layer_scale is not None:
            layer.kernel_scale.assign(np.array(0.003, "float32"))
            theirs.get_layer(layer.name).kernel_scale.assign(np.array(0.003, "float32"))
    ids = np.array([[1, 2, 3, 11], [0, 5, 5, 7]], "int32")
    expected = _np(theirs(ids))
    np.testing.assert_allclose(_np(ours(ids)), expected, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "k.keras")
    theirs.save(path)
    loaded = lamina.saving.load_model(path)
    k_head = keras.saving.load_model(path).get_layer("head")
    head = loaded.get_layer("head")
    assert head.dtype_policy.name == k_head.dtype_policy.name
    # Loading builds float8 scales before the kernel, in both.
    assert _variables(head) == _keras_variables(k_head)
    np.testing.assert_allclose(_np(loaded(ids)), expected, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "o.keras")
    ours.save(path)
    k_loaded = keras.saving.load_model(path)
    assert k_loaded.get_layer("proj").quantization_mode == mode
    np.testing.assert_allclose(_np(k_loaded(ids)), expected, rtol=1e-5, atol=1e-6)


def test_policy_configs_match_keras():
    ours = dtype_policies.get("int4/64_from_mixed_bfloat16")
    theirs = keras.dtype_policies.get("int4/64_from_mixed_bfloat16")
    assert type(ours).__name__ == type(theirs).__name__ == "Int4DTypePolicy"
    assert _json(dtype_policies.serialize(ours)) == _json(
        keras.dtype_policies.serialize(theirs)
    )
    ours = dtype_policies.QuantizedFloat8DTypePolicy("float8", "float32", 16)
    theirs = keras.dtype_policies.QuantizedFloat8DTypePolicy("float8", "float32", 16)
    assert _json(dtype_policies.serialize(ours)) == _json(
        keras.dtype_policies.serialize(theirs)
    )
    assert dtype_policies.deserialize(dtype_policies.serialize(ours)) == ours


def test_quantize_errors():
    embedding = layers.Embedding(5, 2)
    embedding.build()
    with pytest.raises(NotImplementedError, match="'float8' is not supported"):
        embedding.quantize("float8")
    layer = layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="(?i)contradictory"):
        layer.quantize("float8", config=quantizers.Int4QuantizationConfig())
    layer.quantize("int4")
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("float8")
    half = layers.Dense(2, dtype="float16")
    half.build((None, 3))
    half.quantize("int4")  # Keras refuses float16 for int8 only
    assert half.dtype_policy.name == "int4/128_from_float16"
