"""Eager calls convert every argument as Keras does (not only the first), and
the build config of a call with two tensor arguments, both checked against
Keras 3 on torch."""

import os

import numpy as np
import pytest
import torch

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")


def _seen(lib, calls, **layer_kwargs):
    """What `call` receives (kind and dtype of each argument) for each call."""
    seen = []

    def describe(value):
        if isinstance(value, (list, tuple)):
            return [describe(v) for v in value]
        if isinstance(value, dict):
            return {k: describe(v) for k, v in value.items()}
        if isinstance(value, torch.Tensor):
            return ("tensor", str(value.dtype).replace("torch.", ""))
        if isinstance(value, (np.ndarray, np.generic)):
            return ("numpy", str(value.dtype))
        return (type(value).__name__, value)

    class Probe(lib.layers.Layer):
        def call(self, x, y=None, z=None, training=None):
            seen.append((describe(x), describe(y), describe(z), training))
            return x

    layer = Probe(**layer_kwargs)
    for args, kwargs in calls:
        layer(*args, **kwargs)
    return seen


def _calls(first_numpy=True):
    x = torch.ones(2, 3)
    calls = [
        ((x, np.ones((2, 3))), {}),  # a NumPy second input
        ((x,), {"z": np.ones((2, 3))}),  # a NumPy keyword argument
        ((x, np.ones((2, 3), "int32")), {}),  # ints keep their dtype
        ((x,), {"y": torch.ones(2, 3, dtype=torch.float64)}),  # float64 cast
        ((x, torch.ones(2, 3, dtype=torch.float64)), {"training": True}),
        ((x,), {"z": [np.ones(3), np.ones(3, "int64")]}),  # nested arrays
        ((x,), {"z": {"a": np.ones(3)}}),
        ((x,), {"z": np.float64(2.0)}),  # a NumPy scalar is an array too
        ((x,), {"z": 3.0, "training": False}),  # Python numbers stay
        ((x,), {"z": [1.0, 2.0]}),
    ]
    if first_numpy:
        calls.append(((np.ones((2, 3)),), {"z": torch.ones(3, dtype=torch.float64)}))
    return calls


@pytest.mark.parametrize(
    "layer_kwargs", [{}, {"dtype": "float16"}, {"autocast": False}]
)
def test_eager_call_converts_other_arguments_as_keras(layer_kwargs):
    keras = pytest.importorskip("keras")
    # Without autocast, Keras keeps a float64 NumPy first input float64;
    # lamina makes it floatx (its own rule for the first input).
    first_numpy = layer_kwargs.get("autocast", True)
    got = _seen(lamina, _calls(first_numpy), **layer_kwargs)
    expected = _seen(keras, _calls(first_numpy), **layer_kwargs)
    assert got == expected
    if not layer_kwargs:  # the point of the fix, spelled out
        assert got[0][1] == ("tensor", "float32")
        assert got[1][2] == ("tensor", "float32")
        assert got[3][1] == ("tensor", "float32")


def test_cast_argument_keeps_its_mask():
    seen = {}

    class Probe(lamina.layers.Layer):
        def call(self, x, y):
            seen["y"] = y
            return x

    y = torch.ones(2, 3, dtype=torch.float64)
    y._keras_mask = torch.tensor([True, False])
    Probe()(torch.ones(2, 3), y)
    assert seen["y"].dtype == torch.float32
    assert torch.equal(seen["y"]._keras_mask.cpu(), torch.tensor([True, False]))


def test_attention_takes_numpy_value_after_tensor_query():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    value = rng.normal(size=(2, 5, 4))  # float64, as NumPy makes it
    got = lamina.layers.Attention()([torch.from_numpy(query), value])
    expected = keras.layers.Attention()([torch.from_numpy(query), value])
    np.testing.assert_allclose(
        got.detach().cpu().numpy(),
        expected.detach().cpu().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    layer = lamina.layers.MultiHeadAttention(num_heads=2, key_dim=2)
    mask = np.ones((2, 3, 5), bool)
    out = layer(torch.from_numpy(query), value, attention_mask=mask)
    assert out.dtype == torch.float32
    assert tuple(out.shape) == (2, 3, 4)


def test_two_argument_call_build_config_as_keras():
    keras = pytest.importorskip("keras")

    def make(lib):
        class Pair(lib.layers.Layer):
            def __init__(self):
                super().__init__()
                self.dense = lib.layers.Dense(3)

            def call(self, x, y):
                return self.dense(x) + y

        return Pair()

    x, y = np.ones((2, 4), "float32"), np.ones((2, 3), "float32")
    ours, theirs = make(lamina), make(keras)
    ours(torch.from_numpy(x), y)
    theirs(torch.from_numpy(x), y)
    # Keras's default build records the first argument's shape only.
    assert ours.get_build_config() == theirs.get_build_config()
    assert ours.get_build_config() == {"input_shape": (2, 4)}


def _pair_model(lib):
    class PairModel(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(3)

        def call(self, x, y):
            return self.dense(x) + y

    return PairModel


def test_two_argument_model_records_every_input_shape(tmp_path):
    keras = pytest.importorskip("keras")
    PairModel = _pair_model(lamina)
    model = PairModel()
    x, y = np.ones((2, 4), "float32"), np.full((2, 3), 2.0, "float32")
    expected = model(x, y).detach().cpu().numpy()
    config = {"shapes_dict": {"x_shape": (2, 4), "y_shape": (2, 3)}}
    assert model.get_build_config() == config
    path = str(tmp_path / "pair.keras")
    model.save(path)
    # lamina builds it again by tracing call(x, y) and restores the weights.
    loaded = lamina.models.load_model(path, custom_objects={"PairModel": PairModel})
    assert loaded.built
    assert loaded.get_build_config() == config
    np.testing.assert_allclose(loaded(x, y).detach().cpu().numpy(), expected, rtol=1e-6)
    # So does Keras's loader (a `shapes_dict` is built by keyword tracing).
    theirs = keras.models.load_model(
        path, custom_objects={"PairModel": _pair_model(keras)}
    )
    got = keras.ops.convert_to_numpy(theirs(x, y))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # And export finds one input per argument without an input_signature.
    model.export(str(tmp_path / "pair.pt2"), format="torch", verbose=False)
    assert (tmp_path / "pair.pt2").exists()
