"""predict() of a Sequential model of plain built-in layers calls each layer's
`call` in turn, without the per-layer `__call__` (less Python per batch): the
same values, and the general path wherever a layer or a batch needs it."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.trainers import trainer_utils
from lamina.trainers.trainer_utils import predict_chain

RNG = np.random.default_rng(0)


def _mlp(*extra):
    lamina.utils.set_random_seed(0)
    return lamina.Sequential(
        [
            lamina.Input((6,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.5),
            layers.BatchNormalization(),
            *extra,
            layers.Dense(3, activation="softmax"),
        ]
    )


def _cnn():
    lamina.utils.set_random_seed(0)
    return lamina.Sequential(
        [
            lamina.Input((8, 8, 2)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(3),
        ]
    )


def _used_chain(model, monkeypatch):
    seen = []
    real = trainer_utils.run_chain

    def spy(chain, fallback):
        seen.append(chain)
        return real(chain, fallback)

    monkeypatch.setattr("lamina.trainers._step_setup.run_chain", spy)
    return seen


@pytest.mark.parametrize("build, shape", [(_mlp, (10, 6)), (_cnn, (10, 8, 8, 2))])
def test_plain_sequential_models_predict_through_the_chain(build, shape, monkeypatch):
    model = build()
    x = RNG.random(shape, dtype=np.float32)
    seen = _used_chain(model, monkeypatch)
    out = model.predict(x, batch_size=4, verbose=0)
    assert seen and seen[0] is not None
    expected = lamina.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(out, expected)
    # Only inside predict(): afterwards the model calls as before.
    assert model.__dict__.get("_predict_chain") is None


class _Doubler(layers.Layer):
    def call(self, x):
        return x * 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: _mlp(_Doubler()),  # a custom layer
        lambda: _mlp(layers.Dense(4, activity_regularizer="l2")),
        lambda: lamina.Sequential(
            [
                lamina.Input((5,)),
                layers.Embedding(10, 4, mask_zero=True),
                layers.GlobalAveragePooling1D(),
            ]
        ),
        lambda: lamina.Sequential(
            [
                lamina.Input((6,)),
                layers.Dense(4, dtype="mixed_bfloat16"),
                layers.Dense(2),
            ]
        ),
    ],
    ids=["custom-layer", "activity-regularizer", "mask", "mixed"],
)
def test_models_a_layer_call_would_change_keep_the_general_path(make):
    assert predict_chain(make()) is None


def _functional_line():
    lamina.utils.set_random_seed(0)
    inputs = lamina.Input((6,))
    x = layers.Dense(8, activation="relu")(inputs)
    x = layers.Dropout(0.3)(x)
    return lamina.Model(inputs, layers.Dense(3, activation="softmax")(x))


def test_a_straight_line_functional_model_predicts_through_the_chain(monkeypatch):
    model = _functional_line()
    x = RNG.random((10, 6), dtype=np.float32)
    seen = _used_chain(model, monkeypatch)
    out = model.predict(x, batch_size=4, verbose=0)
    assert seen and len(seen[0][0]) == 3 and seen[0][3] == 2
    np.testing.assert_array_equal(
        out, lamina.ops.convert_to_numpy(model(x, training=False))
    )


def test_functional_models_with_branches_or_several_inputs_keep_the_general_path():
    inputs = lamina.Input((6,))
    hidden = layers.Dense(6)(inputs)
    residual = lamina.Model(inputs, layers.Dense(2)(layers.Add()([inputs, hidden])))
    assert predict_chain(residual) is None
    a, b = lamina.Input((3,)), lamina.Input((3,))
    two = lamina.Model([a, b], layers.Dense(2)(layers.Concatenate()([a, b])))
    assert predict_chain(two) is None
    shared = layers.Dense(6)
    twice = lamina.Model(inputs, shared(shared(inputs)))  # one layer, two nodes
    chain = predict_chain(twice)
    assert chain is not None and len(chain[0]) == 2
    x = RNG.random((4, 6), dtype=np.float32)
    np.testing.assert_array_equal(
        twice.predict(x, verbose=0),
        lamina.ops.convert_to_numpy(twice(x, training=False)),
    )


def test_lora_or_a_hook_keep_the_general_path():
    model = _mlp()
    model.layers[0].enable_lora(2)
    assert predict_chain(model) is None
    model = _mlp()
    calls = []
    model.layers[-1].register_forward_hook(lambda *args: calls.append(1))
    assert predict_chain(model) is None
    model.predict(RNG.random((4, 6), dtype=np.float32), batch_size=2, verbose=0)
    assert len(calls) == 2  # the hook saw every batch


def test_batches_the_chain_does_not_fit_take_the_model_call():
    model = _mlp()
    ints = RNG.integers(0, 3, (6, 6))  # int64: __call__ casts to float32
    np.testing.assert_allclose(
        model.predict(ints, batch_size=3, verbose=0),
        lamina.ops.convert_to_numpy(model(ints.astype("float32"), training=False)),
        rtol=1e-6,
    )


def test_a_failing_batch_gets_the_layer_s_explanation():
    model = _mlp()
    with pytest.raises(ValueError, match="expects inputs whose last axis has size 6"):
        model.predict(np.ones((2, 7), "float32"), verbose=0)


def test_the_chain_passes_training_false_to_the_layers_that_take_it():
    model = _mlp()
    chain = predict_chain(model)
    takes_training = [takes for _, takes in chain[0]]
    assert takes_training == [False, True, True, False]
    assert chain[1] == torch.float32 and chain[3] == 2


@pytest.mark.parametrize("build, shape", [(_mlp, (10, 6)), (_cnn, (10, 8, 8, 2))])
def test_mixed_models_predict_through_the_chain_with_the_same_values(
    build, shape, mixed_bf16, monkeypatch
):
    model = build()
    x = RNG.random(shape, dtype=np.float32)
    seen = _used_chain(model, monkeypatch)
    inner_calls = []
    real_call = layers.Layer.__call__

    def counting(self, *args, **kwargs):
        inner_calls.append(self)
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(layers.Layer, "__call__", counting)
    out = model.predict(x, batch_size=4, verbose=0)
    monkeypatch.undo()
    assert seen and seen[0] is not None and seen[0][4]  # the mixed chain ran
    assert inner_calls == []  # for every batch, without falling back
    expected = lamina.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(out, expected)


def test_a_mixed_model_whose_input_rounds_first_keeps_the_general_path(mixed_bf16):
    # The model casts a batch to float16 before its first layer casts it to
    # bfloat16: two roundings the chain would not make.
    model = lamina.Sequential([lamina.Input((8,), dtype="float16"), layers.Dense(4)])
    assert predict_chain(model) is None
    plain = lamina.Sequential([lamina.Input((8,)), layers.Dense(4)])
    assert predict_chain(plain) is not None
