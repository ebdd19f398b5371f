import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.layers.regularization.activity_regularization import (
    ActivityRegularization,
)
from lamina.layers.regularization.alpha_dropout import AlphaDropout
from lamina.layers.regularization.dropout import Dropout
from lamina.layers.regularization.gaussian_dropout import GaussianDropout
from lamina.layers.regularization.gaussian_noise import GaussianNoise
from lamina.layers.regularization.spatial_dropout import (
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)

NOISE_LAYERS = [
    lambda: SpatialDropout1D(0.5),
    lambda: SpatialDropout2D(0.5),
    lambda: SpatialDropout3D(0.5),
    lambda: GaussianNoise(0.5),
    lambda: GaussianDropout(0.5),
    lambda: AlphaDropout(0.5),
]
RANKS = [3, 4, 5, 2, 2, 2]


def numpy_of(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("make, rank", list(zip(NOISE_LAYERS, RANKS)))
def test_noise_layers_are_identity_at_inference(make, rank):
    # On lamina's device, where layers take the tensor as is.
    x = torch.randn(*([2] * rank), device=lamina.backend.get_device())
    layer = make()
    assert layer(x) is x
    assert layer(x, training=False) is x
    assert layer(lamina.Input((3,) * (rank - 1))).shape == (None,) + (3,) * (rank - 1)


@pytest.mark.parametrize("make, rank", list(zip(NOISE_LAYERS, RANKS)))
def test_noise_layers_change_inputs_while_training_and_pass_masks(make, rank):
    # On lamina's device, where layers take the tensor (and its mask) as is.
    device = lamina.backend.get_device()
    x = torch.ones(*([4] * rank), device=device)
    x._keras_mask = torch.ones(*([4] * (rank - 1)), dtype=torch.bool, device=device)
    out = make()(x, training=True)
    assert out.shape == x.shape and not torch.equal(out, x)
    assert out._keras_mask is x._keras_mask


@pytest.mark.parametrize(
    "cls, shape, kwargs, channel",
    [
        (SpatialDropout1D, (8, 5, 16), {}, 2),
        (SpatialDropout2D, (8, 3, 3, 16), {}, 3),
        (SpatialDropout2D, (8, 16, 3, 3), {"data_format": "channels_first"}, 1),
        (SpatialDropout3D, (4, 2, 2, 2, 16), {}, 4),
        (SpatialDropout3D, (4, 16, 2, 2, 2), {"data_format": "channels_first"}, 1),
    ],
)
@pytest.mark.parametrize("seed", [None, 7])
def test_spatial_dropout_drops_whole_channels(cls, shape, kwargs, channel, seed):
    out = numpy_of(
        cls(0.5, seed=seed, **kwargs)(np.ones(shape, "float32"), training=True)
    )
    moved = np.moveaxis(out, channel, -1).reshape(shape[0], -1, shape[channel])
    # Every value of a channel is either dropped or kept (and scaled by 2).
    assert (moved == moved[:, :1]).all()
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert 0.2 < (out == 0).mean() < 0.8


def test_spatial_dropout_is_a_dropout_with_keras_config_keys():
    layer = SpatialDropout2D(0.3, seed=2)
    assert isinstance(layer, Dropout)
    assert layer.get_config() == {
        "rate": 0.3,
        "seed": 2,
        "name": layer.name,
        "dtype": "float32",
        "data_format": "channels_last",
    }
    assert set(SpatialDropout1D(0.1).get_config()) == {"rate", "seed", "name", "dtype"}
    clone = SpatialDropout2D.from_config(layer.get_config())
    assert clone.rate == 0.3 and clone.data_format == "channels_last"


def test_spatial_dropout_wrong_rank_and_format_are_explained():
    with pytest.raises(ValueError, match="rank 4"):
        SpatialDropout2D(0.5)(torch.ones(2, 3, 4), training=True)
    with pytest.raises(ValueError, match="data_format"):
        SpatialDropout2D(0.5, data_format="NHWC")


def test_spatial_dropout_rate_one_drops_everything():
    out = SpatialDropout1D(1.0)(torch.ones(2, 3, 4), training=True)
    assert torch.equal(out.cpu(), torch.zeros(2, 3, 4))


def test_gaussian_noise_has_the_requested_spread():
    out = numpy_of(GaussianNoise(0.5)(np.ones((200, 100), "float32"), training=True))
    assert abs(out.mean() - 1.0) < 0.01 and abs(out.std() - 0.5) < 0.01


def test_gaussian_dropout_noise_has_mean_one_and_dropout_variance():
    out = numpy_of(GaussianDropout(0.2)(np.ones((200, 100), "float32"), training=True))
    assert abs(out.mean() - 1.0) < 0.01 and abs(out.std() - 0.5) < 0.01


def test_alpha_dropout_keeps_selu_statistics():
    x = torch.randn(400, 250)
    out = numpy_of(AlphaDropout(0.2)(x, training=True))
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1.0) < 0.02


def test_alpha_dropout_sets_dropped_units_to_one_value():
    rate = 0.25
    out = numpy_of(AlphaDropout(rate, seed=3)(torch.full((50, 40), 5.0), training=True))
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    np.testing.assert_allclose(
        np.unique(out), sorted([a * alpha_p + b, a * 5 + b]), rtol=1e-6
    )


def test_alpha_dropout_noise_shape_broadcasts_the_mask():
    out = numpy_of(
        AlphaDropout(0.5, noise_shape=(None, 1, 6))(torch.ones(4, 3, 6), training=True)
    )
    assert (out == out[:, :1]).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianNoise(0.3, seed=5),
        lambda: GaussianDropout(0.3, seed=5),
        lambda: AlphaDropout(0.3, seed=5),
        lambda: SpatialDropout1D(0.3, seed=5),
    ],
)
def test_seeded_layers_repeat_across_instances_but_vary_across_calls(make):
    x = torch.ones(4, 3, 5)
    first, second = make(), make()
    a = first(x, training=True)
    assert torch.equal(a, second(x, training=True))
    assert not torch.equal(a, first(x, training=True))


@pytest.mark.parametrize(
    "cls, arg, bad",
    [
        (GaussianNoise, "stddev", 1.5),
        (GaussianNoise, "stddev", -0.1),
        (GaussianDropout, "rate", 1.0),
        (GaussianDropout, "rate", "0.1"),
        (AlphaDropout, "rate", 1.0),
        (AlphaDropout, "rate", True),
    ],
)
def test_noise_arguments_out_of_range_are_refused(cls, arg, bad):
    with pytest.raises(ValueError, match=f"`{arg}`.*got {arg}="):
        cls(bad)


@pytest.mark.parametrize(
    "layer",
    [
        GaussianNoise(0.2, seed=1),
        GaussianDropout(0.1),
        AlphaDropout(0.2, (None, 1)),
        ActivityRegularization(l1=0.1, l2=0.2),
    ],
)
def test_noise_layer_configs_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_activity_regularization_adds_the_penalty_per_example():
    layer = ActivityRegularization(l1=0.1, l2=0.5)
    x = np.array([[1.0, -2.0], [3.0, 0.0]], "float32")
    out = layer(x)
    np.testing.assert_array_equal(numpy_of(out), x)
    expected = (0.1 * 6.0 + 0.5 * 14.0) / 2  # divided by the batch size
    np.testing.assert_allclose([float(v) for v in layer.losses], [expected], rtol=1e-6)
    assert "activity_regularizer" not in layer.get_config()


def test_regularization_layers_train_in_a_sequential_model():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4, 8)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    model = lamina.Sequential(
        [
            lamina.Input((4, 8)),
            GaussianNoise(0.1),
            SpatialDropout1D(0.1),
            layers.Dense(8, activation="selu"),
            AlphaDropout(0.1),
            GaussianDropout(0.1),
            ActivityRegularization(l2=1e-4),
            lamina.layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # Inference is deterministic.
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), model.predict(x, verbose=0)
    )
