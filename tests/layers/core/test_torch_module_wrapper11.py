"""TorchModuleWrapper as a torch user meets it: weights that are lamina
Variables, train/eval mode from `training`, lamina layers inside the torch
module, lazy modules, output_shape, and files."""

import copy

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.backend.variables import Variable

X = np.random.RandomState(0).rand(8, 4).astype("float32")
Y = np.random.RandomState(1).rand(8, 2).astype("float32")


def _model(module, **kwargs):
    return lamina.Sequential(
        [lamina.Input((4,)), layers.TorchModuleWrapper(module, **kwargs),
         layers.Dense(2)]
    )  # fmt: skip


def test_wrapped_parameters_become_named_variables_in_place():
    linear = torch.nn.Linear(4, 3)
    weight = linear.weight
    model = _model(linear)
    wrapper = model.layers[0]
    assert linear.weight is weight  # same object: torch references stay valid
    assert all(isinstance(w, Variable) for w in model.weights)
    # Keras names the Variable it wraps each parameter in `variable`, `variable_N`.
    assert [w.name.split("_")[0] for w in wrapper.weights] == ["variable"] * 2
    assert [w.trainable for w in wrapper.weights] == [True, True]
    np.testing.assert_allclose(
        wrapper.weights[0].numpy(), linear.weight.detach().cpu().numpy()
    )
    wrapper.weights[0].assign(np.ones((3, 4), "float32"))
    assert float(linear.weight.detach().sum()) == 12.0
    # get/set_weights and summary treat them like any weight.
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    assert float(linear.bias.detach().abs().sum()) == 0.0
    assert model.count_params() == 3 * 4 + 3 + 3 * 2 + 2


def test_optimizer_slots_of_wrapped_weights_have_distinct_names():
    model = _model(torch.nn.Linear(4, 3))
    model.compile(optimizer=lamina.optimizers.Adam(), loss="mse")
    model.fit(X, Y, epochs=1, verbose=0)
    names = [v.path for v in model.optimizer.variables]
    assert len(names) == len(set(names))
    assert not any("None" in name for name in names)


def test_training_false_runs_the_module_in_eval_mode():
    wrapper = layers.TorchModuleWrapper(torch.nn.Dropout(0.5))
    ones = torch.ones(4, 16, device=lamina.backend.get_device())
    assert torch.equal(wrapper(ones, training=False), ones)
    assert not wrapper.module.training
    # Keras: no `training` means train mode for the torch module.
    torch.manual_seed(0)
    assert not torch.equal(wrapper(ones), ones)
    assert wrapper.module.training


def test_predict_does_not_leave_a_wrapped_dropout_switched_off():
    model = _model(torch.nn.Dropout(0.5))
    first = model.predict(X, verbose=0)
    np.testing.assert_allclose(model.predict(X, verbose=0), first)
    torch.manual_seed(0)
    a, b = model(X), model(X)  # called directly: train mode, as in Keras
    assert not torch.allclose(a, b)
    model.eval()  # torch's explicit choice wins
    torch.testing.assert_close(model(X), model(X))


def test_wrapped_batchnorm_uses_its_running_statistics_in_predict():
    norm = torch.nn.BatchNorm1d(4)
    model = _model(norm)
    model.compile("sgd", "mse")
    model.fit(X * 3 + 5, Y, epochs=1, batch_size=8, verbose=0)
    assert float(norm.running_mean.mean()) > 0.1
    one = model.predict(X[:1], verbose=0)
    np.testing.assert_allclose(one, model.predict(X, verbose=0)[:1], atol=1e-5)


def test_lamina_layers_inside_a_plain_torch_container_train_and_save(tmp_path):
    class Net(lamina.Model):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(layers.Dense(3), torch.nn.ReLU())
            self.out = layers.Dense(2)

        def call(self, x):
            return self.out(self.body(x))

    model = Net()
    model(X)
    inner = model.body.module[0]
    assert {id(w) for w in inner.weights} <= {id(w) for w in model.trainable_weights}
    model.compile("sgd", "mse")
    before = inner.kernel.detach().clone()
    model.fit(X, Y, epochs=1, verbose=0)
    assert not torch.equal(before, inner.kernel.detach())
    model.save_weights(tmp_path / "net.weights.h5")
    again = Net()
    again(X)
    again.load_weights(tmp_path / "net.weights.h5")
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0))


def test_trainable_false_freezes_the_module():
    model = _model(torch.nn.Linear(4, 3))
    wrapper = model.layers[0]
    wrapper.trainable = False
    assert [p.requires_grad for p in wrapper.module.parameters()] == [False, False]
    model.compile("sgd", "mse")
    before = wrapper.module.weight.detach().clone()
    model.fit(X, Y, epochs=1, verbose=0)
    assert torch.equal(before, wrapper.module.weight.detach())
    assert len(model.trainable_weights) == 2


def test_uninitialized_lazy_module_is_refused_as_keras_does():
    with pytest.raises(ValueError, match="LazyModules are not supported.*module"):
        layers.TorchModuleWrapper(torch.nn.LazyLinear(3))
    lazy = torch.nn.LazyLinear(3)
    lazy(torch.zeros(1, 4))
    model = _model(lazy)
    assert len(model.trainable_weights) == 4


@pytest.mark.parametrize("shape", [(None, 3), (5, 3)])
def test_output_shape_is_the_full_shape_as_in_keras(shape):
    inputs = lamina.Input((4,))
    out = layers.TorchModuleWrapper(torch.nn.Linear(4, 3), output_shape=shape)(inputs)
    assert tuple(out.shape) == shape


def test_keras_config_with_a_pickled_module_is_refused_clearly():
    with pytest.raises(ValueError, match="never unpickles"):
        layers.TorchModuleWrapper.from_config({"module": "gASV", "name": "t"})
    with pytest.raises(NotImplementedError, match="never pickles"):
        layers.TorchModuleWrapper(torch.nn.Linear(2, 2)).get_config()


def test_weights_file_holds_the_state_dict_and_round_trips(tmp_path):
    def build():
        return lamina.Sequential(
            [lamina.Input((4,)),
             layers.TorchModuleWrapper(torch.nn.Sequential(
                 torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))),
             layers.Dense(2)]
        )  # fmt: skip

    model = build()
    norm = model.layers[0].module[1]
    with torch.no_grad():
        norm.running_mean += 2.0
    model.save_weights(tmp_path / "m.weights.h5")
    other = build()
    other.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(other.predict(X, verbose=0), model.predict(X, verbose=0))
    torch.testing.assert_close(
        other.layers[0].module[1].running_mean, norm.running_mean
    )


def test_deepcopy_and_jit_compile_fit_with_a_wrapper():
    model = _model(torch.nn.Linear(4, 3))
    twin = copy.deepcopy(model)
    assert twin.layers[0].module.weight is not model.layers[0].module.weight
    assert isinstance(twin.layers[0].module.weight, Variable)
    np.testing.assert_allclose(twin.predict(X, verbose=0), model.predict(X, verbose=0))
    model.compile("sgd", "mse", jit_compile=True)
    history = model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_meta_then_to_empty_keeps_the_weights_the_module_parameters():
    wrapper = layers.TorchModuleWrapper(torch.nn.Linear(4, 3))
    model = lamina.Sequential([lamina.Input((4,)), wrapper])
    names = [w.name for w in wrapper.weights]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    wrapper.to("meta")
    assert {w.device.type for w in wrapper.weights} == {"meta"}
    wrapper.to_empty(device="cpu")
    wrapper.load_state_dict({k.split("layers.0.")[-1]: v for k, v in state.items()})
    params = list(wrapper.module.parameters())
    assert [id(w) for w in wrapper.weights] == [id(p) for p in params]
    assert [w.name for w in wrapper.weights] == names
    assert all(isinstance(p, Variable) for p in params)


def test_shape_inference_leaves_a_wrapped_batchnorm_untouched():
    norm = torch.nn.BatchNorm1d(4)
    inputs = lamina.Input((4,))
    lamina.Model(inputs, layers.TorchModuleWrapper(norm)(inputs))
    assert int(norm.num_batches_tracked) == 0
    assert float(norm.running_var.detach().sum()) == 4.0


def test_a_float64_module_computes_in_float64():
    wrapper = layers.TorchModuleWrapper(torch.nn.Linear(4, 3).double())
    assert wrapper.dtype == "float64"
    assert wrapper(X).dtype == torch.float64  # float32 inputs are cast for it
    model = lamina.Sequential([lamina.Input((4,)), wrapper, layers.Dense(2)])
    model.compile("sgd", "mse")
    assert np.isfinite(model.fit(X, Y, verbose=0).history["loss"][0])
    assert layers.TorchModuleWrapper(torch.nn.Linear(4, 3)).dtype == "float32"


def test_call_takes_training_and_keeps_it_from_forward():
    # Keras: TorchModuleWrapper.call(*args, training=None, **kwargs) sets the
    # module's mode from `training` and calls forward without it.
    dropout = layers.TorchModuleWrapper(torch.nn.Dropout(0.5))
    x = torch.ones(4, 8, device=lamina.backend.get_device())
    assert torch.equal(dropout.call(x, training=False), x)
    assert not dropout.module.training
    dropout.call(x, training=True)
    assert dropout.module.training
    assert torch.equal(dropout(x, training=False), x)
    assert not dropout.module.training
