import numpy as np
import pytest
import torch

import lamina
from lamina.layers.core.embedding import Embedding
from lamina.layers.pooling.average_pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
)
from lamina.layers.pooling.global_average_pooling import (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
)
from lamina.layers.pooling.global_max_pooling import (
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
)
from lamina.layers.pooling.max_pooling import MaxPooling1D, MaxPooling2D, MaxPooling3D

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape).astype("float32")


def _np(t):
    return t.detach().cpu().numpy()


def _seq(values):
    return np.asarray(values, "float32").reshape(1, -1, 1)


# --- values -------------------------------------------------------------------


def test_max_pooling_1d_takes_each_window_maximum():
    out = MaxPooling1D(2)(_seq([1, 5, 2, 3, 9, 0]))
    np.testing.assert_allclose(_np(out).ravel(), [5, 3, 9])


def test_average_pooling_1d_with_strides():
    out = AveragePooling1D(3, strides=2)(_seq([1, 2, 3, 4, 5, 6, 7]))
    np.testing.assert_allclose(_np(out).ravel(), [2, 4, 6])


def test_same_average_divides_by_the_real_elements_only():
    # Keras/TF rule: n=5, pool 4, stride 1 -> padding 1 left, 2 right; padded
    # positions are left out of each mean.
    out = AveragePooling1D(4, strides=1, padding="same")(_seq([1, 2, 3, 4, 5]))
    np.testing.assert_allclose(_np(out).ravel(), [2.0, 2.5, 3.5, 4.0, 4.5], rtol=1e-6)


def test_same_average_with_symmetric_padding_also_skips_padding():
    out = AveragePooling1D(3, strides=1, padding="same")(_seq([3, 6, 9]))
    np.testing.assert_allclose(_np(out).ravel(), [4.5, 6.0, 7.5])


def test_same_max_ignores_padding_even_for_negative_inputs():
    out = MaxPooling1D(2, padding="same")(_seq([-3, -1, -7]))
    np.testing.assert_allclose(_np(out).ravel(), [-1, -7])


def _reference_pool2d(x, pool, strides, padding, mode):
    """Direct NHWC pooling with the Keras/TF "same" rule (padding not counted)."""
    _, h, w, _ = x.shape
    out_hw, starts = [], []
    for n, k, s in zip((h, w), pool, strides):
        if padding == "valid":
            out_hw.append((n - k) // s + 1)
            starts.append(0)
        else:
            o = -(-n // s)
            out_hw.append(o)
            starts.append(-(max((o - 1) * s + k - n, 0) // 2))
    y = np.zeros((x.shape[0], *out_hw, x.shape[3]), "float64")
    reduce = np.max if mode == "max" else np.mean
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            a, b = starts[0] + i * strides[0], starts[1] + j * strides[1]
            win = x[:, max(a, 0) : a + pool[0], max(b, 0) : b + pool[1], :]
            y[:, i, j, :] = reduce(win, axis=(1, 2))
    return y


@pytest.mark.parametrize(
    "cls, mode", [(MaxPooling2D, "max"), (AveragePooling2D, "avg")]
)
@pytest.mark.parametrize(
    "pool, strides, padding, hw",
    [
        ((2, 2), None, "valid", (6, 5)),
        ((3, 3), (2, 2), "same", (7, 6)),
        ((2, 3), (1, 2), "same", (5, 5)),
        ((4, 4), (1, 1), "same", (5, 6)),
        ((3, 2), (3, 1), "valid", (8, 4)),
    ],
)
def test_pooling_2d_matches_a_direct_computation(cls, mode, pool, strides, padding, hw):
    x = _x(2, *hw, 3)
    layer = cls(pool, strides=strides, padding=padding)
    expected = _reference_pool2d(x, pool, strides or pool, padding, mode)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "cls",
    [
        MaxPooling1D,
        MaxPooling2D,
        MaxPooling3D,
        AveragePooling1D,
        AveragePooling2D,
        AveragePooling3D,
    ],
)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_channels_first_equals_channels_last_on_transposed_data(cls, padding):
    rank = int(cls.__name__[-2])
    x = _x(2, *(5,) * rank, 3)
    last = cls(2, strides=1 if padding == "same" else 2, padding=padding)
    first = cls(
        2,
        strides=1 if padding == "same" else 2,
        padding=padding,
        data_format="channels_first",
    )
    y_first = _np(first(np.moveaxis(x, -1, 1)))
    np.testing.assert_allclose(np.moveaxis(y_first, 1, -1), _np(last(x)), rtol=1e-6)


@pytest.mark.parametrize(
    "cls, reduce",
    [
        (GlobalMaxPooling1D, np.max),
        (GlobalMaxPooling2D, np.max),
        (GlobalMaxPooling3D, np.max),
        (GlobalAveragePooling1D, np.mean),
        (GlobalAveragePooling2D, np.mean),
        (GlobalAveragePooling3D, np.mean),
    ],
)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_reduces_every_spatial_axis(cls, reduce, data_format, keepdims):
    rank = int(cls.__name__[-2])
    x = (
        _x(2, 3, *(4,) * rank)
        if data_format == "channels_first"
        else _x(2, *(4,) * rank, 3)
    )
    axes = (
        tuple(range(2, 2 + rank))
        if data_format == "channels_first"
        else tuple(range(1, 1 + rank))
    )
    layer = cls(data_format=data_format, keepdims=keepdims)
    out = _np(layer(x))
    np.testing.assert_allclose(out, reduce(x, axis=axes, keepdims=keepdims), rtol=1e-5)
    assert layer.compute_output_shape(x.shape) == out.shape


def test_global_average_1d_averages_only_unmasked_steps():
    x = np.array([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]], "float32")
    mask = torch.tensor([[True, True, False], [True, True, True]])
    out = GlobalAveragePooling1D()(torch.tensor(x), mask=mask)
    np.testing.assert_allclose(_np(out), [[2.0], [4.0]])
    first = GlobalAveragePooling1D(data_format="channels_first", keepdims=True)
    out = first(torch.tensor(x).transpose(1, 2), mask=mask)
    np.testing.assert_allclose(_np(out), [[[2.0]], [[4.0]]])


def test_global_average_1d_uses_the_mask_of_an_embedding_and_drops_it():
    model = lamina.Sequential(
        [
            lamina.Input((4,), dtype="int32"),
            Embedding(5, 2, mask_zero=True),
            GlobalAveragePooling1D(),
        ]
    )
    layer = model.layers[0]
    weights = np.arange(10, dtype="float32").reshape(5, 2)
    layer.set_weights([weights])
    out = model(np.array([[1, 3, 0, 0]], "int32"))
    np.testing.assert_allclose(_np(out), [(weights[1] + weights[3]) / 2])
    assert getattr(out, "_keras_mask", None) is None


# --- shapes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, in_shape, out_shape",
    [
        (MaxPooling1D(), (2, 9, 3), (2, 4, 3)),
        (MaxPooling1D(3, strides=2, padding="same"), (2, 9, 3), (2, 5, 3)),
        (AveragePooling1D(2, data_format="channels_first"), (2, 3, 9), (2, 3, 4)),
        (MaxPooling2D((2, 3), strides=(1, 2)), (2, 5, 7, 3), (2, 4, 3, 3)),
        (AveragePooling2D(3, strides=2, padding="same"), (2, 5, 8, 3), (2, 3, 4, 3)),
        (MaxPooling3D(), (1, 4, 5, 6, 2), (1, 2, 2, 3, 2)),
        (
            AveragePooling3D(2, padding="same", data_format="channels_first"),
            (1, 2, 5, 4, 3),
            (1, 2, 3, 2, 2),
        ),
        (GlobalMaxPooling2D(keepdims=True), (2, 5, 4, 3), (2, 1, 1, 3)),
        (GlobalAveragePooling3D(data_format="channels_first"), (2, 3, 2, 2, 2), (2, 3)),
    ],
)
def test_output_shape_matches_compute_output_shape_and_symbolic_call(
    layer, in_shape, out_shape
):
    assert tuple(layer(_x(*in_shape)).shape) == out_shape
    assert layer.compute_output_shape(in_shape) == out_shape
    fresh = type(layer).from_config(layer.get_config() | {"name": None})
    assert fresh(lamina.Input(in_shape[1:])).shape == (None,) + out_shape[1:]


def test_pooling_has_no_weights_and_is_built_at_construction():
    layer = MaxPooling2D()
    assert layer.built and layer.weights == []


def test_channels_last_max_pooling_returns_a_contiguous_nhwc_tensor():
    assert MaxPooling2D()(_x(2, 6, 6, 8)).is_contiguous()


# --- errors and config --------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pool_size": 0}, "pool_size"),
        ({"pool_size": (2, 2, 2)}, "pool_size"),
        ({"pool_size": 2, "strides": 0}, "strides"),
        ({"pool_size": 2, "padding": "causal"}, "padding"),
        ({"pool_size": 2, "data_format": "NCHW"}, "data_format"),
    ],
)
def test_rejects_bad_arguments_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaxPooling2D(**kwargs)


def test_pool_larger_than_input_is_explained():
    with pytest.raises(ValueError, match="empty output"):
        MaxPooling2D(4)(_x(1, 3, 3, 2))


def test_wrong_rank_names_the_layer():
    with pytest.raises(ValueError, match="'p'.*rank 4"):
        MaxPooling2D(name="p")(_x(2, 8, 8))


@pytest.mark.parametrize(
    "layer",
    [
        MaxPooling1D(3, strides=1, padding="same", name="a"),
        AveragePooling2D((2, 3), data_format="channels_first", name="b"),
        MaxPooling3D(name="c"),
        GlobalAveragePooling1D(keepdims=True, name="d"),
        GlobalMaxPooling3D(data_format="channels_first", name="e"),
    ],
)
def test_config_round_trip_keeps_every_argument(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_global_pooling_rejects_inputs_of_the_wrong_rank():
    with pytest.raises(ValueError, match="rank 4"):
        GlobalAveragePooling2D()(_x(2, 8, 8))
