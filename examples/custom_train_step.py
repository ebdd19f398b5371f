"""A custom `train_step`: the forward pass, loss, backward and optimizer step
written by hand (PyTorch style), while `fit` keeps its callbacks, progress
bar and validation.
"""

import numpy as np
import torch

import lamina as keras
from lamina import layers


class CustomModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(32, activation="relu")
        self.out = layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        self.zero_grad()
        loss.backward()
        weights = self.trainable_weights
        with torch.no_grad():
            self.optimizer.apply([w.grad for w in weights], weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss.detach())
            else:
                metric.update_state(y, y_pred.detach())
        return {m.name: m.result() for m in self.metrics}


def main(quick=False):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128 if quick else 2000, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 1.0).astype("float32")[:, None]
    model = CustomModel()
    model.compile(keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=32, epochs=2 if quick else 20,
                        validation_split=0.2, verbose=0)  # fmt: skip
    first, last = history.history["loss"][0], history.history["loss"][-1]
    print(f"custom train_step: loss {first:.3f} -> {last:.3f}")
    return {"first_loss": first, "last_loss": last, "logs": sorted(history.history)}


if __name__ == "__main__":
    main()
