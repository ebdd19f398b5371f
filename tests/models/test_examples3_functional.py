"""Found running Keras's subclassing guide on lamina: add_loss on a functional
model raises as in Keras (lamina kept the symbolic loss and dropped it)."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers, ops

os.environ.setdefault("KERAS_BACKEND", "torch")


def _functional_with_kl(lib):
    # Explicit names only: Keras's global name counters are shared with the
    # parity tests that compare generated names.
    inputs = lib.Input((4,), name="x3_in")
    z_mean = lib.layers.Dense(2, name="x3_mean")(inputs)
    model = lib.Model(inputs, z_mean, name="x3_vae")
    return model, lib.ops.ones(())


def test_functional_add_loss_raises_as_in_keras():
    model, loss = _functional_with_kl(lamina)
    with pytest.raises(NotImplementedError, match="compute_loss"):
        model.add_loss(loss)
    inputs = lamina.Input((4,), name="x3_sym_in")
    z_mean = layers.Dense(2, name="x3_sym_mean")(inputs)
    with pytest.raises(NotImplementedError):
        lamina.Model(inputs, z_mean).add_loss(ops.mean(ops.square(z_mean)))
    assert model.losses == []
    keras = pytest.importorskip("keras")
    k_model, k_loss = _functional_with_kl(keras)
    with pytest.raises(NotImplementedError):
        k_model.add_loss(k_loss)


def test_layer_losses_inside_a_functional_model_still_count():
    class KL(layers.Layer):
        def call(self, x):
            self.add_loss(ops.mean(ops.square(x)))
            return x

    inputs = lamina.Input((3,), name="x3_kl_in")
    hidden = layers.Dense(2, name="x3_kl_dense")(inputs)
    model = lamina.Model(inputs, KL(name="x3_kl")(hidden))
    model(np.ones((2, 3), "float32"))
    assert len(model.losses) == 1
    seq = lamina.Sequential([layers.Dense(2)])
    seq.add_loss(ops.ones(()))  # not functional: allowed, as in Keras
    assert len(seq.losses) == 1
