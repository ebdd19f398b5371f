"""lamina models used with PyTorch idioms: deepcopy, functional_call, export,
get_submodule, and `.double()` / `.half()` / `.to(dtype)`."""

import copy
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


@lamina.saving.register_keras_serializable("interop7")
class _Scale(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w


def _functional():
    tokens = lamina.Input((6,), dtype="int32")
    x = layers.Embedding(20, 8, mask_zero=True)(tokens)
    x = layers.MultiHeadAttention(2, 4)(x, x)
    x = layers.LSTM(5)(x)
    x = layers.Dropout(0.3)(_Scale()(x))
    return lamina.Model(tokens, layers.Dense(2)(x))


def _sequential():
    return lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(6, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.5),
            layers.Dense(2),
        ]
    )


def _data(model):
    rng = np.random.default_rng(0)
    if model.inputs[0].dtype == "int32":
        x = rng.integers(1, 20, size=(8, 6)).astype("int32")
        x[:, -2:] = 0
    else:
        x = rng.normal(size=(8, 4)).astype("float32")
    return x, rng.normal(size=(8, 2)).astype("float32")


def test_deepcopy_of_a_functional_model_predicts_trains_and_saves_apart(tmp_path):
    model = _functional()
    x, y = _data(model)
    expected = model.predict(x, verbose=0)
    clone = copy.deepcopy(model)
    np.testing.assert_allclose(clone.predict(x, verbose=0), expected, rtol=1e-5)
    clone.compile("adam", "mse")
    clone.fit(x, y, epochs=2, verbose=0)
    assert not np.allclose(clone.predict(x, verbose=0), expected)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    clone.save(tmp_path / "clone.keras")
    loaded = lamina.saving.load_model(tmp_path / "clone.keras")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), clone.predict(x, verbose=0), rtol=1e-5
    )
    assert lamina.models.clone_model(clone).count_params() == model.count_params()


def test_deepcopy_of_a_trained_model_keeps_its_own_optimizer_state():
    inputs = lamina.Input((4,))
    model = lamina.Model(inputs, layers.Dense(2)(layers.Dense(3)(inputs)))
    model.compile("adam", "mse")
    x, y = _data(model)
    model.fit(x, y, verbose=0)
    expected = model.predict(x, verbose=0)
    clone = copy.deepcopy(model)
    clone.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    assert clone.layers[1].kernel is not model.layers[1].kernel


def test_functional_model_nested_in_a_subclassed_model_survives_deepcopy():
    class Outer(lamina.Model):
        def __init__(self):
            super().__init__()
            self.body = _functional()

        def call(self, x):
            return self.body(x) * 2.0

    model = Outer()
    x, _ = _data(model.body)
    clone = copy.deepcopy(model)
    np.testing.assert_allclose(
        clone(x).detach().cpu().numpy(), model(x).detach().cpu().numpy(), rtol=1e-5
    )


@pytest.mark.parametrize("make", [_sequential, _functional])
def test_functional_call_and_get_submodule_resolve_layer_paths(make):
    model = make()
    x, _ = _data(model)
    x = torch.as_tensor(x)
    params = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    zeros = torch.func.functional_call(model, params, (x,))
    assert float(zeros.detach().abs().max()) == 0.0
    assert float(model(x).detach().abs().max()) > 0.0  # its own weights stay
    name = next(name for name, _ in model.named_parameters())
    assert model.get_parameter(name) is dict(model.named_parameters())[name]
    assert model.get_submodule("layers.1") is model.layers[1]


@pytest.mark.parametrize("make", [_sequential, _functional])
def test_torch_export_of_a_model_object_matches_eager_outputs(make):
    model = make()
    model.eval()
    x, _ = _data(model)
    x = torch.as_tensor(x)
    program = torch.export.export(model, (x,))
    np.testing.assert_allclose(
        program.module()(x).detach().cpu().numpy(),
        model(x).detach().cpu().numpy(),
        rtol=1e-5,
    )


def test_layers_is_still_a_new_plain_list_each_time():
    model = _sequential()
    first = model.layers
    assert isinstance(first, list) and first == list(model.layers)
    first.pop()
    assert len(model.layers) == 4 and first is not model.layers
    assert repr(first).startswith("[<Dense")


@pytest.mark.parametrize(
    "convert, dtype",
    [
        (lambda m: m.double(), torch.float64),
        (lambda m: m.half(), torch.float16),
        (lambda m: m.to(torch.bfloat16), torch.bfloat16),
    ],
)
@pytest.mark.parametrize("make", [_sequential, _functional])
def test_converting_the_weights_dtype_makes_the_model_compute_in_it(
    make, convert, dtype
):
    model = make()
    x, y = _data(model)
    convert(model)
    name = str(dtype).split(".")[1]
    assert model.compute_dtype == name and model.layers[-1].variable_dtype == name
    assert model(torch.as_tensor(x)).dtype == dtype
    model.compile("sgd", "mse")
    loss = model.fit(x, y, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    assert all(p.dtype == dtype for p in model.parameters() if p.is_floating_point())


def test_double_model_keeps_float64_precision_from_the_input_on():
    inputs = lamina.Input((1,))
    model = lamina.Model(inputs, layers.Dense(1, kernel_initializer="ones")(inputs))
    model.double()
    x = torch.tensor([[1.0 + 1e-12]], dtype=torch.float64)
    assert model.inputs[0].dtype == "float64"
    assert model(x).item() == 1.0 + 1e-12


def test_device_move_alone_leaves_the_dtype_policy_alone():
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(2)])
    model.dtype_policy = "mixed_bfloat16"
    model.layers[0].dtype_policy = "mixed_bfloat16"
    model.to("cpu").float()
    assert model.layers[0].dtype_policy.name == "mixed_bfloat16"


def test_jit_trace_under_no_grad_matches_eager():
    model = _sequential()
    model.eval()
    x = torch.as_tensor(_data(model)[0])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.13 deprecates torch.jit
        traced = torch.jit.trace(model, (x,))
        np.testing.assert_allclose(
            traced(x).cpu().numpy(), model(x).cpu().numpy(), rtol=1e-5, atol=1e-6
        )
