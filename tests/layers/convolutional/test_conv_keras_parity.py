import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.layers.convolutional.conv1d import Conv1D  # noqa: E402
from lamina.layers.convolutional.conv1d_transpose import Conv1DTranspose  # noqa: E402
from lamina.layers.convolutional.conv2d import Conv2D  # noqa: E402
from lamina.layers.convolutional.conv2d_transpose import Conv2DTranspose  # noqa: E402
from lamina.layers.convolutional.conv3d import Conv3D  # noqa: E402
from lamina.layers.convolutional.conv3d_transpose import Conv3DTranspose  # noqa: E402
from lamina.layers.convolutional.depthwise_conv1d import DepthwiseConv1D  # noqa: E402
from lamina.layers.convolutional.depthwise_conv2d import DepthwiseConv2D  # noqa: E402
from lamina.layers.convolutional.separable_conv1d import SeparableConv1D  # noqa: E402
from lamina.layers.convolutional.separable_conv2d import SeparableConv2D  # noqa: E402

CLASSES = {
    cls.__name__: cls
    for cls in (
        Conv1D,
        Conv2D,
        Conv3D,
        SeparableConv1D,
        SeparableConv2D,
        DepthwiseConv1D,
        DepthwiseConv2D,
        Conv1DTranspose,
        Conv2DTranspose,
        Conv3DTranspose,
    )
}
CF = {"data_format": "channels_first"}

CASES = [
    ("Conv1D", (4, 3), {}, (2, 9, 3)),
    ("Conv1D", (4, 4), {"strides": 3, "padding": "same"}, (2, 10, 3)),
    ("Conv1D", (4, 3), {"padding": "causal", "dilation_rate": 2}, (2, 9, 3)),
    ("Conv1D", (4, 3), {"padding": "causal", "strides": 2, **CF}, (2, 3, 9)),
    ("Conv1D", (6, 2), {"groups": 3, "activation": "relu"}, (2, 7, 3)),
    ("Conv2D", (4, 3), {"use_bias": False}, (2, 7, 6, 3)),
    ("Conv2D", (4, 4), {"strides": 2, "padding": "same"}, (2, 7, 6, 3)),
    ("Conv2D", (4, (2, 3)), {"strides": (3, 2), "padding": "same"}, (2, 8, 7, 3)),
    ("Conv2D", (4, 3), {"dilation_rate": (2, 1), "padding": "same"}, (1, 7, 6, 3)),
    ("Conv2D", (4, 3), {"groups": 2, "padding": "same", "strides": 2}, (1, 6, 6, 4)),
    ("Conv2D", (4, 2), {"strides": 2, "padding": "same", **CF}, (2, 3, 7, 6)),
    ("Conv3D", (3, 2), {"strides": 2, "padding": "same"}, (1, 5, 4, 3, 2)),
    ("Conv3D", (4, (1, 2, 3)), {"groups": 2, **CF}, (1, 2, 4, 4, 4)),
    ("SeparableConv1D", (4, 3), {"depth_multiplier": 2}, (2, 8, 3)),
    ("SeparableConv1D", (4, 2), {"strides": 2, "padding": "same", **CF}, (2, 3, 7)),
    ("SeparableConv2D", (4, 3), {"padding": "same", "strides": 2}, (2, 7, 6, 3)),
    (
        "SeparableConv2D",
        (5, 3),
        {"depth_multiplier": 3, "dilation_rate": 2},
        (1, 8, 8, 2),
    ),
    ("SeparableConv2D", (4, 2), {"padding": "same", **CF}, (1, 3, 5, 5)),
    ("DepthwiseConv1D", (3,), {"depth_multiplier": 2, "padding": "same"}, (2, 7, 3)),
    ("DepthwiseConv1D", (2,), {"strides": 2, **CF}, (2, 3, 7)),
    ("DepthwiseConv2D", (3,), {"strides": 2, "padding": "same"}, (2, 7, 6, 3)),
    (
        "DepthwiseConv2D",
        (2,),
        {"depth_multiplier": 3, "dilation_rate": 2},
        (1, 6, 6, 2),
    ),
    ("DepthwiseConv2D", (3,), {"padding": "same", **CF}, (1, 2, 5, 5)),
    ("Conv1DTranspose", (4, 3), {"strides": 2}, (2, 5, 3)),
    ("Conv1DTranspose", (4, 3), {"strides": 2, "padding": "same"}, (2, 5, 3)),
    ("Conv1DTranspose", (4, 2), {"strides": 3, "output_padding": 1, **CF}, (2, 3, 5)),
    ("Conv1DTranspose", (4, 3), {"dilation_rate": 2, "padding": "same"}, (2, 5, 3)),
    ("Conv2DTranspose", (4, 3), {"strides": 2, "padding": "same"}, (2, 4, 5, 3)),
    ("Conv2DTranspose", (4, (2, 3)), {"strides": (2, 3)}, (2, 4, 5, 3)),
    ("Conv2DTranspose", (4, 3), {"strides": 2, "output_padding": 1}, (1, 4, 4, 3)),
    ("Conv2DTranspose", (4, 4), {"strides": 2, "padding": "same", **CF}, (1, 3, 4, 5)),
    ("Conv3DTranspose", (2, 3), {"strides": 2, "padding": "same"}, (1, 2, 3, 2, 3)),
    ("Conv3DTranspose", (2, 2), {"strides": (1, 2, 2), **CF}, (1, 3, 2, 3, 2)),
]


def _pair(name, args, kwargs, shape):
    k_layer = getattr(keras.layers, name)(*args, **kwargs)
    l_layer = CLASSES[name](*args, **kwargs)
    x = np.random.default_rng(1).standard_normal(shape).astype("float32")
    k_out = np.asarray(k_layer(x).detach().cpu())
    l_layer.build(shape)
    # Not get_weights(): Keras 3.15's Variable.__array__ warns under NumPy 2.
    l_layer.set_weights([v.value.detach().cpu().numpy() for v in k_layer.weights])
    return k_layer, l_layer, x, k_out


@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
def test_same_weights_give_the_same_outputs_as_keras(name, args, kwargs, shape):
    k_layer, l_layer, x, k_out = _pair(name, args, kwargs, shape)
    l_out = l_layer(x).detach().cpu().numpy()
    assert l_out.shape == k_out.shape
    np.testing.assert_allclose(l_out, k_out, rtol=1e-5, atol=1e-5)
    assert l_layer.compute_output_shape(shape) == tuple(
        k_layer.compute_output_shape(shape)
    )


@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
def test_weights_params_and_config_match_keras(name, args, kwargs, shape):
    k_layer, l_layer, _, _ = _pair(name, args, kwargs, shape)
    assert [tuple(w.shape) for w in l_layer.weights] == [
        tuple(w.shape) for w in k_layer.weights
    ]
    assert [w.path.split("/")[-1] for w in l_layer.weights] == [
        w.path.split("/")[-1] for w in k_layer.weights
    ]
    assert l_layer.count_params() == k_layer.count_params()
    k_config = {k: v for k, v in k_layer.get_config().items() if k != "name"}
    l_config = {k: v for k, v in l_layer.get_config().items() if k != "name"}
    assert l_config == k_config


def test_keras_config_builds_the_same_lamina_layer():
    config = keras.layers.Conv2D(
        8, 3, strides=2, padding="same", activation="relu", kernel_regularizer="l2"
    ).get_config()
    layer = Conv2D.from_config(config)
    assert layer.get_config() == config
