"""The whole compiled train step (jit_compile=True): forward, loss, gradients,
optimizer update and metrics in one graph, also N steps at a time with
steps_per_execution. Speed must never change numerics: each test trains the
same model eagerly and compiled and compares weights and logs."""

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import lamina
from lamina import callbacks, layers, optimizers
from lamina.trainers import compiled_step

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


_FUSES = pytest.mark.skipif(
    not compiled_step.FUSES_STEPS,
    reason="torch before 2.13 runs one step per graph call (compiled_step.FUSES_STEPS)",
)


@pytest.fixture(scope="module", autouse=True)
def compiler():
    try:
        torch.compile(lambda t: t + 1)(torch.ones(1))
    except Exception as error:  # noqa: BLE001 - any failure means "unavailable"
        pytest.skip(f"torch.compile is unavailable here ({type(error).__name__})")


def _data(n=70, features=6, classes=3):
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((n, features)).astype("float32"),
        rng.integers(0, classes, n).astype("int64"),
    )


def _model(optimizer="adam", jit_compile=False, steps_per_execution=1, extra=()):
    lamina.utils.set_random_seed(0)
    model = lamina.Sequential(
        [lamina.Input((6,)), layers.Dense(8, activation="relu"), *extra]
        + [layers.Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def _fit_both(
    make_optimizer, epochs=2, steps_per_execution=1, extra=lambda: (), batch_size=16
):
    x, y = _data()
    eager = _model(make_optimizer(), extra=extra())
    jit = _model(
        make_optimizer(),
        jit_compile=True,
        steps_per_execution=steps_per_execution,
        extra=extra(),
    )
    jit.set_weights(eager.get_weights())
    kwargs = dict(batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    history_eager = eager.fit(x, y, **kwargs).history
    history_jit = jit.fit(x, y, **kwargs).history
    return eager, jit, history_eager, history_jit


def _assert_same(eager, jit, history_eager, history_jit):
    for a, b in zip(eager.get_weights(), jit.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(eager.optimizer.variables, jit.optimizer.variables):
        np.testing.assert_allclose(
            a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(
        history_eager["loss"], history_jit["loss"], rtol=1e-5, atol=1e-7
    )
    assert history_eager["accuracy"] == history_jit["accuracy"]


def test_whole_step_matches_eager_and_compiles_once():
    torch._dynamo.reset()  # count this test's graphs only
    counters.clear()
    # 70 samples in batches of 16: four full batches and one of 6, two epochs.
    eager, jit, h_eager, h_jit = _fit_both(lambda: "adam")
    assert jit._whole_step.ready, jit._whole_step.reason
    _assert_same(eager, jit, h_eager, h_jit)
    # One graph, for the whole step: the partial batch reuses it.
    assert counters["stats"]["unique_graphs"] == 1
    assert jit.optimizer.iterations.item() == eager.optimizer.iterations.item() == 10
    counters.clear()
    jit.fit(*_data(), batch_size=16, epochs=1, verbose=0)  # a second fit() too
    assert counters["stats"]["unique_graphs"] == 0


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        lambda: optimizers.RMSprop(0.01, centered=True, clipnorm=1.0),
        lambda: optimizers.AdamW(
            optimizers.schedules.ExponentialDecay(0.01, 3, 0.5),
            weight_decay=0.01,
            global_clipnorm=0.5,
        ),
        lambda: optimizers.Nadam(0.01),
    ],
    ids=["sgd-nesterov", "rmsprop-centered-clipnorm", "adamw-schedule", "nadam"],
)
def test_optimizers_match_eager_inside_the_graph(make_optimizer):
    _assert_same(*_fit_both(make_optimizer))


def test_batch_norm_and_dropout_layers_train_in_the_graph():
    # Dropout at rate 0 keeps the two sides comparable (the compiled graph
    # draws its own random numbers); BatchNorm's moving statistics must update.
    eager, jit, h_eager, h_jit = _fit_both(
        lambda: "adam",
        extra=lambda: (layers.BatchNormalization(), layers.Dropout(0.0)),
    )
    assert jit._whole_step.ready, jit._whole_step.reason
    _assert_same(eager, jit, h_eager, h_jit)
    moving_mean = jit.layers[1].moving_mean.detach().cpu().numpy()
    assert np.abs(moving_mean).sum() > 0


class _BatchEnds(callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.begins, self.ends = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((batch, float(logs["loss"])))


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "jit"])
def test_steps_per_execution_groups_batches_and_callbacks(jit_compile):
    x, y = _data()
    reference = _model()
    model = _model(jit_compile=jit_compile, steps_per_execution=2)
    model.set_weights(reference.get_weights())
    kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    h_reference = reference.fit(x, y, **kwargs).history
    seen = _BatchEnds()
    h_model = model.fit(x, y, callbacks=[seen], **kwargs).history
    _assert_same(reference, model, h_reference, h_model)
    # Five batches per epoch in executions of two: steps 0-1, 2-3, then 4.
    assert seen.begins == [0, 2, 4] * 2
    assert [step for step, _ in seen.ends] == [1, 3, 4] * 2
    if jit_compile:
        assert model._whole_step.ready and model._whole_step.steps == 2


@_FUSES
def test_sixteen_steps_per_execution_run_as_two_calls_of_an_eight_step_graph():
    # 70 samples in batches of 2: two executions of 16 steps (each two graph
    # calls of 8 steps, after the first fit's first, eager, execution), then a
    # short execution of 3 steps that runs eagerly.
    reference, model, h_reference, h_model = _fit_both(
        lambda: "adam", steps_per_execution=16, batch_size=2
    )
    _assert_same(reference, model, h_reference, h_model)
    whole_step = model._whole_step
    assert whole_step.steps == 16 and whole_step.fused == 8
    assert _graph_calls(model, batch_size=2) == [(8, 2)] * 4


def _graph_calls(model, batch_size):
    """(steps, batch size) of every compiled call in one more epoch of `model`."""
    calls, whole_step = [], model._whole_step
    compiled = whole_step._compiled

    def spy(stacked, scalars):
        calls.append(tuple(lamina.tree.flatten(stacked)[0].shape[:2]))
        return compiled(stacked, scalars)

    whole_step._compiled = spy
    model.fit(*_data(), batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return calls


@_FUSES
def test_a_group_holding_the_short_last_batch_runs_eagerly():
    # 70 samples in batches of 4 and executions of 2: the last execution pairs
    # a batch of 4 with the batch of 2, which cannot share the graph's stacked
    # input; it runs through the eager step, with the same numerics.
    reference, model, h_reference, h_model = _fit_both(
        lambda: "adam", steps_per_execution=2, batch_size=4
    )
    _assert_same(reference, model, h_reference, h_model)
    assert _graph_calls(model, batch_size=4) == [(2, 4)] * 8
    assert model.optimizer.iterations.item() == 3 * 18


@_FUSES
def test_steps_per_execution_compiles_only_the_whole_step():
    # 70 samples in batches of 4 and executions of 4: the first fit's first
    # execution (its first step builds everything) and each epoch's short last
    # execution (2 batches) run eagerly, not through a second, forward-only graph.
    torch._dynamo.reset()  # count this test's graphs only
    counters.clear()
    reference, model, h_reference, h_model = _fit_both(
        lambda: "adam", steps_per_execution=4, batch_size=4
    )
    _assert_same(reference, model, h_reference, h_model)
    assert counters["stats"]["unique_graphs"] == 1
    assert model.__dict__.get("_compiled_train") is None
    # Fewer steps per epoch (5) than per execution (8): the whole step never
    # runs, and the forward pass is compiled after the first execution's steps.
    model = _model(jit_compile=True, steps_per_execution=8)
    model.fit(*_data(), batch_size=16, epochs=2, verbose=0)
    assert model.__dict__.get("_compiled_train") is not None


@_FUSES
def test_compiling_again_runs_the_new_first_execution_eagerly_too():
    model = _model(jit_compile=True, steps_per_execution=4)
    x, y = _data()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.compile(
        optimizer="sgd",
        loss="sparse_categorical_crossentropy",
        jit_compile=True,
        steps_per_execution=4,
    )
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert model.__dict__.get("_compiled_train") is None
    assert model.__dict__.get("_whole_step") is not None


def test_cpu_graphs_use_the_cpp_wrapper_except_for_convolutional_models(values_on_cpu):
    # The rule is for models on the CPU (pinned there on a GPU machine).
    from lamina.trainers.trainer_utils import _cpp_wrapper_pays

    conv = lamina.Sequential(
        [lamina.Input((6, 1)), layers.Conv1D(2, 3), layers.Flatten(), layers.Dense(3)]
    )
    assert _cpp_wrapper_pays(_model())
    assert not _cpp_wrapper_pays(conv)
    assert not _cpp_wrapper_pays(None)


@_FUSES
@pytest.mark.parametrize(
    "steps, fused, conv_fused",
    [(1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4), (5, 5, 1), (6, 6, 3), (8, 8, 4),
     (12, 6, 4), (16, 8, 4), (9, 3, 3)],
)  # fmt: skip
def test_fused_steps_is_the_largest_divisor_up_to_the_cap(steps, fused, conv_fused):
    assert compiled_step.MAX_FUSED_STEPS == 8
    assert compiled_step.MAX_FUSED_CONV_STEPS == 4
    assert compiled_step.fused_steps(steps) == fused
    assert compiled_step.fused_steps(steps, convolutional=True) == conv_fused


@_FUSES
def test_large_models_run_one_step_per_graph_on_the_cpu_only():
    limit = compiled_step.CPU_FUSED_WEIGHT_BYTES
    assert compiled_step.fused_steps(8, limit, "cpu") == 8
    assert compiled_step.fused_steps(8, limit + 1, "cpu") == 1
    assert compiled_step.fused_steps(8, limit + 1, "cuda") == 8


@_FUSES
def test_a_convolutional_model_fuses_at_most_four_steps():
    conv = lamina.Sequential(
        [lamina.Input((6, 6, 1)), lamina.layers.Conv2D(2, 3), lamina.layers.Flatten(),
         lamina.layers.Dense(2)]
    )  # fmt: skip
    conv.compile("sgd", "mse", jit_compile=True, steps_per_execution=8)
    conv.fit(np.ones((64, 6, 6, 1)), np.ones((64, 2)), batch_size=4, verbose=0)
    assert conv._whole_step.fused == 4
    dense = _model(jit_compile=True, steps_per_execution=8)
    dense.fit(np.ones((64, 6)), np.zeros(64), batch_size=4, verbose=0)
    assert dense._whole_step.fused == 8


def test_steps_per_execution_must_be_a_positive_int():
    model = _model()
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.compile(optimizer="adam", loss="mse", steps_per_execution=0)


class _CustomStep(lamina.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        return super().train_step(data)


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda: _CustomStep(), "custom train_step"),
        (
            lambda: _model(optimizers.Adam(gradient_accumulation_steps=2)),
            "host",
        ),
        (lambda: _model(optimizers.SGD(use_ema=True)), "host"),
    ],
    ids=["custom-train-step", "gradient-accumulation", "ema"],
)
def test_unsupported_models_fall_back_and_still_train(build, reason):
    x, y = _data()
    model = build()
    model.compile(
        optimizer=model.optimizer if model.compiled else "adam",
        loss="sparse_categorical_crossentropy",
        jit_compile=True,
    )
    before = [w.copy() for w in model.get_weights()] if model.built else None
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert not model._whole_step.ready
    assert reason in model._whole_step.reason
    assert np.isfinite(history["loss"]).all()
    if before is not None:
        assert any(
            not np.array_equal(a, b) for a, b in zip(before, model.get_weights())
        )


def test_mixed_bfloat16_trains_in_the_graph():
    lamina.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        eager, jit, h_eager, h_jit = _fit_both(lambda: "adam")
    finally:
        lamina.mixed_precision.set_global_policy("float32")
    assert jit._whole_step.ready, jit._whole_step.reason
    assert jit.layers[0].compute_dtype == "bfloat16"
    # bfloat16 rounding may differ between fused and eager kernels: compare
    # at bfloat16's precision, on float32 weights.
    for a, b in zip(eager.get_weights(), jit.get_weights()):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-3)
    np.testing.assert_allclose(h_eager["loss"], h_jit["loss"], rtol=1e-2)


def test_each_model_has_its_own_compile_cache():
    # torch.compile allows a bounded number of graphs per code object; each
    # model's step has its own, so one model's graphs never crowd out another's.
    x, y = _data()
    torch._dynamo.reset()
    counters.clear()
    with torch._dynamo.config.patch(recompile_limit=1):
        for width in (5, 7):
            model = _model(extra=(layers.Dense(width),))
            model.compile(optimizer="adam", loss="mse", jit_compile=True)
            model.fit(x, np.eye(3)[y], batch_size=16, epochs=1, verbose=0)
            assert model._whole_step.ready
    assert counters["stats"]["unique_graphs"] == 2


def test_cnn_with_max_pooling_matches_eager():
    # Max pooling runs as opaque ATen operators inside the graph (inductor's
    # own backward is a slow scatter on the CPU); values must not change.
    rng = np.random.default_rng(0)
    x = rng.random((40, 11, 11, 1), dtype=np.float32)
    y = rng.integers(0, 3, 40)

    def cnn(jit_compile):
        lamina.utils.set_random_seed(0)
        model = lamina.Sequential(
            [
                lamina.Input((11, 11, 1)),
                layers.Conv2D(4, 3, activation="relu"),
                layers.MaxPooling2D(padding="same"),  # 9 -> 5: uneven padding
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            "adam", "sparse_categorical_crossentropy", jit_compile=jit_compile
        )
        return model

    eager, jit = cnn(False), cnn(True)
    jit.set_weights(eager.get_weights())
    kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    h_eager = eager.fit(x, y, **kwargs).history
    h_jit = jit.fit(x, y, **kwargs).history
    assert jit._whole_step.ready, jit._whole_step.reason
    for a, b in zip(eager.get_weights(), jit.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_eager["loss"], h_jit["loss"], rtol=1e-5)


def test_a_later_fit_starts_in_the_graph():
    # The first fit runs one eager step (it builds everything); a later fit of
    # the same model goes straight to the compiled step, even for its first
    # execution of steps_per_execution batches.
    x, y = _data(64)
    model = _model(jit_compile=True, steps_per_execution=2)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    eager_steps = []
    model.train_step = lambda data: eager_steps.append(1)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert eager_steps == []
    assert model.optimizer.iterations.item() == 4 + 8


def test_recurrent_models_stay_eager_under_jit_compile():
    # torch.compile would unroll the time loop (minutes of compiling for a
    # slower step): a model with a recurrent layer trains and predicts eagerly.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 5, 3)).astype("float32")
    y = rng.integers(0, 2, (32, 1)).astype("float32")

    def rnn(jit_compile):
        lamina.utils.set_random_seed(0)
        model = lamina.Sequential(
            [
                lamina.Input((5, 3)),
                layers.Bidirectional(layers.LSTM(4)),
                layers.Dense(1, "sigmoid"),
            ]
        )
        model.compile("adam", "binary_crossentropy", jit_compile=jit_compile)
        return model

    eager, jit = rnn(False), rnn(True)
    jit.set_weights(eager.get_weights())
    torch._dynamo.reset()
    counters.clear()
    h_eager = eager.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    h_jit = jit.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    jit.predict(x, verbose=0)
    assert counters["stats"]["unique_graphs"] == 0
    assert "_whole_step" not in jit.__dict__
    assert h_eager.history["loss"] == h_jit.history["loss"]


def test_compile_batch_dynamic_gives_each_function_its_own_cache():
    from lamina.trainers.trainer_utils import compile_batch_dynamic

    def scaled(factor):
        return lambda t: t * factor  # one code object for every factor

    data = torch.arange(12.0).reshape(6, 2)
    torch._dynamo.reset()
    counters.clear()
    with torch._dynamo.config.patch(recompile_limit=1, error_on_recompile=True):
        double, triple = (
            compile_batch_dynamic(scaled(2.0)),
            compile_batch_dynamic(scaled(3.0)),
        )
        assert torch.equal(double(data), data * 2)
        assert torch.equal(triple(data), data * 3)
        # A smaller batch sliced from the middle of the data: no recompile.
        assert torch.equal(double(data[2:5]), data[2:5] * 2)
    assert counters["stats"]["unique_graphs"] == 2


@pytest.mark.parametrize("steps_per_execution", [1, 2])
def test_two_outputs_sample_weights_validation_and_lr_callback_match_eager(
    steps_per_execution,
):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 6)).astype("float32")
    y_class = rng.integers(0, 3, 70)
    y_value = rng.standard_normal((70, 1)).astype("float32")
    weights = rng.random(70).astype("float32")

    def build(jit_compile):
        lamina.utils.set_random_seed(0)
        inputs = lamina.Input((6,))
        hidden = layers.Dense(8, activation="relu")(inputs)
        outputs = {
            "label": layers.Dense(3, activation="softmax", name="label")(hidden),
            "value": layers.Dense(1, name="value")(hidden),
        }
        model = lamina.Model(inputs, outputs)
        model.compile(
            optimizer="adam",
            loss={"label": "sparse_categorical_crossentropy", "value": "mse"},
            loss_weights={"label": 1.0, "value": 0.5},
            metrics={"label": ["accuracy"], "value": ["mae"]},
            jit_compile=jit_compile,
            steps_per_execution=steps_per_execution,
        )
        return model

    def fit(model):
        halve = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
        return model.fit(
            x,
            {"label": y_class, "value": y_value},
            sample_weight=weights,
            validation_data=(x[:20], {"label": y_class[:20], "value": y_value[:20]}),
            batch_size=16,
            epochs=3,
            shuffle=False,
            verbose=0,
            callbacks=[halve],
        ).history

    eager, jit = build(False), build(True)
    jit.set_weights(eager.get_weights())
    h_eager, h_jit = fit(eager), fit(jit)
    assert jit._whole_step.ready, jit._whole_step.reason
    assert set(h_eager) == set(h_jit)
    for key in h_eager:
        np.testing.assert_allclose(h_eager[key], h_jit[key], rtol=1e-5, atol=1e-6)
    for a, b in zip(eager.get_weights(), jit.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert jit.optimizer.learning_rate == pytest.approx(0.001 * 0.5**3)


def test_the_cuda_graphs_option_is_one_torch_compile_accepts():
    from lamina.trainers.trainer_utils import compile_batch_dynamic

    # On the CPU inductor skips CUDA graphs; an unknown option would raise.
    doubled = compile_batch_dynamic(lambda t: t * 2, cuda_graphs=True)
    np.testing.assert_array_equal(doubled(torch.ones(3)).numpy(), [2.0, 2.0, 2.0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_steps_replayed_as_cuda_graphs_train_like_eager(monkeypatch):
    monkeypatch.setattr(compiled_step, "CUDA_GRAPHS", True)
    reference, model, h_reference, h_model = _fit_both(
        lambda: "adam", steps_per_execution=4, batch_size=8
    )
    _assert_same(reference, model, h_reference, h_model)
    assert model._whole_step.device.type == "cuda"


def test_shuffled_dict_inputs_in_fused_steps_match_eager():
    # Two named inputs, shuffled batches gathered a whole execution at a time
    # (the stacked graph input is a view of the gathered rows).
    rng = np.random.default_rng(5)
    a = rng.standard_normal((64, 4)).astype("float32")
    b = rng.standard_normal((64, 2)).astype("float32")
    y = rng.integers(0, 3, 64)

    def build(jit_compile):
        lamina.utils.set_random_seed(0)
        left, right = lamina.Input((4,), name="a"), lamina.Input((2,), name="b")
        joined = layers.Concatenate()([layers.Dense(5)(left), right])
        outputs = layers.Dense(3, activation="softmax")(joined)
        model = lamina.Model({"a": left, "b": right}, outputs)
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit_compile,
            steps_per_execution=4,
        )
        return model

    histories, models = [], []
    for jit_compile in (False, True):
        model = build(jit_compile)
        lamina.utils.set_random_seed(1)  # the same shuffles on both sides
        history = model.fit({"a": a, "b": b}, y, batch_size=8, epochs=2, verbose=0)
        histories.append(history.history)
        models.append(model)
    eager, jit = models
    fused = 4 if compiled_step.FUSES_STEPS else 1
    assert jit._whole_step.ready and jit._whole_step.fused == fused
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-5)
    for w_eager, w_jit in zip(eager.get_weights(), jit.get_weights()):
        np.testing.assert_allclose(w_eager, w_jit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clip", ["clipnorm", "global_clipnorm"])
def test_one_weight_with_norm_clipping_compiles_and_matches_eager(clip):
    # A one-tensor _foreach_norm crashed inductor's C++ wrapper (segfault).
    x, y = _data()
    weights = []
    for jit_compile in (False, True):
        lamina.utils.set_random_seed(0)
        model = lamina.Sequential(
            [lamina.Input((6,)), layers.Dense(3, use_bias=False, activation="softmax")]
        )
        model.compile(
            optimizer=optimizers.Adam(**{clip: 0.1}),
            loss="sparse_categorical_crossentropy",
            jit_compile=jit_compile,
        )
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights()[0])
    assert model._whole_step.ready
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-5, atol=1e-6)
