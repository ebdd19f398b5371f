"""Found running Keras's knowledge-distillation example on lamina: a
`compute_loss` override without the `training` argument (Keras 3.3 added it)."""

import numpy as np

import lamina
from lamina import layers


class _NoTrainingArg(lamina.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.dense(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        self.seen.append(x.shape[0])
        return lamina.ops.mean(lamina.ops.square(y - y_pred)) * 0 + 2.5


class _WithTrainingArg(_NoTrainingArg):
    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        self.seen.append(training)
        return super().compute_loss(x, y, y_pred, sample_weight)


def test_compute_loss_without_training_argument_trains_and_evaluates():
    model = _NoTrainingArg()
    model.compile("sgd")
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [2.5])
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), 2.5)
    assert model.seen == [2, 2, 4]  # two fit batches, one evaluate batch


def test_compute_loss_with_training_argument_gets_it():
    model = _WithTrainingArg()
    model.compile("sgd")
    x, y = np.ones((2, 3), "float32"), np.ones((2, 1), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert [s for s in model.seen if isinstance(s, bool)] == [True, False]
