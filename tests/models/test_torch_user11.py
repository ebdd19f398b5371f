"""lamina models as torch.nn.Modules: state_dict round trips, trainable and
requires_grad, a torch training loop then Keras's evaluate/save, a lamina
model inside a torch module, hooks."""

import io

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

X = np.random.RandomState(0).rand(16, 4).astype("float32")
Y = np.random.RandomState(1).rand(16, 2).astype("float32")


def _sequential():
    return lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(8, activation="relu"),
         layers.BatchNormalization(), layers.Dropout(0.5), layers.Dense(2)]
    )  # fmt: skip


def _functional():
    inputs = lamina.Input((4,))
    x = layers.BatchNormalization()(layers.Dense(8)(inputs))
    return lamina.Model(inputs, layers.Dense(2)(layers.Dropout(0.5)(x)))


class _Sub(lamina.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [layers.Dense(8), layers.Dense(8)]
        self.norm = layers.BatchNormalization()
        self.head = lamina.Sequential([layers.Dense(2)])

    def call(self, x, training=None):
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x, training=training))


def _subclassed():
    model = _Sub()
    model(X)
    return model


MAKERS = [_sequential, _functional, _subclassed]


@pytest.mark.parametrize("make", MAKERS)
def test_state_dict_holds_every_weight_and_round_trips_through_torch_save(make):
    model = make()
    state = model.state_dict()
    assert len(state) == len(model.weights)
    assert sum("moving_mean" in key for key in state) == 1
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    other = make()
    other.load_state_dict(torch.load(buffer, weights_only=True))
    np.testing.assert_allclose(other.predict(X, verbose=0), model.predict(X, verbose=0))


@pytest.mark.parametrize("make", MAKERS)
def test_load_state_dict_reports_missing_and_unexpected_keys(make):
    model = make()
    state = model.state_dict()
    first = next(iter(state))
    del state[first]
    state["bogus"] = torch.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == [first]
    assert result.unexpected_keys == ["bogus"]
    with pytest.raises(RuntimeError, match="Missing key.*\n.*Unexpected key"):
        model.load_state_dict(state)


@pytest.mark.parametrize("make", MAKERS)
def test_requires_grad_follows_trainable(make):
    model = make()

    def agree():
        trainable = {id(w) for w in model.trainable_weights}
        return all(p.requires_grad == (id(p) in trainable) for p in model.parameters())

    assert agree()
    first = next(layer for layer in model._flatten_layers() if layer.weights
                 and layer is not model)  # fmt: skip
    first.trainable = False
    assert not any(p.requires_grad for p in first.parameters())
    assert agree()
    model.trainable = False
    assert not any(p.requires_grad for p in model.parameters())
    model.trainable = True
    first.trainable = True
    assert agree()
    # torch's own switch freezes for fit too (Keras on torch ignores it).
    first.requires_grad_(False)
    assert not {id(w) for w in first.weights} & {id(w) for w in model.trainable_weights}


def test_torch_loop_training_shows_in_evaluate_and_saved_files(tmp_path):
    torch.manual_seed(0)
    model = _sequential()
    model.compile("adam", "mse")
    before = model.evaluate(X, Y, verbose=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    device = lamina.backend.get_device()  # where the model's weights are
    x, y = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x, training=True), y).backward()
        optimizer.step()
    assert model.evaluate(X, Y, verbose=0) < before
    model.save(tmp_path / "m.keras")
    loaded = lamina.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-5, atol=1e-6
    )
    model.fit(X, Y, epochs=1, verbose=0)  # Keras training goes on from there


def test_lamina_model_inside_a_torch_module_trains_with_torch():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pre = torch.nn.Linear(4, 6)
            self.body = lamina.Sequential(
                [
                    layers.Dense(8, activation="relu"),
                    layers.BatchNormalization(),
                    layers.Dense(2),
                ]
            )

        def forward(self, x):
            return self.body(torch.relu(self.pre(x)))

    torch.manual_seed(0)
    device = lamina.backend.get_device()  # where the lamina layers put weights
    net = Net().to(device)
    x, y = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
    net(x)  # lamina layers build on their first call, as lazy torch modules do
    names = [name for name, _ in net.named_parameters()]
    assert names[:3] == ["pre.weight", "pre.bias", "body.layers.0.kernel"]
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.01)
    net.train()
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2
    norm = net.body.layers[1]
    assert float(norm.moving_mean.detach().abs().sum()) > 0  # train() reached BN
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x))


def test_forward_hooks_see_and_replace_layer_outputs():
    model = _sequential()
    seen = []
    handle = model.layers[-1].register_forward_hook(
        lambda module, args, out: seen.append(tuple(out.shape))
    )
    zero = model.register_forward_hook(lambda module, args, out: out * 0)
    out = model(torch.from_numpy(X))
    assert seen == [(16, 2)]
    assert torch.count_nonzero(out) == 0
    handle.remove()
    zero.remove()
    model(torch.from_numpy(X))
    assert seen == [(16, 2)]
