"""Regressions found running keras-io examples (helper-52): preprocessing."""

import numpy as np
import torch

import lamina as keras
from lamina import layers


class _Wrapper(layers.Layer):
    """No compute_output_shape: its symbolic call runs `call` on fake tensors."""

    def __init__(self):
        super().__init__()
        self.rescale = layers.Rescaling(1 / 255.0, offset=-0.5)

    def call(self, x):
        return self.rescale(x)


def test_rescaling_first_built_symbolically_then_called_eagerly():
    # patch_convnet.py: a Rescaling first reached through a symbolic build
    # (fake tensors) kept fake constants; later eager outputs were fake too.
    wrapper = _Wrapper()
    symbolic = wrapper(keras.Input((4, 4, 3)))
    assert symbolic.shape == (None, 4, 4, 3)
    x = np.full((2, 4, 4, 3), 255.0, "float32")
    out = wrapper(x)
    assert type(out) is torch.Tensor
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), np.full(x.shape, 0.5))


def test_subclassed_model_evaluates_after_fit_with_inner_rescaling():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.pre = keras.Sequential([layers.Rescaling(1 / 255.0)])
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(self.pre(x))

    model = Net()
    model.compile(optimizer="sgd", loss="mse")
    x = np.full((8, 3), 255.0, "float32")
    y = np.zeros((8, 2), "float32")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    loss = model.evaluate(x, y, verbose=0)
    pred = model.predict(x, verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (8, 2)
    np.testing.assert_allclose(loss, np.mean(pred**2), rtol=1e-5)
