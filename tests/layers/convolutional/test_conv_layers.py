import numpy as np
import pytest
import torch

import lamina
from lamina.layers.convolutional.conv1d import Conv1D
from lamina.layers.convolutional.conv1d_transpose import Conv1DTranspose
from lamina.layers.convolutional.conv2d import Conv2D
from lamina.layers.convolutional.conv2d_transpose import Conv2DTranspose
from lamina.layers.convolutional.conv3d import Conv3D
from lamina.layers.convolutional.conv3d_transpose import Conv3DTranspose
from lamina.layers.convolutional.depthwise_conv1d import DepthwiseConv1D
from lamina.layers.convolutional.depthwise_conv2d import DepthwiseConv2D
from lamina.layers.convolutional.separable_conv1d import SeparableConv1D
from lamina.layers.convolutional.separable_conv2d import SeparableConv2D
from lamina.layers.pooling.max_pooling import MaxPooling2D

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape).astype("float32")


def _np(t):
    return t.detach().cpu().numpy()


def _reference_conv2d(x, kernel, strides, padding, dilation=(1, 1)):
    """Direct NHWC cross-correlation with Keras/TF padding, in NumPy loops."""
    _, h, w, _ = x.shape
    kh, kw, _, out = kernel.shape
    pads = []
    for n, k, s, d in zip((h, w), (kh, kw), strides, dilation):
        if padding == "valid":
            pads.append((0, 0))
        else:
            eff = (k - 1) * d + 1
            total = max((-(-n // s) - 1) * s + eff - n, 0)
            pads.append((total // 2, total - total // 2))
    xp = np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)])
    oh = (xp.shape[1] - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    y = np.zeros((x.shape[0], oh, ow, out), "float64")
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    pix = xp[
                        :,
                        i * strides[0] + a * dilation[0],
                        j * strides[1] + b * dilation[1],
                        :,
                    ]
                    y[:, i, j, :] += pix @ kernel[a, b]
    return y


# --- values -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"kernel_size": 3}, (2, 6, 5, 3)),
        ({"kernel_size": 4, "strides": 2, "padding": "same"}, (2, 7, 6, 3)),
        ({"kernel_size": (2, 3), "strides": (3, 2), "padding": "same"}, (1, 8, 7, 3)),
        ({"kernel_size": 3, "dilation_rate": 2, "padding": "same"}, (1, 7, 7, 3)),
        ({"kernel_size": 2, "strides": 2}, (2, 5, 5, 3)),
    ],
)
def test_conv2d_matches_a_direct_cross_correlation_with_keras_padding(kwargs, shape):
    layer = Conv2D(4, use_bias=False, **kwargs)
    x = _x(*shape)
    out = layer(x)
    kernel = layer.get_weights()[0]
    expected = _reference_conv2d(
        x, kernel, layer.strides, layer.padding, layer.dilation_rate
    )
    np.testing.assert_allclose(_np(out), expected, rtol=1e-5, atol=1e-5)


def test_same_padding_with_an_even_kernel_pads_more_on_the_right():
    # Keras/TF: total padding 1 for a 2-wide kernel goes to the right only, so
    # output i sums inputs i and i + 1 (and the last sees a zero).
    layer = Conv1D(1, 2, padding="same", use_bias=False, kernel_initializer="ones")
    out = layer(np.arange(1, 5, dtype="float32").reshape(1, 4, 1))
    np.testing.assert_allclose(_np(out).ravel(), [3, 5, 7, 4])


def test_causal_padding_sees_only_the_past():
    layer = Conv1D(
        1,
        3,
        padding="causal",
        dilation_rate=2,
        use_bias=False,
        kernel_initializer="ones",
    )
    out = layer(np.arange(1, 7, dtype="float32").reshape(1, 6, 1))
    # y[t] = x[t] + x[t-2] + x[t-4] with zeros before the start.
    np.testing.assert_allclose(_np(out).ravel(), [1, 2, 4, 6, 9, 12])


def test_groups_convolve_channel_groups_separately():
    layer = Conv2D(2, 1, groups=2, use_bias=False)
    layer.build((None, 3, 3, 4))
    kernel = np.zeros((1, 1, 2, 2), "float32")
    kernel[0, 0, :, 0] = [1, 2]  # group 0: channels 0, 1 -> filter 0
    kernel[0, 0, :, 1] = [3, 4]  # group 1: channels 2, 3 -> filter 1
    layer.set_weights([kernel])
    x = np.ones((1, 3, 3, 4), "float32") * np.array([1, 10, 100, 1000], "float32")
    np.testing.assert_allclose(_np(layer(x))[0, 0, 0], [21, 4300])


def test_channels_first_equals_channels_last_on_transposed_data():
    last = Conv2D(3, 3, strides=2, padding="same", bias_initializer="ones")
    x = _x(2, 7, 6, 4)
    y_last = last(x)
    first = Conv2D(3, 3, strides=2, padding="same", data_format="channels_first")
    first.build((None, 4, 7, 6))
    first.set_weights(last.get_weights())
    y_first = first(x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(
        _np(y_first), _np(y_last).transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-6
    )


def test_depthwise_output_channel_c_times_m_plus_m_comes_from_input_c():
    layer = DepthwiseConv2D(1, depth_multiplier=2, use_bias=False)
    layer.build((None, 2, 2, 3))
    kernel = np.arange(1, 7, dtype="float32").reshape(1, 1, 3, 2)
    layer.set_weights([kernel])
    x = np.ones((1, 2, 2, 3), "float32") * np.array([1, 10, 100], "float32")
    np.testing.assert_allclose(_np(layer(x))[0, 0, 0], [1, 2, 30, 40, 500, 600])


def test_separable_equals_depthwise_then_pointwise():
    sep = SeparableConv2D(
        5, 3, depth_multiplier=2, padding="same", bias_initializer="ones"
    )
    x = _x(2, 6, 6, 3)
    y = sep(x)
    depthwise_kernel, pointwise_kernel, bias = sep.get_weights()
    dw = DepthwiseConv2D(3, depth_multiplier=2, padding="same", use_bias=False)
    dw.build(x.shape)
    dw.set_weights([depthwise_kernel])
    pw = Conv2D(5, 1)
    pw.build((None, 6, 6, 6))
    pw.set_weights([pointwise_kernel, bias])
    np.testing.assert_allclose(_np(y), _np(pw(dw(x))), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kernel_size, strides, padding, output_padding, size",
    [
        (3, 2, "same", None, 4),
        (3, 2, "valid", None, 4),
        (2, 2, "same", None, 5),
        (4, 3, "same", None, 3),
        (3, 1, "same", None, 5),
        (3, 2, "valid", 1, 4),
        (2, 3, "valid", None, 4),
    ],
)
def test_conv_transpose_is_the_input_gradient_of_conv(
    kernel_size, strides, padding, output_padding, size
):
    # TF/Keras define the transposed convolution as the gradient of the forward
    # convolution (same kernel, same padding) with respect to its input.
    up = Conv1DTranspose(
        3,
        kernel_size,
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        use_bias=False,
    )
    x = torch.tensor(_x(2, size, 4))
    y = up(x)
    down = Conv1D(4, kernel_size, strides=strides, padding=padding, use_bias=False)
    down.build((None, y.shape[1], 3))
    down.set_weights(up.get_weights())  # (k, 3, 4) read as (k, in=3, out=4)
    probe = torch.zeros(y.shape, requires_grad=True)
    z = down(probe)
    if z.shape[1] != size:
        pytest.skip("forward conv does not invert this output size")
    (grad,) = torch.autograd.grad((z * x.to(z.device)).sum(), probe)
    np.testing.assert_allclose(_np(y), grad.numpy(), rtol=1e-5, atol=1e-5)


def test_conv2d_transpose_stride_2_kernel_2_copies_each_pixel_into_a_block():
    layer = Conv2DTranspose(1, 2, strides=2, kernel_initializer="ones", use_bias=False)
    x = np.array([[1.0, 2.0], [3.0, 4.0]], "float32").reshape(1, 2, 2, 1)
    np.testing.assert_allclose(
        _np(layer(x))[0, :, :, 0],
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]],
    )


def test_conv_transpose_positions_between_inputs_get_only_the_bias():
    # kernel 1, stride 3, valid: output length (n - 1) * 3 + 3; the two positions
    # after each input get no kernel term.
    layer = Conv1DTranspose(
        1, 1, strides=3, kernel_initializer="ones", bias_initializer="ones"
    )
    out = layer(np.array([[[2.0], [5.0]]], "float32"))
    np.testing.assert_allclose(_np(out).ravel(), [3, 1, 1, 6, 1, 1])


# --- shapes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, args, kwargs, in_shape, out_shape",
    [
        (Conv1D, (4, 3), {}, (2, 10, 3), (2, 8, 4)),
        (Conv1D, (4, 3), {"padding": "causal", "strides": 2}, (2, 9, 3), (2, 5, 4)),
        (Conv1D, (4, 3), {"data_format": "channels_first"}, (2, 3, 10), (2, 4, 8)),
        (Conv2D, (4, 3), {"strides": 2}, (2, 9, 8, 3), (2, 4, 3, 4)),
        (Conv2D, (4, 3), {"strides": 2, "padding": "same"}, (2, 9, 8, 3), (2, 5, 4, 4)),
        (Conv2D, (4, 3), {"dilation_rate": 2}, (2, 9, 8, 3), (2, 5, 4, 4)),
        (
            Conv3D,
            (2, 2),
            {"strides": (1, 2, 3), "padding": "same"},
            (1, 4, 5, 7, 3),
            (1, 4, 3, 3, 2),
        ),
        (SeparableConv1D, (5, 3), {"depth_multiplier": 2}, (2, 7, 3), (2, 5, 5)),
        (SeparableConv2D, (5, 3), {"strides": 2}, (2, 7, 7, 3), (2, 3, 3, 5)),
        (DepthwiseConv1D, (3,), {"depth_multiplier": 3}, (2, 7, 2), (2, 5, 6)),
        (DepthwiseConv2D, (3,), {"padding": "same"}, (2, 7, 7, 2), (2, 7, 7, 2)),
        (Conv1DTranspose, (4, 3), {"strides": 2}, (2, 5, 3), (2, 11, 4)),
        (Conv1DTranspose, (4, 2), {"strides": 3}, (2, 5, 3), (2, 15, 4)),
        (
            Conv2DTranspose,
            (4, 3),
            {"strides": 2, "padding": "same"},
            (2, 5, 6, 3),
            (2, 10, 12, 4),
        ),
        (
            Conv2DTranspose,
            (4, 3),
            {"strides": 2, "output_padding": 1},
            (2, 5, 6, 3),
            (2, 12, 14, 4),
        ),
        (
            Conv2DTranspose,
            (4, 3),
            {"strides": 2, "padding": "same", "output_padding": 0},
            (2, 5, 6, 3),
            (2, 9, 11, 4),
        ),
        (
            Conv3DTranspose,
            (2, 2),
            {"strides": 2, "data_format": "channels_first"},
            (1, 3, 2, 3, 2),
            (1, 2, 4, 6, 4),
        ),
    ],
)
def test_output_shape_matches_compute_output_shape_and_symbolic_call(
    cls, args, kwargs, in_shape, out_shape
):
    layer = cls(*args, **kwargs)
    assert tuple(layer(_x(*in_shape)).shape) == out_shape
    assert layer.compute_output_shape(in_shape) == out_shape
    symbolic = cls(*args, **kwargs)(lamina.Input(in_shape[1:]))
    assert symbolic.shape == (None,) + out_shape[1:]


def test_weight_shapes_and_order_follow_keras():
    cases = [
        (Conv2D(6, (3, 2), groups=2), (1, 5, 5, 4), [(3, 2, 2, 6), (6,)]),
        (Conv1D(6, 3, use_bias=False), (1, 5, 4), [(3, 4, 6)]),
        (DepthwiseConv2D(3, depth_multiplier=2), (1, 5, 5, 4), [(3, 3, 4, 2), (8,)]),
        (
            SeparableConv2D(7, 3, depth_multiplier=2),
            (1, 5, 5, 4),
            [(3, 3, 4, 2), (1, 1, 8, 7), (7,)],
        ),
        (SeparableConv1D(7, 3), (1, 5, 4), [(3, 4, 1), (1, 4, 7), (7,)]),
        (Conv2DTranspose(6, 3), (1, 5, 5, 4), [(3, 3, 6, 4), (6,)]),
    ]
    for layer, in_shape, shapes in cases:
        layer(_x(*in_shape))
        assert [tuple(w.shape) for w in layer.get_weights()] == shapes
    names = [w.path.split("/")[-1] for w in cases[3][0].weights]
    assert names == ["depthwise_kernel", "pointwise_kernel", "bias"]


def test_channels_last_inputs_are_not_copied_to_nchw():
    # The torch op sees a permuted view; the output comes back as NHWC-contiguous.
    out = Conv2D(8, 3, padding="same")(_x(2, 6, 6, 4))
    assert out.is_contiguous()


# --- errors -------------------------------------------------------------------


@pytest.mark.parametrize("filters", [0, -2, 2.5, True, "8"])
def test_rejects_filters_that_are_not_positive_ints(filters):
    with pytest.raises(ValueError, match="positive int.*got filters="):
        Conv2D(filters, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": 3, "strides": 0}, "strides"),
        ({"kernel_size": 3, "padding": "full"}, "padding"),
        ({"kernel_size": 3, "padding": "causal"}, "only for Conv1D"),
        ({"kernel_size": 3, "data_format": "nhwc"}, "data_format"),
        ({"kernel_size": 3, "strides": 2, "dilation_rate": 2}, "dilation_rate"),
        ({"kernel_size": 3, "groups": 3}, "divisible"),
    ],
)
def test_rejects_bad_arguments_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(4, **kwargs)


def test_transpose_rejects_output_padding_not_below_stride():
    with pytest.raises(ValueError, match="output_padding"):
        Conv2DTranspose(4, 3, strides=2, output_padding=2)


def test_missing_channels_axis_gets_a_hint():
    with pytest.raises(
        ValueError,
        match=r"rank 4.*x\[\.\.\., None\] turns shape \(2, 28, 28\) into \(2, 28, 28, 1\)",
    ):
        Conv2D(4, 3)(_x(2, 28, 28))


def test_kernel_larger_than_input_is_explained_at_build_and_later_calls():
    with pytest.raises(ValueError, match="empty output"):
        Conv2D(4, 5)(_x(1, 3, 3, 2))
    layer = Conv2D(4, 3)
    layer(_x(1, 5, 5, 2))
    with pytest.raises(ValueError, match="empty output.*too small"):
        layer(_x(1, 2, 2, 2))


def test_wrong_channel_count_after_build_names_the_layer():
    layer = Conv2D(4, 3, name="c1")
    layer(_x(1, 5, 5, 2))
    with pytest.raises(ValueError, match="'c1'.*size 2"):
        layer(_x(1, 5, 5, 3))


def test_input_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="divisible by groups=2"):
        Conv2D(4, 3, groups=2)(_x(1, 5, 5, 3))


# --- config, regularizers, training -------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        Conv1D(3, 2, padding="causal", activation="relu", name="a"),
        Conv2D(4, (3, 2), strides=2, groups=2, kernel_regularizer="l2", name="b"),
        Conv3D(2, 2, data_format="channels_first", use_bias=False, name="c"),
        SeparableConv2D(
            3, 3, depth_multiplier=2, pointwise_constraint="non_neg", name="d"
        ),
        DepthwiseConv1D(3, bias_initializer="ones", name="e"),
        Conv3DTranspose(2, 3, strides=2, output_padding=1, name="f"),
    ],
)
def test_config_round_trip_keeps_every_argument(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_regularizers_and_constraints_are_attached():
    layer = SeparableConv2D(
        2,
        3,
        depthwise_regularizer=lamina.regularizers.L2(0.5),
        pointwise_constraint="non_neg",
        bias_regularizer="l1",
    )
    layer(_x(1, 4, 4, 2))
    assert len(layer.losses) == 2
    assert layer.pointwise_kernel.constraint is not None


def test_small_cnn_fits_and_its_loss_decreases():
    x = _x(32, 8, 8, 1)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype("int32")
    model = lamina.Sequential(
        [
            lamina.Input((8, 8, 1)),
            Conv2D(4, 3, activation="relu", padding="same"),
            MaxPooling2D(),
            SeparableConv2D(4, 3, activation="relu"),
            lamina.layers.Flatten(),
            lamina.layers.Dense(2),
        ]
    )
    model.compile(
        optimizer=lamina.optimizers.Adam(0.01),
        loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]


def test_unbatched_call_after_build_is_refused_not_misread():
    layer = Conv2D(4, 1, name="c2")
    layer(_x(2, 5, 5, 4))
    with pytest.raises(ValueError, match="'c2'.*rank 4"):
        layer(_x(5, 5, 4))
