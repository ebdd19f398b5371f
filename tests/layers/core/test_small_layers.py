import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def test_activation_layer_applies_by_name():
    out = layers.Activation("relu")(np.array([[-1.0, 2.0]], "float32"))
    np.testing.assert_allclose(out.cpu().numpy(), [[0.0, 2.0]])


def test_flatten_collapses_all_but_batch():
    out = layers.Flatten()(np.arange(24, dtype="float32").reshape(2, 3, 4))
    assert tuple(out.shape) == (2, 12)
    assert layers.Flatten()(lamina.Input((3, 4))).shape == (None, 12)


def test_flatten_channels_first_matches_channels_last_order():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)  # (batch, C, W)
    first = layers.Flatten(data_format="channels_first")(x).cpu().numpy()
    last = layers.Flatten()(np.transpose(x, (0, 2, 1))).cpu().numpy()
    np.testing.assert_array_equal(first, last)


def test_dropout_is_identity_at_inference_and_scales_in_training():
    x = np.ones((1000, 10), "float32")
    layer = layers.Dropout(0.5)
    np.testing.assert_array_equal(layer(x).cpu().numpy(), x)
    trained = layer(x, training=True).cpu().numpy()
    kept = trained[trained != 0]
    np.testing.assert_allclose(kept, 2.0)
    assert 0.45 < (trained == 0).mean() < 0.55


def test_dropout_with_seed_is_reproducible():
    x = np.ones((4, 8), "float32")
    a = layers.Dropout(0.5, seed=3)(x, training=True).cpu().numpy()
    b = layers.Dropout(0.5, seed=3)(x, training=True).cpu().numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rate", [-0.1, 1.5, "half"])
def test_dropout_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(rate)


def test_input_gives_symbolic_tensor_with_batch_axis():
    x = lamina.Input(shape=(28, 28, 1), name="img")
    assert x.shape == (None, 28, 28, 1)
    assert x.dtype == "float32"
    assert x.name == "img"


def test_input_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="tuple of non-negative ints"):
        lamina.Input(shape="32")


def test_input_layer_config_matches_keras_schema():
    layer = layers.InputLayer(shape=(4,))
    assert layer.get_config() == {
        "batch_shape": (None, 4),
        "dtype": "float32",
        "sparse": False,
        "ragged": False,
        "name": layer.name,
        "optional": False,
    }


def test_symbolic_tensor_cannot_be_used_as_bool():
    with pytest.raises(TypeError, match="symbolic"):
        bool(lamina.Input((2,)))


def test_dense_inputs_as_torch_tensors_stay_tensors():
    out = layers.Dense(2)(torch.ones(3, 4))
    assert isinstance(out, torch.Tensor)
