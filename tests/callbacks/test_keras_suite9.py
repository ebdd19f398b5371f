"""Callbacks as Keras 3's own unit tests expect (session 9)."""

import numpy as np

import lamina
from lamina import callbacks


class _StandInModel:
    """A duck-typed model whose weights are one number (the epoch)."""

    def __init__(self):
        self.stop_training = False
        self.weights = -1

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights


def test_early_stopping_restores_a_stand_in_models_weights_as_given():
    stopper = callbacks.EarlyStopping(
        monitor="val_loss", patience=2, restore_best_weights=True
    )
    model = _StandInModel()
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, loss in enumerate([0.2, 0.15, 0.1, 0.11, 0.12]):
        model.weights = epoch
        stopper.on_epoch_end(epoch, logs={"val_loss": loss})
        if model.stop_training:
            break
    stopper.on_train_end()
    assert model.get_weights() == 2


def test_early_stopping_best_weights_are_copies_for_a_real_model():
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    stopper = callbacks.EarlyStopping(monitor="val_loss", restore_best_weights=True)
    stopper.set_model(model)
    stopper.on_train_begin()
    stopper.on_epoch_end(0, logs={"val_loss": 0.1})
    best = [w.copy() for w in model.get_weights()]
    model.set_weights([w + 1.0 for w in model.get_weights()])
    stopper.on_epoch_end(1, logs={"val_loss": 0.5})
    stopper.on_train_end()
    for kept, now in zip(best, model.get_weights()):
        np.testing.assert_array_equal(kept, now)
