"""A Variable survives pickle and copies as a Variable (name, path, assign,
trainable, constraint), as Keras's do; torch.save/torch.load(weights_only=True)
of state dicts keeps working."""

import copy
import io
import pickle

import numpy as np
import pytest
import torch

import lamina
from lamina.backend.variables import Variable


def _roundtrip(value):
    return pickle.loads(pickle.dumps(value))


@pytest.mark.parametrize("copier", [_roundtrip, copy.deepcopy, copy.copy])
def test_variable_keeps_its_state(copier):
    v = Variable("ones", shape=(2,), name="scale", trainable=False, autocast=False)
    w = copier(v)
    assert type(w) is Variable
    assert (w.name, w.path, w.trainable, w.autocast) == ("scale", "scale", False, False)
    assert w.dtype == torch.float32
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])
    w.assign([3.0, 4.0])
    np.testing.assert_array_equal(w.numpy(), [3.0, 4.0])


def test_pickled_copy_is_independent_and_trainable():
    v = Variable(np.array([1.0, 2.0], "float32"), name="w")
    w = _roundtrip(v)
    assert w.trainable and w.requires_grad
    w.assign([5.0, 6.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    (w * 2).sum().backward()
    np.testing.assert_array_equal(lamina.ops.convert_to_numpy(w.grad), [2.0, 2.0])


def test_layer_weight_keeps_constraint_and_regularizer():
    layer = lamina.layers.Dense(2, kernel_constraint="non_neg", kernel_regularizer="l2")
    layer.build((None, 3))
    w = _roundtrip(layer.kernel)
    assert type(w) is Variable
    assert w.path == layer.kernel.path
    assert type(w.constraint).__name__ == "NonNeg"
    assert type(w.regularizer).__name__ == "L2"
    np.testing.assert_array_equal(w.numpy(), layer.kernel.numpy())


def test_optimizer_state_variable_assigns_after_pickle():
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    iterations = model.optimizer.iterations
    for copier in (_roundtrip, copy.deepcopy):
        w = copier(iterations)
        assert type(w) is Variable
        assert (w.name, int(w)) == ("iteration", 1)
        w.assign(7)
        assert int(w) == 7
    assert int(model.optimizer.iterations) == 1


def test_torch_save_state_dict_weights_only():
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    expected = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for keep_vars in (False, True):
        buffer = io.BytesIO()
        torch.save(model.state_dict(keep_vars=keep_vars), buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=True)
        assert sorted(loaded) == sorted(expected)
        for key, value in loaded.items():
            torch.testing.assert_close(value.detach(), expected[key])
            if keep_vars:
                assert type(value) is Variable
                assert value.path.endswith(key.rsplit(".", 1)[-1])
        model.load_state_dict(loaded)


def test_torch_save_weights_list_weights_only():
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    buffer = io.BytesIO()
    torch.save(model.weights, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert [type(v) for v in loaded] == [Variable, Variable]
    assert [v.path for v in loaded] == [v.path for v in model.weights]
