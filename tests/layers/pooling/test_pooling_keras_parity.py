import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.layers.pooling import (  # noqa: E402
    average_pooling,
    global_average_pooling,
    global_max_pooling,
    max_pooling,
)

MODULES = (average_pooling, global_average_pooling, global_max_pooling, max_pooling)
CF = {"data_format": "channels_first"}


def _lamina_class(name):
    for module in MODULES:
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(name)


# Uneven "same" average pooling (e.g. pool 4, stride 1) is left out: Keras's
# torch backend replicates edge values there, while its TF/JAX backends (and
# lamina, see test_pooling_layers.py) leave the padding out of the mean.
CASES = [
    ("MaxPooling1D", {}, (2, 9, 3)),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3)),
    ("MaxPooling1D", {"pool_size": 2, "padding": "same", **CF}, (2, 3, 7)),
    ("MaxPooling2D", {"pool_size": (2, 3), "strides": (1, 2)}, (2, 6, 7, 3)),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 6, 7, 3)),
    ("MaxPooling2D", {"pool_size": 4, "strides": 1, "padding": "same"}, (1, 5, 6, 2)),
    ("MaxPooling2D", {"padding": "same", **CF}, (2, 3, 5, 5)),
    (
        "MaxPooling3D",
        {"pool_size": 2, "strides": 1, "padding": "same"},
        (1, 3, 4, 5, 2),
    ),
    ("MaxPooling3D", {"pool_size": (1, 2, 2), **CF}, (1, 2, 3, 4, 4)),
    ("AveragePooling1D", {"pool_size": 3, "strides": 2}, (2, 9, 3)),
    ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 7, 3)),
    ("AveragePooling2D", {"pool_size": 2}, (2, 6, 7, 3)),
    (
        "AveragePooling2D",
        {"pool_size": 3, "strides": 1, "padding": "same"},
        (2, 5, 6, 3),
    ),
    (
        "AveragePooling2D",
        {"pool_size": 3, "strides": 2, "padding": "same", **CF},
        (1, 2, 7, 7),
    ),
    ("AveragePooling3D", {"pool_size": 2, "padding": "valid"}, (1, 4, 5, 4, 2)),
    (
        "AveragePooling3D",
        {"pool_size": 3, "strides": 1, "padding": "same", **CF},
        (1, 2, 3, 4, 5),
    ),
    ("GlobalMaxPooling1D", {}, (2, 5, 3)),
    ("GlobalMaxPooling2D", {"keepdims": True}, (2, 5, 4, 3)),
    ("GlobalMaxPooling3D", CF, (2, 3, 2, 3, 4)),
    ("GlobalAveragePooling1D", {"keepdims": True, **CF}, (2, 3, 5)),
    ("GlobalAveragePooling2D", {}, (2, 5, 4, 3)),
    ("GlobalAveragePooling3D", {"keepdims": True}, (2, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_same_outputs_shapes_and_config_as_keras(name, kwargs, shape):
    k_layer = getattr(keras.layers, name)(**kwargs)
    l_layer = _lamina_class(name)(**kwargs)
    x = np.random.default_rng(2).standard_normal(shape).astype("float32")
    k_out = np.asarray(k_layer(x).detach().cpu())
    l_out = l_layer(x).detach().cpu().numpy()
    assert l_out.shape == k_out.shape
    np.testing.assert_allclose(l_out, k_out, rtol=1e-6, atol=1e-6)
    assert l_layer.compute_output_shape(shape) == tuple(
        k_layer.compute_output_shape(shape)
    )
    assert l_layer.count_params() == k_layer.count_params() == 0
    k_config = {k: v for k, v in k_layer.get_config().items() if k != "name"}
    l_config = {k: v for k, v in l_layer.get_config().items() if k != "name"}
    assert l_config == k_config


def test_masked_global_average_1d_matches_keras():
    x = np.random.default_rng(3).standard_normal((3, 5, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0]], bool)
    k_out = keras.layers.GlobalAveragePooling1D()(x, mask=mask)
    l_out = global_average_pooling.GlobalAveragePooling1D()(
        torch.tensor(x), mask=torch.tensor(mask)
    )
    np.testing.assert_allclose(
        l_out.detach().cpu().numpy(), np.asarray(k_out.detach().cpu()), rtol=1e-6
    )
