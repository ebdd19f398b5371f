import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.layers.normalization.group_normalization import GroupNormalization
from lamina.layers.normalization.layer_normalization import LayerNormalization
from lamina.layers.normalization.unit_normalization import UnitNormalization

RNG = np.random.default_rng(2)


def numpy_of(t):
    return t.detach().cpu().numpy()


def standardize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# --- LayerNormalization -------------------------------------------------------


@pytest.mark.parametrize(
    "shape, axis",
    [((3, 5), -1), ((2, 3, 4), [1, 2]), ((2, 3, 4), 1), ((2, 3, 4, 5), [1, 3])],
)
def test_layer_norm_standardizes_each_example_over_its_axes(shape, axis):
    x = RNG.standard_normal(shape).astype("float32") * 3 + 1
    layer = LayerNormalization(axis=axis)
    layer(x)
    axes = tuple(np.atleast_1d(axis) % len(shape))
    wshape = tuple(shape[a] for a in axes)
    gamma = RNG.uniform(0.5, 2, wshape).astype("float32")
    beta = RNG.uniform(-1, 1, wshape).astype("float32")
    layer.set_weights([gamma, beta])
    bshape = [shape[i] if i in axes else 1 for i in range(len(shape))]
    expected = standardize(x, axes, 1e-3) * gamma.reshape(bshape) + beta.reshape(bshape)
    np.testing.assert_allclose(numpy_of(layer(x)), expected, rtol=1e-5, atol=1e-5)


def test_layer_norm_weights_follow_the_normalized_axes():
    layer = LayerNormalization(axis=[1, 2])
    layer(np.zeros((2, 3, 4), "float32"))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 4), (3, 4)]
    assert layer.count_params() == 24
    assert layer.get_config()["axis"] == [1, 2]  # a sorted list once built


def test_layer_norm_without_center_and_scale_has_no_weights():
    layer = LayerNormalization(center=False, scale=False, epsilon=0.0)
    out = layer(np.array([[1.0, 2.0, 3.0]], "float32"))
    assert layer.weights == []
    np.testing.assert_allclose(numpy_of(out), [[-1.2247449, 0.0, 1.2247449]], rtol=1e-6)


def test_layer_norm_rms_scaling_is_deprecated_and_does_not_center():
    with pytest.warns(UserWarning, match="deprecated"):
        layer = LayerNormalization(rms_scaling=True, epsilon=0.0)
    x = np.array([[1.0, 3.0]], "float32")
    np.testing.assert_allclose(numpy_of(layer(x)), x / 1.0)  # variance 1
    assert [w.path.split("/")[1] for w in layer.weights] == ["gamma"]


def test_layer_norm_keeps_half_inputs_and_computes_in_float32():
    layer = LayerNormalization(dtype="mixed_bfloat16")
    x = torch.tensor([[1000.0, 1001.0]], dtype=torch.float16)
    out = layer(x)
    assert out.dtype == torch.bfloat16
    np.testing.assert_allclose(numpy_of(out.float()), [[-1.0, 1.0]], atol=0.01)


@pytest.mark.parametrize("axis", ["last", 1.5, [], [1, "a"]])
def test_layer_norm_rejects_a_bad_axis_type(axis):
    with pytest.raises(TypeError, match="int or a non-empty list"):
        LayerNormalization(axis=axis)


def test_layer_norm_axis_out_of_range_names_the_layer():
    with pytest.raises(ValueError, match=r"layer_normalization.*axis=2.*out of range"):
        LayerNormalization(axis=2)(np.zeros((2, 3), "float32"))


def test_layer_norm_config_round_trip_and_symbolic_shape():
    layer = LayerNormalization(
        axis=[-2, -1], epsilon=1e-5, center=False, gamma_regularizer="l2"
    )
    assert layer(lamina.Input((3, 4))).shape == (None, 3, 4)
    config = layer.get_config()
    assert LayerNormalization.from_config(config).get_config() == config


def test_layer_norm_passes_the_mask_on():
    x = torch.ones(2, 3, 4)
    x._keras_mask = torch.tensor([[True, False, False], [True, True, False]])
    assert torch.equal(LayerNormalization()(x)._keras_mask.cpu(), x._keras_mask)


# --- GroupNormalization -------------------------------------------------------


@pytest.mark.parametrize(
    "shape, groups, axis",
    [
        ((2, 4, 4, 6), 3, -1),
        ((2, 6, 4, 4), 2, 1),
        ((3, 8), 4, -1),
        ((2, 5, 4), -1, -1),
        ((2, 5, 4), 1, -1),
    ],
)
def test_group_norm_standardizes_each_group(shape, groups, axis):
    x = RNG.standard_normal(shape).astype("float32") * 2 + 3
    layer = GroupNormalization(groups=groups, axis=axis)
    layer(x)
    channels = shape[axis]
    gamma = RNG.uniform(0.5, 2, channels).astype("float32")
    beta = RNG.uniform(-1, 1, channels).astype("float32")
    layer.set_weights([gamma, beta])
    g = channels if groups == -1 else groups
    moved = np.moveaxis(x, axis, -1)
    grouped = moved.reshape(shape[0], -1, g, channels // g)
    normed = standardize(grouped, (1, 3), 1e-3).reshape(moved.shape) * gamma + beta
    expected = np.moveaxis(normed, -1, axis)
    np.testing.assert_allclose(numpy_of(layer(x)), expected, rtol=1e-4, atol=1e-5)
    assert layer.groups == g


def test_group_norm_weights_are_per_channel():
    layer = GroupNormalization(groups=2)
    layer(np.zeros((1, 3, 4), "float32"))
    assert [tuple(w.shape) for w in layer.weights] == [(4,), (4,)]
    assert layer.count_params() == 8


def test_group_norm_groups_not_dividing_channels_is_explained():
    with pytest.raises(
        ValueError, match=r"groups=4.*does not divide 6.*\[1, 2, 3, 6\]"
    ):
        GroupNormalization(groups=4)(np.zeros((1, 6), "float32"))


def test_group_norm_default_32_groups_refuses_too_few_channels():
    with pytest.raises(ValueError, match="groups=32"):
        GroupNormalization()(np.zeros((1, 2, 16), "float32"))


@pytest.mark.parametrize("groups", [0, -2, 2.0, True])
def test_group_norm_rejects_bad_group_counts(groups):
    with pytest.raises(ValueError, match="positive int"):
        GroupNormalization(groups=groups)


def test_group_norm_config_round_trip():
    layer = GroupNormalization(
        groups=2, axis=1, epsilon=1e-5, scale=False, beta_constraint="non_neg"
    )
    assert layer(lamina.Input((4, 3))).shape == (None, 4, 3)
    config = layer.get_config()
    assert GroupNormalization.from_config(config).get_config() == config


# --- UnitNormalization --------------------------------------------------------


def test_unit_norm_gives_unit_l2_norm_and_keeps_zero_vectors():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], "float32")
    out = numpy_of(UnitNormalization()(x))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def test_unit_norm_over_several_axes():
    x = RNG.standard_normal((2, 3, 4)).astype("float32")
    out = numpy_of(UnitNormalization(axis=[1, 2])(x))
    np.testing.assert_allclose((out**2).sum(axis=(1, 2)), [1.0, 1.0], rtol=1e-5)


def test_unit_norm_accepts_unknown_sizes_and_round_trips_config():
    layer = UnitNormalization(axis=1)
    assert layer(lamina.Input((None, 4))).shape == (None, None, 4)
    assert UnitNormalization.from_config(layer.get_config()).axis == 1
    with pytest.raises(ValueError, match="out of range"):
        UnitNormalization(axis=3)(lamina.Input((4,)))


# --- training smoke test ------------------------------------------------------


def test_normalization_layers_train_in_a_sequential_model():
    x = RNG.standard_normal((32, 4, 6)).astype("float32")
    y = x.mean(axis=(1, 2))[:, None].astype("float32")
    model = lamina.Sequential(
        [
            lamina.Input((4, 6)),
            layers.Dense(8),
            LayerNormalization(),
            GroupNormalization(groups=4),
            UnitNormalization(),
            lamina.layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
