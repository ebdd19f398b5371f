"""Fit, callbacks and optimizers behaving as Keras 3's own unit tests expect."""

import os

import numpy as np
import pytest

import lamina
from lamina import callbacks, layers, optimizers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((8, 3), dtype=np.float32)
    return x, x @ np.array([[1.0], [-2.0], [0.5]], "float32")


def _fit_with_ema(lib):
    x, y = _data()
    model = lib.Sequential(
        [lib.Input((3,)), lib.layers.Dense(1, kernel_initializer="ones")]
    )
    model.compile(lib.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9), "mse")
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    return model


def test_fit_ends_with_the_ema_averages_in_the_model():
    model = _fit_with_ema(lamina)
    averages = [
        a.detach().cpu().numpy()
        for a in model.optimizer._model_variables_moving_average
    ]
    for weight, average in zip(model.get_weights(), averages):
        np.testing.assert_array_equal(weight, average)


def test_fit_with_ema_ends_with_the_weights_keras_ends_with():
    keras = pytest.importorskip("keras")
    ours = _fit_with_ema(lamina).get_weights()
    theirs = _fit_with_ema(keras).get_weights()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_fit_without_ema_keeps_the_last_step_weights():
    x, y = _data()
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(1)])
    model.compile(optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=0, verbose=0)  # no epoch: nothing moves
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lambda_callback_keeps_other_keyword_arguments_as_attributes():
    def helper(logs):
        return logs

    callback = callbacks.LambdaCallback(custom_method=helper)
    assert callback.custom_method is helper


def test_lambda_callback_still_rejects_a_misspelt_hook():
    with pytest.raises(ValueError, match="unknown hook 'on_epoch_ending'"):
        callbacks.LambdaCallback(on_epoch_ending=print)


@pytest.mark.parametrize("backup_dir", [None, ""])
def test_backup_and_restore_names_the_empty_backup_dir(backup_dir):
    with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
        callbacks.BackupAndRestore(backup_dir)


def test_setting_a_float_rate_on_a_scheduled_optimizer_says_why_not():
    schedule = optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    optimizer = optimizers.Adam(schedule)
    with pytest.raises(TypeError, match="created with a `LearningRateSchedule`"):
        optimizer.learning_rate = 0.05


@pytest.mark.parametrize(
    "units, y, expected",
    [
        (1, np.ones((6, 1), "float32"), "binary_crossentropy"),
        (3, np.array([0, 1, 2, 1, 0, 2]), "sparse_categorical_crossentropy"),
        (
            3,
            np.array([[0], [1], [2], [1], [0], [2]]),
            "sparse_categorical_crossentropy",
        ),
        (3, np.eye(3, dtype="float32")[[0, 1, 2, 1, 0, 2]], "categorical_crossentropy"),
    ],
)
@pytest.mark.parametrize("name", ["crossentropy", "ce"])
def test_compile_loss_crossentropy_picks_the_kind_from_the_shapes(
    units, y, expected, name
):
    activation = "sigmoid" if units == 1 else "softmax"
    model = lamina.Sequential(
        [lamina.Input((2,)), layers.Dense(units, activation=activation)]
    )
    model.compile("sgd", loss=name)
    history = model.fit(np.ones((6, 2), "float32"), y, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model._compile_loss.losses[0].fn.__name__ == expected


def test_compile_loss_crossentropy_matches_keras():
    keras = pytest.importorskip("keras")
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(6, 2)
    y = np.array([0, 1, 2, 1, 0, 2])

    def loss_of(lib):
        model = lib.Sequential(
            [lib.Input((2,)), lib.layers.Dense(3, "softmax", kernel_initializer="ones")]
        )
        model.compile("sgd", loss="crossentropy")
        return model.evaluate(x, y, verbose=0)

    np.testing.assert_allclose(loss_of(lamina), loss_of(keras), rtol=1e-6)


def _two_sgd_model(opt_1, opt_2):
    optimizer = optimizers.MultiOptimizer(
        optimizers.OptimizerMap(
            default_optimizer=opt_2, optimizer_map={".*dense_1/.*": opt_1}
        )
    )
    model = lamina.Sequential(
        [
            lamina.Input((1,)),
            layers.Dense(2, kernel_initializer="ones", use_bias=False, name="dense_1"),
            layers.Dense(1, kernel_initializer="ones", use_bias=False, name="dense_2"),
        ]
    )
    model.compile(optimizer, "mse")
    return model


def test_learning_rate_scheduler_sets_each_inner_rate_of_a_multi_optimizer():
    opt_1, opt_2 = (
        optimizers.SGD(0.1, name="first"),
        optimizers.SGD(0.01, name="second"),
    )
    model = _two_sgd_model(opt_1, opt_2)
    scheduler = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    x = np.ones((4, 1), "float32")
    history = model.fit(x, x, epochs=2, verbose=0, callbacks=[scheduler])
    np.testing.assert_allclose(opt_1.learning_rate, 0.025, rtol=1e-6)
    np.testing.assert_allclose(opt_2.learning_rate, 0.0025, rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate_first"], [0.05, 0.025])
    np.testing.assert_allclose(
        history.history["learning_rate_second"], [0.005, 0.0025], rtol=1e-6
    )


def test_reduce_lr_on_plateau_reduces_each_inner_rate_of_a_multi_optimizer():
    opt_1, opt_2 = optimizers.SGD(0.1), optimizers.SGD(0.01)
    model = _two_sgd_model(opt_1, opt_2)
    reduce = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
    reduce.set_model(model)
    reduce.on_train_begin()
    reduce.on_epoch_end(0, {"val_loss": 1.0})
    reduce.on_epoch_end(1, {"val_loss": 1.0})  # a plateau: both rates halve
    np.testing.assert_allclose(opt_1.learning_rate, 0.05, rtol=1e-6)
    np.testing.assert_allclose(opt_2.learning_rate, 0.005, rtol=1e-6)


def test_tensorboard_logs_each_inner_rate_of_a_multi_optimizer(tmp_path):
    model = _two_sgd_model(
        optimizers.SGD(0.1, name="a"), optimizers.SGD(0.01, name="b")
    )
    board = callbacks.TensorBoard(log_dir=str(tmp_path))
    board.set_model(model)
    logs = board._collect_learning_rate({})
    assert logs == pytest.approx({"learning_rate_a": 0.1, "learning_rate_b": 0.01})


def test_swap_ema_weights_swaps_only_the_ema_inner_optimizers_variables():
    import torch

    opt_1 = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9)
    model = _two_sgd_model(opt_1, optimizers.SGD(0.1))
    model.train_on_batch(np.ones((1, 1), "float32"), np.ones((1, 1), "float32"))
    model.layers[0].kernel.assign(np.full((1, 2), 2.0, "float32"))
    model.layers[1].kernel.assign(np.full((2, 1), 3.0, "float32"))
    with torch.no_grad():
        opt_1._model_variables_moving_average[0].fill_(9.0)
    swap = callbacks.SwapEMAWeights()
    swap.set_model(model)
    swap.on_test_begin()
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), [[9.0, 9.0]])
    np.testing.assert_array_equal(model.layers[1].kernel.numpy(), [[3.0], [3.0]])
    swap.on_test_end()
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), [[2.0, 2.0]])
    np.testing.assert_array_equal(
        opt_1._model_variables_moving_average[0].cpu().numpy(), [[9.0, 9.0]]
    )


def test_swap_ema_weights_needs_an_ema_inner_optimizer():
    model = _two_sgd_model(optimizers.SGD(0.1), optimizers.SGD(0.1))
    x = np.ones((2, 1), "float32")
    with pytest.raises(ValueError, match="at least one inner optimizer"):
        model.fit(
            x,
            x,
            verbose=0,
            validation_data=(x, x),
            callbacks=[callbacks.SwapEMAWeights()],
        )


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: optimizers.SGD(momentum=-1.0), r"must be a float between \[0, 1\]"),
        (lambda: optimizers.Lion(beta_1=-0.1), r"must be in the \[0, 1\] range"),
        (lambda: optimizers.AdamW(weight_decay=None), "must be a float"),
        (
            lambda: optimizers.Ftrl(learning_rate_power=0.1),
            r"^`learning_rate_power` needs to be negative or zero\. Received: "
            r"learning_rate_power=0\.1\.$",
        ),
        (
            lambda: optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0),
            "on the `inner_optimizer`",
        ),
        (
            lambda: optimizers.LossScaleOptimizer(optimizers.SGD(), foo=1, bar=2),
            "arguments: `foo`, `bar`",
        ),
    ],
)
def test_bad_optimizer_arguments_use_keras_key_phrases(make, phrase):
    with pytest.raises(ValueError, match=phrase):
        make()


class _StopAfter(callbacks.Callback):
    """Sets `model.stop_<gerund>` after `count` batches, through a batch hook
    given as an attribute (as Keras's own tests write it)."""

    def __init__(self, gerund, mode, count=3):
        super().__init__()
        self.seen = 0
        self.gerund = gerund
        self.count = count
        setattr(self, f"on_{mode}_batch_end", self._batch_end)

    def _batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.count:
            setattr(self.model, f"stop_{self.gerund}", True)


@pytest.mark.parametrize(
    "method, gerund, mode",
    [
        ("fit", "training", "train"),
        ("evaluate", "evaluating", "test"),
        ("predict", "predicting", "predict"),
    ],
)
def test_a_callback_stops_fit_evaluate_and_predict_on_endless_data(
    method, gerund, mode
):
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(3)])
    model.compile("sgd", "mse")

    def endless():
        while True:
            x = np.ones((2, 2), "float32")
            yield (x,) if method == "predict" else (x, np.ones((2, 3), "float32"))

    stopper = _StopAfter(gerund, mode)
    result = getattr(model, method)(endless(), callbacks=[stopper], verbose=0)
    assert stopper.seen == 3
    if method == "predict":
        assert result.shape == (6, 3)


def test_the_stop_flags_reset_at_the_next_call():
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(3)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 2), "float32"), np.ones((8, 3), "float32")
    model.stop_evaluating = model.stop_predicting = True
    batches = []
    count = callbacks.LambdaCallback(
        on_test_batch_end=lambda batch, logs: batches.append(batch)
    )
    model.evaluate(x, y, batch_size=2, verbose=0, callbacks=[count])
    assert batches == [0, 1, 2, 3]
    assert len(model.predict(x, batch_size=2, verbose=0)) == 8
    assert not model.stop_evaluating and not model.stop_predicting


def test_callback_messages_go_to_the_log_when_interactive_logging_is_off(caplog):
    import logging

    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    scheduler = callbacks.LearningRateScheduler(lambda epoch: 0.5, verbose=1)
    lamina.utils.disable_interactive_logging()
    try:
        with caplog.at_level(logging.INFO, logger="lamina"):
            model.fit(
                np.ones((4, 2), "float32"),
                np.ones((4, 1), "float32"),
                verbose=0,
                callbacks=[scheduler],
            )
    finally:
        lamina.utils.enable_interactive_logging()
    assert "LearningRateScheduler setting learning rate to 0.5" in caplog.text
