"""Session 15's cuts to the host time around each batch (the cost that bounds
small models on a GPU): evaluate keeps autocast's weight casts from batch to
batch, mixed layers inside their model's autocast region take the layer fast
path, and the fused RNN path skips per-call attribute writes and weight copies.
Each must leave values exactly as they were."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def _mlp():
    model = lamina.Sequential(
        [
            lamina.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 8)).astype("float32"), rng.integers(0, 4, n)


def _kernel_casts(fn, shape):
    """How many times `fn()` copies a tensor of `shape` (autocast's casts of a
    float32 kernel of that shape to bfloat16)."""
    with torch.profiler.profile(record_shapes=True) as prof:
        fn()
    return sum(
        1
        for event in prof.events()
        if event.name == "aten::copy_" and event.input_shapes[:1] == [list(shape)]
    )


class _AtBatchEnd(lamina.callbacks.Callback):
    def __init__(self, action=None):
        super().__init__()
        self.action = action

    def on_test_batch_end(self, batch, logs=None):
        if self.action is not None:
            self.action(batch)


def test_evaluate_casts_each_weight_once_under_a_mixed_policy(mixed_bf16):
    model = _mlp()
    x, y = _data()
    model.evaluate(x, y, batch_size=16, verbose=0)
    kernel = tuple(model.layers[0].kernel.shape)
    kept = _kernel_casts(lambda: model.evaluate(x, y, batch_size=16, verbose=0), kernel)
    per_batch = _kernel_casts(
        lambda: model.evaluate(
            x, y, batch_size=16, verbose=0, callbacks=[_AtBatchEnd()]
        ),
        kernel,
    )
    assert kept == 1
    assert per_batch == 4  # 64 samples, 4 batches: a callback may assign weights
    # Same values either way.
    assert model.evaluate(x, y, batch_size=16, verbose=0) == model.evaluate(
        x, y, batch_size=16, verbose=0, callbacks=[_AtBatchEnd()]
    )


def test_no_casts_outlive_evaluate(mixed_bf16):
    # Weights changed after one evaluation are seen by the next one and by
    # predict: torch's cast cache is empty once evaluate returns.
    model = _mlp()
    x, y = _data()
    first = model.evaluate(x, y, batch_size=16, verbose=0)
    kernel = model.layers[0].kernel
    kernel.assign(np.zeros(tuple(kernel.shape), "float32"))
    after = model.evaluate(x, y, batch_size=16, verbose=0)
    assert after != first
    # All-zero first layer: relu(0 + 0) = 0, so every sample gets the same
    # prediction, softmax of the second bias (zeros): 1/4 each.
    np.testing.assert_allclose(model.predict(x, verbose=0), 0.25, atol=1e-3)
    assert after[0] == pytest.approx(np.log(4.0), abs=1e-2)


def test_a_callback_assigning_weights_between_batches_is_seen(mixed_bf16):
    # The callback zeroes the first kernel after batch 0: the batches after it
    # must be computed with zeros, not with a kept cast of the old kernel.
    model = _mlp()
    x, y = _data()
    reference = _mlp()
    reference.set_weights(model.get_weights())
    first_batch = reference.evaluate(x[:16], y[:16], verbose=0)[0]
    kernel = model.layers[0].kernel

    def zero_kernel(batch):
        if batch == 0:
            kernel.assign(np.zeros(tuple(kernel.shape), "float32"))

    loss = model.evaluate(
        x, y, batch_size=16, verbose=0, callbacks=[_AtBatchEnd(zero_kernel)]
    )[0]
    # Batches 1-3 with a zero first layer predict 1/4 for every class.
    assert loss == pytest.approx((first_batch + 3 * np.log(4.0)) / 4, abs=1e-2)
    assert abs(first_batch - np.log(4.0)) > 0.05  # the two cases do differ


def test_custom_test_step_keeps_casting_per_batch(mixed_bf16):
    class Custom(lamina.Sequential):
        def test_step(self, data):
            return super().test_step(data)

    model = Custom(
        [
            lamina.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy")
    x, y = _data()
    model.evaluate(x, y, batch_size=16, verbose=0)
    casts = _kernel_casts(
        lambda: model.evaluate(x, y, batch_size=16, verbose=0),
        tuple(model.layers[0].kernel.shape),
    )
    assert casts == 4


def test_mixed_layers_inside_their_models_region_keep_keras_dtypes(mixed_bf16):
    # Inner mixed layers take the fast path inside the model's autocast region;
    # a float32 layer among them still leaves it, and one after it re-enters.
    inputs = lamina.Input((8,))
    a = layers.Dense(16, activation="relu")(inputs)
    b = layers.Dense(16, dtype="float32")(a)
    c = layers.Dense(4, activation="softmax")(b)
    model = lamina.Model(inputs, [a, b, c])
    x, _ = _data(8)
    outputs = model(torch.from_numpy(x))
    assert [o.dtype for o in outputs] == [torch.bfloat16, torch.float32, torch.bfloat16]
    # The float32 layer really computed in float32: same as by hand.
    kernel, bias = model.layers[2].kernel, model.layers[2].bias
    expected = outputs[0].float() @ kernel + bias
    torch.testing.assert_close(outputs[1], expected, rtol=1e-6, atol=1e-6)


def test_rnn_dropout_masks_are_drawn_afresh_each_call():
    lstm = layers.LSTM(4, dropout=0.5, seed=1)
    x = torch.ones(2, 3, 5)
    first = lstm(x, training=True)
    second = lstm(x, training=True)
    assert not torch.equal(first, second)
    assert lstm.cell.get_dropout_mask(x[:, 0]) is not None  # drawn on demand
    lstm(x, training=False)  # the call resets what was drawn
    assert lstm.cell.__dict__.get("_dropout_mask") is None


def test_lstm_states_follow_the_compute_dtype(mixed_bf16):
    lstm = layers.LSTM(4, return_state=True)
    output, h, c = lstm(torch.ones(2, 3, 5))
    assert output.dtype == h.dtype == c.dtype == torch.bfloat16
    torch.testing.assert_close(output, h)


def test_data_parallel_evaluation_keeps_no_casts(mixed_bf16):
    # Under FSDP a layer's weights are whole only while it runs; kept casts of
    # every layer would hold them all. (The distribution is faked: only the
    # flag evaluate reads is set.) Two model calls, each its own autocast
    # region, inside the context evaluate runs its batches in.
    from lamina.callbacks import CallbackList
    from lamina.trainers.trainer_utils import autocast_casts_kept

    model = _mlp()
    x, _ = _data()
    model(x[:16])

    def two_batches():
        with torch.no_grad(), autocast_casts_kept(model, CallbackList()):
            model(x[:16])
            model(x[16:32])

    kernel = tuple(model.layers[0].kernel.shape)
    assert _kernel_casts(two_batches, kernel) == 1
    model.__dict__["_distribution"] = object()
    try:
        assert _kernel_casts(two_batches, kernel) == 2
    finally:
        del model.__dict__["_distribution"]
