"""Layer gaps found by Keras's own tests (session 9), against Keras 3.

Regularizers of frozen weights, Embedding's negative ids, and the `<arg>_mask`
arguments Keras fills from the masks the tensors carry.
"""

import os
import warnings

import numpy as np
import pytest
import torch

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


def _np(x):
    return (
        lamina.ops.convert_to_numpy(x)
        if isinstance(x, torch.Tensor)
        else (keras.ops.convert_to_numpy(x))
    )


def _losses(layer):
    return sorted(float(_np(v)) for v in layer.losses)


# --- 1. only trainable weights are regularized ------------------------------------------


def test_frozen_layer_weights_add_no_penalty_as_in_keras():
    results = []
    for lib in (keras, lamina):
        layer = lib.layers.Dense(
            3,
            kernel_initializer="ones",
            bias_initializer="ones",
            kernel_regularizer=lib.regularizers.L2(0.1),
            bias_regularizer=lib.regularizers.L1(0.2),
        )
        layer.build((None, 4))
        frozen_before = _losses(layer)
        layer.trainable = False
        frozen = _losses(layer)
        layer.trainable = True
        results.append((frozen_before, frozen, _losses(layer)))
    assert results[1] == results[0]
    assert results[1][1] == [] and len(results[1][2]) == 2


def test_non_trainable_weight_with_regularizer_adds_no_penalty():
    counts = []
    for lib in (keras, lamina):

        class Two(lib.layers.Layer):
            def build(self, input_shape):
                self.frozen = self.add_weight(
                    shape=(2,), initializer="ones", trainable=False, regularizer="l2"
                )
                self.free = self.add_weight(
                    shape=(3,), initializer="ones", regularizer="l2"
                )

            def call(self, x):
                return x

        layer = Two()
        layer.build((1,))
        counts.append(_losses(layer))
    assert counts[1] == pytest.approx(counts[0]) and len(counts[1]) == 1


def test_fit_loss_of_a_partially_frozen_model_equals_keras():
    x = np.ones((4, 4), "float32")
    y = np.zeros((4, 1), "float32")
    results = []
    for lib in (keras, lamina):
        inputs = lib.Input((4,))
        first = lib.layers.Dense(
            3, kernel_initializer="ones", kernel_regularizer=lib.regularizers.L2(0.5)
        )
        second = lib.layers.Dense(
            1, kernel_initializer="ones", kernel_regularizer=lib.regularizers.L2(0.5)
        )
        model = lib.Model(inputs, second(first(inputs)))
        first.trainable = False
        model.compile("sgd", "mse")
        evaluated = model.evaluate(x, y, verbose=0)
        history = model.fit(x, y, epochs=1, batch_size=4, verbose=0).history
        results.append((len(model.losses), evaluated, history["loss"][0]))
    assert results[1][0] == results[0][0] == 1
    np.testing.assert_allclose(results[1][1:], results[0][1:], rtol=1e-6)


# --- 3. Embedding: negative ids count from the end (Keras on torch) -------------------


def _embedding(lib, **kwargs):
    layer = lib.layers.Embedding(5, 3, **kwargs)
    layer.build((None,))
    layer.set_weights([np.arange(15, dtype="float32").reshape(5, 3)])
    return layer


@pytest.mark.parametrize("mode", [None, "int8", "lora"])
def test_embedding_negative_ids_equal_keras(mode):
    ids = np.array([[-1, -5, 2], [4, 0, -3]])
    outputs = []
    for lib in (keras, lamina):
        layer = _embedding(lib)
        if mode == "int8":
            layer.quantize("int8")
        elif mode == "lora":
            layer.enable_lora(2)
        outputs.append(_np(layer(ids)))
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-6)
    assert outputs[1][0, 0].tolist() == pytest.approx([12.0, 13.0, 14.0], rel=1e-2)


@pytest.mark.parametrize("ids", [[-6], [5]])
def test_embedding_ids_beyond_the_table_still_fail(ids, values_on_cpu):
    # On the CPU: on CUDA an out-of-range lookup is a device-side assert that
    # poisons the whole test process (see Embedding's docstring).
    for lib in (keras, lamina):
        with pytest.raises(IndexError):
            _embedding(lib)(np.array(ids))


def test_embedding_negative_ids_under_mask_zero_keep_keras_mask():
    ids = np.array([[-1, 0, 3]])
    masks = [
        _np(_embedding(lib, mask_zero=True).compute_mask(ids))
        for lib in (keras, lamina)
    ]
    assert masks[1].tolist() == masks[0].tolist() == [[True, False, True]]


# --- 4. `<arg>_mask` arguments filled from the tensors' masks --------------------------


def _recorder(lib, seen):
    class TwoInputs(lib.layers.Layer):
        def call(self, query, value, query_mask=None, value_mask=None):
            seen["query_mask"] = (
                None if query_mask is None else _np(query_mask).tolist()
            )
            seen["value_mask"] = (
                None if value_mask is None else _np(value_mask).tolist()
            )
            return query

    return TwoInputs()


def _masked(lib):
    embedding = lib.layers.Embedding(5, 2, mask_zero=True)
    return embedding(np.array([[1, 0, 2]])), embedding(np.array([[0, 3]]))


@pytest.mark.parametrize("how", ["positional", "keyword", "explicit"])
def test_arg_masks_are_filled_as_in_keras(how):
    results = []
    for lib in (keras, lamina):
        seen = {}
        layer = _recorder(lib, seen)
        query, value = _masked(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the layer drops the mask: Keras warns
            if how == "positional":
                layer(query, value)
            elif how == "keyword":
                layer(query, value=value)
            else:
                given = lib.ops.convert_to_tensor(np.array([[True, True]]))
                layer(query, value, value_mask=given)
        results.append(seen)
    assert results[1] == results[0]
    assert results[1]["query_mask"] == [[True, False, True]]


def test_single_tensor_argument_gets_no_arg_mask_as_in_keras():
    seen = []
    for lib in (keras, lamina):

        class One(lib.layers.Layer):
            def call(self, query, query_mask=None):
                seen.append(query_mask is None)
                return query

        query, _ = _masked(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            One()(query)
    assert seen == [True, True]


def test_arg_masks_reach_call_in_functional_models():
    seen = {}
    a = lamina.Input((3,), dtype="int32")
    b = lamina.Input((2,), dtype="int32")
    embedding = lamina.layers.Embedding(5, 2, mask_zero=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = _recorder(lamina, seen)(embedding(a), embedding(b))
        assert seen["query_mask"] is not None  # symbolic masks while building
        model = lamina.Model([a, b], outputs)
        seen.clear()
        model([np.array([[1, 0, 2]]), np.array([[0, 3]])])
    assert seen == {"query_mask": [[True, False, True]], "value_mask": [[False, True]]}


def test_layers_without_arg_mask_parameters_record_none():
    assert lamina.layers.Dense(2)._call_mask_args == ()
    assert lamina.layers.MultiHeadAttention(2, 4)._call_mask_args == (
        "query",
        "value",
        "key",
    )
