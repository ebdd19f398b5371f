"""torch conversions that replace parameters (`.to("meta")`, `.to_empty()`)
keep lamina's weights: same objects in `weights` and `parameters()`, with
their paths, so `fit` still trains them."""

import numpy as np

import lamina
from lamina import layers
from lamina.backend.variables import Variable


def test_meta_then_to_empty_then_load_state_dict_trains():
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.ones((8, 2), "float32")
    model = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(3, kernel_regularizer="l2"), layers.Dense(2)]
    )
    state = {k: v.clone() for k, v in model.state_dict().items()}
    paths = [w.path for w in model.weights]
    model.to("meta")
    assert all(w.is_meta for w in model.weights)
    model.to_empty(device=lamina.backend.get_device())  # where fit puts the data
    model.load_state_dict(state)
    assert [w.path for w in model.weights] == paths
    assert all(isinstance(w, Variable) for w in model.weights)
    assert [id(w) for w in model.weights] == [id(p) for p in model.parameters()]
    np.testing.assert_array_equal(
        model.weights[0].numpy(), state["layers.0.kernel"].cpu()
    )
    assert len(model.losses) == 1  # the regularizer follows its weight
    model.compile("sgd", "mse")
    model.fit(x, y, verbose=0)
    assert not np.array_equal(model.weights[0].numpy(), state["layers.0.kernel"].cpu())


def test_fit_refuses_torch_parameters_it_would_not_train():
    import pytest
    import torch

    class WithModuleList(lamina.Model):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4)])
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(self.blocks[0](x))

    x = np.ones((8, 4), "float32")
    y = np.ones((8, 2), "float32")
    model = WithModuleList()
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match=r"blocks\.0\.weight.*TorchModuleWrapper"):
        model.fit(x, y, verbose=0)

    class Wrapped(WithModuleList):
        def __init__(self):
            super().__init__()
            self.blocks = [layers.TorchModuleWrapper(torch.nn.Linear(4, 4))]

    model = Wrapped()
    model.compile("adam", "mse")
    before = model.blocks[0].module.weight.detach().clone()
    model.fit(x, y, verbose=0)
    assert not torch.equal(model.blocks[0].module.weight, before)
