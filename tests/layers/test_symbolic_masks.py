"""Masks on symbolic tensors, as Keras 3 propagates them while a functional
model is built: `_keras_mask` on KerasTensors, `call(inputs, mask=None)` seeing
a symbolic mask, and masked functional models giving Keras's outputs and
moving between lamina and Keras as `.keras` files."""

import os
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops

os.environ.setdefault("KERAS_BACKEND", "torch")

TOKENS = np.array([[3, 7, 1, 0, 0, 0], [5, 2, 9, 4, 8, 0]], dtype="int32")
FEATURES = np.random.default_rng(0).random((2, 6, 3)).astype("float32")
FEATURES[0, 4:] = 0.0  # two padded steps for Masking
FEATURES[1, 5:] = 0.0


@pytest.fixture(autouse=True)
def _fresh_names():
    lamina.utils.clear_session()
    yield
    lamina.utils.clear_session()


def _keras():
    keras = pytest.importorskip("keras")
    keras.utils.clear_session()
    return keras


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# --- mask-making layers -------------------------------------------------------


def test_embedding_mask_zero_gives_a_boolean_mask_made_by_a_graph_op():
    inputs = lamina.Input((None,), dtype="int32")
    x = layers.Embedding(10, 4, mask_zero=True)(inputs)
    assert x._keras_mask.shape == (None, None)
    assert x._keras_mask.dtype == "bool"
    # Keras: the mask is the output of a `not_equal` op node on the inputs.
    op, _, _ = x._keras_mask._keras_history
    assert op.name.startswith("not_equal")
    assert not hasattr(layers.Embedding(10, 4)(inputs), "_keras_mask")
    assert not hasattr(inputs, "_keras_mask")


def test_masking_gives_a_boolean_mask_over_the_time_axis():
    x = layers.Masking()(lamina.Input((6, 3)))
    assert x._keras_mask.shape == (None, 6)
    assert x._keras_mask.dtype == "bool"


def _symbolic_masks(lib, build):
    """`build(lib, masked, plain)` on symbolic inputs; the `_keras_mask` of each
    output as `(shape, dtype)`, or None."""
    masked = lib.layers.Masking()(lib.Input((6, 3)))
    with warnings.catch_warnings():
        # Keras warns when a layer without mask support drops a mask.
        warnings.simplefilter("ignore", UserWarning)
        outputs = build(lib, masked, lib.Input((6, 3)))
    found = []
    for tensor in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
        mask = getattr(tensor, "_keras_mask", None)
        found.append(None if mask is None else (tuple(mask.shape), str(mask.dtype)))
    return found


CASES = {
    "lstm_sequences": lambda k, m, p: k.layers.LSTM(2, return_sequences=True)(m),
    "lstm_last": lambda k, m, p: k.layers.LSTM(2)(m),
    "lstm_states": lambda k, m, p: k.layers.LSTM(
        2, return_sequences=True, return_state=True
    )(m),
    "gru_sequences": lambda k, m, p: k.layers.GRU(2, return_sequences=True)(m),
    "bidirectional_concat": lambda k, m, p: k.layers.Bidirectional(
        k.layers.LSTM(2, return_sequences=True)
    )(m),
    "bidirectional_none": lambda k, m, p: k.layers.Bidirectional(
        k.layers.GRU(2, return_sequences=True), merge_mode=None
    )(m),
    "bidirectional_last": lambda k, m, p: k.layers.Bidirectional(k.layers.LSTM(2))(m),
    "time_distributed": lambda k, m, p: k.layers.TimeDistributed(k.layers.Dense(2))(m),
    "dense": lambda k, m, p: k.layers.Dense(2)(m),
    "dropout": lambda k, m, p: k.layers.Dropout(0.5)(m),
    "activation": lambda k, m, p: k.layers.Activation("relu")(m),
    "layer_norm": lambda k, m, p: k.layers.LayerNormalization()(m),
    "concatenate_last_axis": lambda k, m, p: k.layers.Concatenate()([m, m]),
    "concatenate_time_axis": lambda k, m, p: k.layers.Concatenate(axis=1)([m, p]),
    "add_both_masked": lambda k, m, p: k.layers.Add()([m, m]),
    "attention": lambda k, m, p: k.layers.Attention()([m, m]),
    "multi_head_attention": lambda k, m, p: k.layers.MultiHeadAttention(2, 4)(m, m),
    "global_average_pooling": lambda k, m, p: k.layers.GlobalAveragePooling1D()(m),
    "flatten": lambda k, m, p: k.layers.Flatten()(m),
    "nested_sequential": lambda k, m, p: k.Sequential(
        [k.layers.Masking(), k.layers.Dense(2)]
    )(p),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_symbolic_masks_match_keras(case):
    keras = _keras()
    expected = _symbolic_masks(keras, CASES[case])
    assert _symbolic_masks(lamina, CASES[case]) == expected


def test_pass_through_layers_hand_on_the_same_mask_tensor():
    inputs = lamina.Input((None,), dtype="int32")
    x = layers.Embedding(10, 4, mask_zero=True)(inputs)
    y = layers.LSTM(3, return_sequences=True)(layers.Dense(4)(x))
    assert y._keras_mask is x._keras_mask


# --- custom layers: the guide's examples, written anew ------------------------


class TimeSoftmax(layers.Layer):
    """Softmax over the time axis that ignores masked steps; needs the mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            raise AssertionError("TimeSoftmax was called without a mask")
        keep = ops.expand_dims(ops.cast(mask, "float32"), -1)
        weights = ops.exp(inputs) * keep
        return weights / ops.sum(weights, axis=1, keepdims=True)


class Relu(layers.Layer):
    """A custom layer that opts in to passing the mask on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


class HalvesInTime(layers.Layer):
    """Splits the time axis in two, and the mask with it."""

    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else ops.split(mask, 2, axis=1)


class ZeroMaskingEmbedding(layers.Layer):
    """An embedding whose mask (`inputs != 0`) comes from its own compute_mask."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=(10, 4), initializer="random_normal")

    def call(self, inputs):
        return ops.take(self.table, inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)


class TorchMask(layers.Layer):
    """A compute_mask written with torch functions (not lamina.ops)."""

    def call(self, inputs):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return torch.any(inputs != 0, dim=-1)


def test_call_with_a_mask_argument_sees_a_symbolic_mask_while_building():
    inputs = lamina.Input((None,), dtype="int32")
    x = layers.Embedding(10, 8, mask_zero=True)(inputs)
    outputs = TimeSoftmax()(layers.Dense(1)(x))
    assert outputs.shape == (None, None, 1)
    assert outputs._keras_mask is x._keras_mask
    model = lamina.Model(inputs, outputs)
    y = _np(model(TOKENS))
    # Masked steps get zero weight; each row's weights sum to one.
    np.testing.assert_allclose(y[0, 3:, 0], 0.0)
    np.testing.assert_allclose(y[..., 0].sum(axis=1), [1.0, 1.0], rtol=1e-5)


def test_call_with_a_mask_argument_gets_none_without_a_mask():
    seen = []

    class Probe(layers.Layer):
        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs

    Probe()(lamina.Input((4, 2)))
    assert seen and all(m is None for m in seen)


def test_guide_time_softmax_model_matches_keras():
    keras = _keras()

    class KerasTimeSoftmax(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            keep = keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1)
            weights = keras.ops.exp(inputs) * keep
            return weights / keras.ops.sum(weights, axis=1, keepdims=True)

    def build(lib, softmax):
        inputs = lib.Input((None,), dtype="int32")
        x = lib.layers.Embedding(10, 8, mask_zero=True)(inputs)
        return lib.Model(inputs, softmax()(lib.layers.Dense(1)(x)))

    theirs, ours = build(keras, KerasTimeSoftmax), build(lamina, TimeSoftmax)
    ours.set_weights(theirs.get_weights())
    tokens = np.random.default_rng(1).integers(0, 10, size=(4, 12))
    np.testing.assert_allclose(
        _np(ours(tokens)), _np(theirs(tokens)), rtol=1e-5, atol=1e-6
    )


def test_custom_pass_through_layer_carries_the_mask_to_lstm_as_in_keras():
    keras = _keras()

    class KerasRelu(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return keras.ops.relu(inputs)

    def build(lib, relu):
        inputs = lib.Input((None,), dtype="int32")
        x = lib.layers.Embedding(10, 4, mask_zero=True)(inputs)
        x = relu()(x)
        assert x._keras_mask.shape == (None, None)
        return lib.Model(inputs, lib.layers.LSTM(3)(x))

    theirs, ours = build(keras, KerasRelu), build(lamina, Relu)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        _np(ours(TOKENS)), _np(theirs(TOKENS)), rtol=1e-5, atol=1e-6
    )


def test_compute_mask_returning_a_list_masks_each_output():
    masked = layers.Masking()(lamina.Input((6, 3)))
    first, second = HalvesInTime()(masked)
    assert first.shape == second.shape == (None, 3, 3)
    assert first._keras_mask.shape == second._keras_mask.shape == (None, 3)
    assert first._keras_mask.dtype == "bool"


def test_custom_compute_mask_made_of_ops_becomes_part_of_the_graph():
    inputs = lamina.Input((None,), dtype="int32")
    x = ZeroMaskingEmbedding()(inputs)
    assert x._keras_mask._keras_history is not None
    # Passed on explicitly, the mask is an input of the LSTM's node.
    outputs = layers.LSTM(3)(x, mask=x._keras_mask)
    model = lamina.Model(inputs, outputs)
    emb, lstm = model.layers[1], model.layers[-1]
    expected = lstm(emb(TOKENS), mask=torch.as_tensor(TOKENS != 0))
    np.testing.assert_allclose(_np(model(TOKENS)), _np(expected), rtol=1e-6)


def test_compute_mask_written_with_torch_gives_a_mask_of_the_right_shape():
    x = TorchMask()(lamina.Input((5, 3)))
    assert x._keras_mask.shape == (None, 5)
    assert x._keras_mask.dtype == "bool"
    assert x._keras_mask._keras_history is None  # computed again at run time
    model = lamina.Model(x._keras_history[0].input, layers.GRU(2)(x))
    gru = model.layers[-1]
    expected = gru(torch.as_tensor(FEATURES), mask=torch.as_tensor(FEATURES).any(-1))
    np.testing.assert_allclose(_np(model(FEATURES)), _np(expected), rtol=1e-6)


def test_layer_without_mask_support_stops_the_mask():
    class Plain(layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    masked = layers.Masking()(lamina.Input((6, 3)))
    with pytest.warns(UserWarning, match="does not support masking"):  # as in Keras
        out = Plain()(masked)
    assert not hasattr(out, "_keras_mask")


def test_mask_given_to_a_call_without_mask_argument_is_not_passed_to_call():
    masked = layers.Masking()(lamina.Input((6, 3)))
    out = layers.Dense(2)(masked, mask=masked._keras_mask)
    assert out.shape == (None, 6, 2)
    assert out._keras_mask is masked._keras_mask


# --- functional models: run time, config, files ---------------------------------


def _masked_model(lib):
    inputs = lib.Input((None,), dtype="int32")
    x = lib.layers.Embedding(12, 4, mask_zero=True)(inputs)
    x = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True))(x)
    x = lib.layers.TimeDistributed(lib.layers.Dense(4))(x)
    x = lib.layers.GRU(2)(x)
    return lib.Model(inputs, lib.layers.Dense(1)(x))


def test_inferred_masks_are_not_recorded_in_nodes():
    model = _masked_model(lamina)
    for layer in model.layers:
        for node in layer._inbound_nodes:
            assert "mask" not in node.call_kwargs
    config = model.get_config()
    assert all(
        "mask" not in node.get("kwargs", {})
        for layer in config["layers"]
        for node in layer["inbound_nodes"]
    )


def test_masked_functional_model_matches_keras_and_the_layers_run_eagerly():
    keras = _keras()
    theirs, ours = _masked_model(keras), _masked_model(lamina)
    ours.set_weights(theirs.get_weights())
    expected = _np(theirs(TOKENS))
    np.testing.assert_allclose(_np(ours(TOKENS)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours.predict(TOKENS, verbose=0), expected, rtol=1e-5, atol=1e-6
    )
    x = TOKENS
    for layer in ours.layers[1:]:
        x = layer(x)
    np.testing.assert_allclose(_np(x), expected, rtol=1e-5, atol=1e-6)


def test_masked_model_saved_by_lamina_loads_in_keras(tmp_path):
    keras = _keras()
    model = _masked_model(lamina)
    path = str(tmp_path / "masked.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        _np(loaded(TOKENS)), _np(model(TOKENS)), rtol=1e-5, atol=1e-6
    )


def test_masked_model_saved_by_keras_loads_in_lamina(tmp_path):
    keras = _keras()
    model = _masked_model(keras)
    path = str(tmp_path / "masked.keras")
    model.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(
        _np(loaded(TOKENS)), _np(model(TOKENS)), rtol=1e-5, atol=1e-6
    )
    out = loaded.layers[1].output  # Embedding's symbolic output, rebuilt
    assert out._keras_mask.shape == (None, None)


def test_sequential_embedding_lstm_masks_padding():
    model = lamina.Sequential(
        [layers.Input((None,), dtype="int32"), layers.Embedding(12, 4, mask_zero=True)]
        + [layers.LSTM(3)]
    )
    trailing = np.concatenate([TOKENS, np.zeros((2, 3), "int32")], axis=1)
    np.testing.assert_allclose(
        _np(model(trailing)), _np(model(TOKENS)), rtol=1e-5, atol=1e-6
    )
