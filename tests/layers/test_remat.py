import copy

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

X = torch.from_numpy(np.random.RandomState(0).randn(6, 3).astype("float32"))


class _Block(layers.Layer):
    """Dense -> BatchNormalization -> seeded Dropout, counting its calls."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0
        self.dense = layers.Dense(4, activation="relu")
        self.norm = layers.BatchNormalization()
        self.drop = layers.Dropout(0.5, seed=3)

    def call(self, x, training=None):
        self.calls += 1
        return self.drop(self.norm(self.dense(x)), training=training)


def _pair(**scope):
    plain = _Block()
    plain(X)
    with lamina.RematScope(**scope):
        remat = _Block()
    remat(X)
    remat.set_weights(plain.get_weights())
    return plain, remat


def _train_call(block):
    block.calls = 0
    block.drop.seed_generator._counter = 0
    x = X.clone().requires_grad_()
    out = block(x, training=True)
    (out * torch.arange(4.0, device=out.device)).sum().backward()
    return out, x.grad


def test_remat_function_gives_same_values_and_gradients_and_reruns_once():
    runs = []

    def f(x):
        runs.append(1)
        return torch.sin(x) * x

    x1 = torch.linspace(-1, 1, 5, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    f(x1).sum().backward()
    assert len(runs) == 1
    runs.clear()
    out = lamina.remat(f)(x2)
    out.sum().backward()
    assert len(runs) == 2  # the forward, and the recomputation in backward
    torch.testing.assert_close(x2.grad, x1.grad)
    runs.clear()
    with torch.no_grad():
        lamina.remat(f)(x2)
    assert len(runs) == 1


def test_remat_rejects_non_callables():
    with pytest.raises(TypeError, match="remat expects a callable"):
        lamina.remat(3)


def test_full_mode_recomputes_with_same_outputs_gradients_and_state():
    plain, remat = _pair(mode="full")
    hook_runs = []
    remat.dense.register_forward_hook(lambda *_: hook_runs.append(1))
    out_plain, grad_plain = _train_call(plain)
    out_remat, grad_remat = _train_call(remat)
    assert plain.calls == 1 and remat.calls == 2
    assert len(hook_runs) == 2  # the inner Dense ran again during backward
    torch.testing.assert_close(out_remat, out_plain)
    torch.testing.assert_close(grad_remat, grad_plain)
    torch.testing.assert_close(remat.dense.kernel.grad, plain.dense.kernel.grad)
    # Moving statistics and the seed counter advanced once, not twice.
    torch.testing.assert_close(remat.norm.moving_mean, plain.norm.moving_mean)
    torch.testing.assert_close(remat.norm.moving_variance, plain.norm.moving_variance)
    assert remat.drop.seed_generator._counter == plain.drop.seed_generator._counter


def test_inference_does_not_recompute():
    _, remat = _pair(mode="full")
    remat.calls = 0
    with torch.no_grad():
        remat(X)
    assert remat.calls == 1


def test_list_of_layers_mode_recomputes_only_named_layers():
    with lamina.RematScope(mode="list_of_layers", layer_names=["chosen"]):
        chosen, other = _Block(name="chosen"), _Block(name="other")
    for block in (chosen, other):
        block(X)
        _train_call(block)
    assert chosen.calls == 2 and other.calls == 1


@pytest.mark.parametrize("threshold, expected_calls", [(23, 2), (24, 1)])
def test_larger_than_mode_compares_output_size_with_threshold(
    threshold, expected_calls
):
    # The output has 6 * 4 = 24 elements.
    with lamina.RematScope(mode="larger_than", output_size_threshold=threshold):
        block = _Block()
    block(X)
    _train_call(block)  # infers (and caches) the output size: extra calls
    _train_call(block)
    assert block.calls == expected_calls


def test_activations_mode_recomputes_the_activation_only():
    runs = []

    def relu(x):
        runs.append(1)
        return torch.relu(x)

    with lamina.RematScope(mode="activations"):
        dense = layers.Dense(3, activation=relu)
    reference = layers.Dense(3, activation=relu)
    dense(X), reference(X)
    reference.set_weights(dense.get_weights())
    runs.clear()
    x = X.clone().requires_grad_()
    dense(x).sum().backward()
    assert len(runs) == 2
    runs.clear()
    x_ref = X.clone().requires_grad_()
    reference(x_ref).sum().backward()
    assert len(runs) == 1
    torch.testing.assert_close(x.grad, x_ref.grad)
    assert dense.activation is relu


def test_scope_applies_at_creation_not_at_call():
    block = _Block()
    block(X)
    with lamina.RematScope(mode="full"):
        _train_call(block)
    assert block.calls == 1


def test_none_mode_disables_an_outer_scope():
    with lamina.RematScope(mode="full"):
        with lamina.RematScope(mode=None):
            block = _Block()
        outer = _Block()
    block(X), outer(X)
    _train_call(block), _train_call(outer)
    assert block.calls == 1 and outer.calls == 2
    assert block._remat_mode.mode is None and outer._remat_mode.mode == "full"


def test_deepcopy_recomputes_the_copy():
    _, remat = _pair(mode="full")
    remat.calls = 0
    clone = copy.deepcopy(remat)
    _train_call(clone)
    assert clone.calls == 2 and remat.calls == 0


def test_model_of_remat_layers_trains_like_the_plain_model():
    def build(scope):
        with lamina.RematScope(mode=scope):
            return lamina.Sequential(
                [
                    lamina.Input((3,)),
                    layers.Dense(8, activation="tanh"),
                    layers.Dense(1),
                ]
            )

    plain, remat = build(None), build("full")
    remat.set_weights(plain.get_weights())
    y = X.sum(dim=1, keepdim=True)
    for model in (plain, remat):
        model.compile(optimizer="sgd", loss="mse")
        model.fit(X, y, epochs=2, batch_size=3, verbose=0, shuffle=False)
    for a, b in zip(plain.get_weights(), remat.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_invalid_mode_is_rejected():
    with pytest.raises(ValueError, match="RematScope got mode='fast'"):
        lamina.RematScope(mode="fast")
