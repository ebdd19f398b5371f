import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")

X = np.random.RandomState(0).randn(8, 3).astype("float32")


def _values(variables, offset=0.0):
    return [v.detach().clone() + offset for v in variables]


def test_batch_norm_returns_updated_moving_stats_and_keeps_its_own():
    bn = layers.BatchNormalization()
    bn(X)
    trainable = _values(bn.trainable_variables)
    state = _values(bn.non_trainable_variables)
    out, new_state = bn.stateless_call(trainable, state, X, training=True)
    mean, var = X.mean(axis=0), X.var(axis=0)
    np.testing.assert_allclose(new_state[0].cpu().numpy(), 0.01 * mean, atol=1e-6)
    np.testing.assert_allclose(new_state[1].cpu().numpy(), 0.99 + 0.01 * var, atol=1e-6)
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), (X - mean) / np.sqrt(var + 1e-3), atol=1e-5
    )
    # Neither the layer's variables nor the tensors passed in changed.
    np.testing.assert_array_equal(bn.moving_mean.detach().cpu().numpy(), np.zeros(3))
    np.testing.assert_array_equal(bn.moving_variance.detach().cpu().numpy(), np.ones(3))
    np.testing.assert_array_equal(state[0].cpu().numpy(), np.zeros(3))
    assert all(type(v) is torch.Tensor for v in new_state)


def test_batch_norm_matches_keras_stateless_call():
    keras = pytest.importorskip("keras")
    rng = np.random.RandomState(1)
    weights = [rng.rand(3).astype("float32") + 0.5 for _ in range(4)]
    ours = layers.BatchNormalization(momentum=0.9)
    ours.build((None, 3))
    theirs = keras.layers.BatchNormalization(momentum=0.9)
    theirs.build((None, 3))
    out, state = ours.stateless_call(
        [torch.tensor(w) for w in weights[:2]],
        [torch.tensor(w) for w in weights[2:]],
        X,
        training=True,
    )
    k_out, k_state = theirs.stateless_call(
        [keras.ops.convert_to_tensor(w) for w in weights[:2]],
        [keras.ops.convert_to_tensor(w) for w in weights[2:]],
        keras.ops.convert_to_tensor(X),
        training=True,
    )
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), keras.ops.convert_to_numpy(k_out), atol=1e-5
    )
    for a, b in zip(state, k_state):
        np.testing.assert_allclose(
            a.cpu().numpy(), keras.ops.convert_to_numpy(b), atol=1e-6
        )


def test_dense_computes_with_given_weights_and_gradients_reach_them():
    dense = layers.Dense(2)
    dense(X)
    kernel = torch.ones(3, 2, requires_grad=True)
    bias = torch.full((2,), 0.5, requires_grad=True)
    out, state = dense.stateless_call([kernel, bias], [], X)
    assert state == []
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), X @ np.ones((3, 2)) + 0.5, atol=1e-5
    )
    out.sum().backward()
    np.testing.assert_allclose(
        kernel.grad.cpu().numpy(), np.repeat(X.sum(0)[:, None], 2, 1)
    )
    assert dense.kernel.grad is None
    # The layer computes with its own weights again afterwards.
    np.testing.assert_allclose(
        dense(X).detach().cpu().numpy(),
        X @ dense.kernel.detach().cpu().numpy() + dense.bias.detach().cpu().numpy(),
        atol=1e-5,
    )


def test_model_matches_keras_and_leaves_model_untouched():
    keras = pytest.importorskip("keras")

    def build(lib):
        return lib.Sequential(
            [lib.Input((3,)), lib.layers.Dense(4), lib.layers.BatchNormalization()]
        )

    ours, theirs = build(lamina), build(keras)
    theirs.set_weights(ours.get_weights())
    before = ours.get_weights()
    trainable = _values(ours.trainable_variables, 0.1)
    state = _values(ours.non_trainable_variables)
    out, new_state = ours.stateless_call(trainable, state, X, training=True)
    k_out, k_state = theirs.stateless_call(
        [keras.ops.convert_to_tensor(t.cpu().numpy()) for t in trainable],
        [keras.ops.convert_to_tensor(s.cpu().numpy()) for s in state],
        keras.ops.convert_to_tensor(X),
        training=True,
    )
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), keras.ops.convert_to_numpy(k_out), atol=1e-5
    )
    for a, b in zip(new_state, k_state):
        np.testing.assert_allclose(
            a.cpu().numpy(), keras.ops.convert_to_numpy(b), atol=1e-6
        )
    for a, b in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Counter(layers.Layer):
    """Adds its input's sum to a non-trainable total with `assign_add`, and
    a loss with `add_loss`."""

    def build(self, input_shape):
        self.total = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="total"
        )
        self.scale = self.add_weight(
            shape=(), initializer="ones", regularizer="l2", name="scale"
        )

    def call(self, x):
        self.total.assign_add(x.sum().detach())
        self.add_loss(x.mean())
        return x * self.scale


def test_assignments_come_back_and_losses_use_the_given_values():
    layer = _Counter()
    layer(X)  # builds; total = X.sum()
    start = float(layer.total)
    losses_before = [float(v.detach()) for v in layer.losses]
    out, state, losses = layer.stateless_call(
        [torch.tensor(2.0)], [torch.tensor(10.0)], X, return_losses=True
    )
    np.testing.assert_allclose(out.detach().cpu().numpy(), 2 * X, atol=1e-6)
    np.testing.assert_allclose(float(state[0]), 10.0 + X.sum(), rtol=1e-5)
    assert float(layer.total) == start
    # add_loss's mean, then the l2 penalty 0.01 * scale**2 on the given scale.
    np.testing.assert_allclose(
        [float(v.detach()) for v in losses], [X.mean(), 0.01 * 4.0], rtol=1e-5
    )
    assert [float(v.detach()) for v in layer.losses] == losses_before


def test_without_return_losses_gives_two_values():
    layer = _Counter()
    layer(X)
    result = layer.stateless_call([torch.tensor(1.0)], [torch.tensor(0.0)], X)
    assert len(result) == 2


def test_unbuilt_layer_is_rejected():
    with pytest.raises(ValueError, match="must be built before stateless_call"):
        layers.Dense(2).stateless_call([], [], X)


def test_wrong_number_of_values_is_rejected():
    dense = layers.Dense(2)
    dense(X)
    with pytest.raises(ValueError, match="trainable_variables.*2 tensors.*got 1"):
        dense.stateless_call([torch.ones(3, 2)], [], X)
    with pytest.raises(ValueError, match="non_trainable_variables.*0 tensors.*got 1"):
        dense.stateless_call([torch.ones(3, 2), torch.ones(2)], [torch.ones(1)], X)


def test_wrong_shape_is_rejected():
    dense = layers.Dense(2)
    dense(X)
    with pytest.raises(ValueError, match="shape"):
        dense.stateless_call([torch.ones(2, 2), torch.ones(2)], [], X)


def test_works_under_torch_func_grad():
    model = lamina.Sequential(
        [lamina.Input((3,)), layers.Dense(4), layers.BatchNormalization()]
    )
    x = torch.from_numpy(X)
    trainable = _values(model.trainable_variables)
    state = _values(model.non_trainable_variables)

    def loss(values):
        out, new_state = model.stateless_call(values, state, x, training=True)
        return out.square().mean(), new_state

    grads, new_state = torch.func.grad(loss, has_aux=True)(trainable)
    leaves = [t.clone().requires_grad_() for t in trainable]
    loss(leaves)[0].backward()
    for grad, leaf in zip(grads, leaves):
        torch.testing.assert_close(grad, leaf.grad)
    np.testing.assert_allclose(
        new_state[0].cpu().numpy(),
        0.01 * (X @ model.layers[0].kernel.detach().cpu().numpy()).mean(axis=0),
        atol=1e-6,
    )
