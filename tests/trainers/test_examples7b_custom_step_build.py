"""Regression tests from the keras-io examples sweep 7B (custom train_step)."""

import numpy as np
import torch

import lamina as keras
from lamina import layers, ops


class _TwoPartModel(keras.Model):
    # generative/molecule_generation: fit() gets [a, b, target] as x, while
    # call() takes [a, b]; the head is built only by the step's forward pass.
    def __init__(self):
        super().__init__()
        self.encoder = layers.Dense(4)
        self.head = layers.Dense(1)

    def call(self, inputs):
        a, b = inputs
        return self.head(self.encoder(ops.concatenate([a, b], axis=-1)))

    def train_step(self, data):
        a, b, target = data[0]
        self.zero_grad()
        loss = ops.mean((ops.squeeze(self([a, b]), -1) - target) ** 2)
        loss.backward()
        weights = list(self.trainable_weights)
        with torch.no_grad():
            self.optimizer.apply([w.value.grad for w in weights], weights)
        return {"loss": loss}


def test_failed_shape_trace_leaves_the_optimizer_to_the_first_step():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 3)).astype("float32")
    b = rng.normal(size=(8, 2)).astype("float32")
    t = rng.normal(size=(8,)).astype("float32")
    model = _TwoPartModel()
    model.compile(keras.optimizers.SGD(0.1))
    history = model.fit([a, b, t], epochs=2, batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 2
    # Every weight, the head's included, is tracked and updated.
    assert len(model.optimizer._trainable_variables) == 4
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit([a, b, t], epochs=1, batch_size=4, verbose=0)
    after = [w.numpy() for w in model.trainable_weights]
    assert all(not np.allclose(x, y) for x, y in zip(before, after))
