import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.callbacks.early_stopping import EarlyStopping


def tiny_model(metrics=None):
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    model.compile(lamina.optimizers.SGD(0.01), "mse", metrics=metrics)
    return model


class Scripted(lamina.callbacks.Callback):
    """Puts scripted values into the epoch logs (before later callbacks read them)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class WeightsPerEpoch(lamina.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(w) for w in self.model.get_weights()])


def run(values, key="val_loss", model=None, **kwargs):
    model = model or tiny_model()
    stop = EarlyStopping(monitor=key, **kwargs)
    record = WeightsPerEpoch()
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    history = model.fit(
        x,
        y,
        epochs=len(values),
        batch_size=2,
        verbose=0,
        callbacks=[Scripted(key, values), record, stop],
    )
    return history, stop, record, model


def test_stops_after_patience_epochs_without_improvement():
    history, stop, _, _ = run([1.0, 0.9, 0.95, 0.96, 0.5, 0.4], patience=2)
    # epoch 1 is best; epochs 2 and 3 do not improve -> stop at epoch 3
    assert len(history.history["loss"]) == 4
    assert stop.stopped_epoch == 3
    assert stop.best == 0.9 and stop.best_epoch == 1


def test_patience_zero_stops_at_first_epoch_that_does_not_improve():
    history, stop, _, _ = run([1.0, 0.8, 0.8, 0.1], patience=0)
    assert len(history.history["loss"]) == 3
    assert stop.stopped_epoch == 2


def test_first_epoch_never_stops_training():
    history, stop, _, _ = run([1.0, 0.9], patience=0, baseline=0.1)
    # epoch 0 is always an improvement over "no best yet"; epoch 1 improves
    # too, so nothing stops even though the baseline is never beaten.
    assert len(history.history["loss"]) == 2
    assert stop.stopped_epoch == 0


def test_min_delta_smaller_changes_do_not_count():
    history, stop, _, _ = run([1.0, 0.95, 0.91, 0.5], patience=1, min_delta=0.1)
    assert stop.stopped_epoch == 1
    assert stop.best == 1.0


def test_baseline_not_beaten_keeps_wait_running():
    # Without a baseline: stop at epoch 2. With baseline 0.5 the improving
    # epoch 0 does not reset the wait, so epoch 1 already stops.
    _, plain, _, _ = run([0.9, 0.95, 0.97, 0.99], patience=2)
    assert plain.stopped_epoch == 2
    _, base, _, _ = run([0.9, 0.95, 0.97, 0.99], patience=2, baseline=0.5)
    assert base.stopped_epoch == 1


def test_baseline_beaten_resets_the_wait():
    _, stop, _, _ = run([0.4, 0.45, 0.46, 0.47, 0.48], patience=3, baseline=0.5)
    assert stop.stopped_epoch == 3


def test_start_from_epoch_ignores_warm_up_epochs():
    values = [0.1, 5.0, 5.0, 4.0, 4.5, 4.6]
    _, stop, _, _ = run(values, patience=1, start_from_epoch=2)
    # watching starts at epoch 2 (5.0); 3 improves; 4 does not -> stop at 4
    assert stop.stopped_epoch == 4
    assert stop.best == 4.0 and stop.best_epoch == 3


def test_max_mode_for_accuracy_found_from_the_metric_object():
    model = tiny_model(metrics=["accuracy"])
    _, stop, _, _ = run([0.5, 0.6, 0.55, 0.58], key="val_accuracy", model=model)
    assert stop.monitor_op(2, 1)  # higher is better
    assert stop.stopped_epoch == 2


@pytest.mark.parametrize(
    "name, higher",
    [("val_acc", True), ("my_auc", True), ("val_loss", False), ("val_my_loss", False)],
)
def test_auto_mode_falls_back_to_the_metric_name(name, higher):
    _, stop, _, _ = run([1.0, 1.0], key=name, patience=5)
    assert stop.monitor_op(2, 1) is higher


def test_auto_mode_with_an_unknown_direction_raises():
    with pytest.raises(ValueError, match="mode='max'"):
        run([1.0, 1.0], key="val_weirdness")


def test_unknown_mode_warns_and_uses_auto():
    with pytest.warns(UserWarning, match="mode 'maximal' is unknown"):
        stop = EarlyStopping(mode="maximal")
    assert stop.mode == "auto"


def test_missing_monitor_warns_with_available_keys_and_keeps_training():
    model = tiny_model()
    stop = EarlyStopping(monitor="val_los", patience=0)
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    with pytest.warns(UserWarning, match="`val_los` which is not available.*loss"):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 3


def test_restore_best_weights_after_early_stop():
    _, stop, record, model = run(
        [1.0, 0.5, 0.7, 0.8, 0.9], patience=2, restore_best_weights=True
    )
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1
    for got, best in zip(model.get_weights(), record.weights[1]):
        np.testing.assert_array_equal(got, best)


def test_restore_best_weights_also_when_training_runs_to_the_end():
    _, stop, record, model = run([1.0, 0.5, 0.7], patience=5, restore_best_weights=True)
    assert stop.stopped_epoch == 0
    for got, best in zip(model.get_weights(), record.weights[1]):
        np.testing.assert_array_equal(got, best)
    assert not np.array_equal(record.weights[1][0], record.weights[2][0])


def test_without_restore_the_last_weights_stay():
    _, _, record, model = run([1.0, 0.5, 0.7, 0.8], patience=1)
    for got, last in zip(model.get_weights(), record.weights[-1]):
        np.testing.assert_array_equal(got, last)


def test_verbose_messages(capsys):
    run([1.0, 0.5, 0.7, 0.8], patience=1, verbose=1, restore_best_weights=True)
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_instance_is_reset_between_fit_calls():
    model = tiny_model()
    stop = EarlyStopping(monitor="val_loss", patience=0)
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    for _ in range(2):
        history = model.fit(
            x,
            y,
            epochs=4,
            verbose=0,
            callbacks=[Scripted("val_loss", [3.0, 2.0, 2.5, 1.0]), stop],
        )
        assert len(history.history["loss"]) == 3
        assert stop.best == 2.0
