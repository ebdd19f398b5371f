"""fit() builds a model whose custom train_step never calls it, as Keras
does, so its weights can be saved (found running the keras-io CycleGAN
example: ModelCheckpoint(save_weights_only=True) after a GAN train_step)."""

import numpy as np
import torch

import lamina as keras


class _TwoNets(keras.Model):
    """A GAN-like model: train_step uses its sub-models, never self(...)."""

    def __init__(self):
        super().__init__()
        self.gen = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
        self.head = keras.layers.Dense(1)

    def call(self, x):
        return self.head(self.gen(x))

    def train_step(self, data):
        x, _ = data
        loss = keras.ops.mean(self.gen(x) ** 2)
        weights = self.gen.trainable_weights
        grads = torch.autograd.grad(loss, [w.value for w in weights])
        with torch.no_grad():
            self.gen_optimizer.apply_gradients(zip(grads, weights))
        return {"gen_loss": loss}


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), np.zeros((8, 1), "float32")


def test_fit_builds_a_model_its_custom_step_never_calls(tmp_path):
    model = _TwoNets()
    model.compile()
    model.gen_optimizer = keras.optimizers.SGD(0.1)
    x, y = _data()
    assert not model.built
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert model.built and model.head.built
    path = str(tmp_path / "two_nets.weights.h5")
    model.save_weights(path)
    other = _TwoNets()
    other(x[:1])
    other.load_weights(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(other(x)),
        keras.ops.convert_to_numpy(model(x)),
        rtol=1e-6,
    )


def test_checkpoint_callback_saves_weights_during_such_a_fit(tmp_path):
    model = _TwoNets()
    model.compile()
    model.gen_optimizer = keras.optimizers.SGD(0.1)
    x, y = _data()
    pattern = str(tmp_path / "ckpt.{epoch:02d}.weights.h5")
    checkpoint = keras.callbacks.ModelCheckpoint(pattern, save_weights_only=True)
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt.01.weights.h5",
        "ckpt.02.weights.h5",
    ]
    assert len(history.history["gen_loss"]) == 2


def test_compile_without_optimizer_and_custom_step():
    model = _TwoNets()
    model.compile(optimizer=None)
    model.gen_optimizer = keras.optimizers.SGD(0.1)
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.optimizer is None


def test_model_without_call_still_trains_with_its_custom_step():
    class NoCall(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

        def train_step(self, data):
            x, _ = data
            return {"out": keras.ops.mean(self.inner(x))}

    model = NoCall()
    model.compile()
    x, y = _data()
    history = model.fit(x, y, epochs=1, verbose=0)
    assert list(history.history) == ["out"]
