import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.layers.activations.elu import ELU
from lamina.layers.activations.leaky_relu import LeakyReLU
from lamina.layers.activations.prelu import PReLU
from lamina.layers.activations.relu import ReLU
from lamina.layers.activations.softmax import Softmax

X = np.array([[-3.0, -0.5, 0.0, 0.5, 2.0, 8.0]], "float32")


def numpy_of(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, [0, 0, 0, 0.5, 2, 8]),
        ({"max_value": 6.0}, [0, 0, 0, 0.5, 2, 6]),
        ({"negative_slope": 0.1}, [-0.3, -0.05, 0, 0.5, 2, 8]),
        ({"threshold": 1.0}, [0, 0, 0, 0, 2, 8]),
        (
            {"threshold": 1.0, "negative_slope": 0.5, "max_value": 4.0},
            [-2.0, -0.75, -0.5, -0.25, 2, 4],
        ),
    ],
)
def test_relu_values(kwargs, expected):
    np.testing.assert_allclose(numpy_of(ReLU(**kwargs)(X)), [expected], rtol=1e-6)


@pytest.mark.parametrize("arg", ["max_value", "negative_slope", "threshold"])
def test_relu_rejects_negative_arguments(arg):
    with pytest.raises(ValueError, match=f"`{arg}`.*non-negative.*got {arg}=-1"):
        ReLU(**{arg: -1})


def test_leaky_relu_default_slope_is_keras_layer_default():
    np.testing.assert_allclose(
        numpy_of(LeakyReLU()(X))[0, :2], [-0.9, -0.15], rtol=1e-6
    )


def test_leaky_relu_accepts_keras2_alpha_with_a_warning():
    with pytest.warns(UserWarning, match="negative_slope"):
        layer = LeakyReLU(alpha=0.5)
    assert layer.negative_slope == 0.5
    with pytest.raises(ValueError, match="negative_slope"):
        LeakyReLU(-0.1)


def test_elu_values():
    out = numpy_of(ELU(alpha=2.0)(X))
    np.testing.assert_allclose(out[0, :2], 2.0 * (np.exp([-3.0, -0.5]) - 1), rtol=1e-6)
    np.testing.assert_allclose(out[0, 2:], X[0, 2:])
    assert ELU(alpha=2.0).get_config()["alpha"] == 2.0


def test_prelu_learns_one_slope_per_input_value_by_default():
    layer = PReLU()
    out = layer(np.ones((2, 3, 4), "float32") * -1)
    assert tuple(layer.alpha.shape) == (3, 4)
    assert layer.count_params() == 12
    np.testing.assert_array_equal(numpy_of(out), 0.0)  # alpha starts at zero


def test_prelu_shared_axes_give_one_slope_per_channel():
    layer = PReLU(
        alpha_initializer=lamina.initializers.Constant(0.25), shared_axes=[1, 2]
    )
    x = np.array([[[[-4.0, 4.0]]]], "float32")  # (1, 1, 1, 2)
    out = layer(np.broadcast_to(x, (2, 3, 5, 2)).copy())
    assert tuple(layer.alpha.shape) == (1, 1, 2)
    np.testing.assert_allclose(numpy_of(out)[0, 0, 0], [-1.0, 4.0])
    assert layer(lamina.Input((7, 9, 2))).shape == (None, 7, 9, 2)


def test_prelu_alpha_is_trained():
    layer = PReLU(alpha_initializer=lamina.initializers.Constant(0.5))
    x = torch.tensor([[-2.0, 3.0]])
    layer(x).sum().backward()
    np.testing.assert_allclose(numpy_of(layer.alpha.grad), [-2.0, 0.0])


def test_prelu_bad_shared_axes_and_unknown_sizes_are_explained():
    with pytest.raises(ValueError, match=r"shared_axes=\[0\].*\[1, 3\)"):
        PReLU(shared_axes=0)(np.ones((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="known size"):
        PReLU()(lamina.Input((None, 4)))
    assert PReLU(shared_axes=1)(lamina.Input((None, 4))).shape == (None, None, 4)


def test_prelu_config_round_trip():
    layer = PReLU(
        alpha_initializer="ones",
        alpha_regularizer="l2",
        alpha_constraint="non_neg",
        shared_axes=(1,),
    )
    config = layer.get_config()
    assert config["shared_axes"] == [1]
    assert PReLU.from_config(config).get_config() == config


def test_softmax_sums_to_one_over_the_axis():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype("float32")
    np.testing.assert_allclose(numpy_of(Softmax()(x)).sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(numpy_of(Softmax(axis=1)(x)).sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        numpy_of(Softmax(axis=[1, 2])(x)).sum((1, 2)), 1.0, rtol=1e-6
    )


def test_softmax_mask_zeroes_masked_positions_even_whole_rows():
    x = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    mask = torch.tensor([[1, 0, 1], [0, 0, 0]])  # non-bool masks: > 0.5 keeps
    out = numpy_of(Softmax()(x, mask=mask))
    e = np.exp([1.0, 3.0])
    np.testing.assert_allclose(
        out, [[e[0] / e.sum(), 0, e[1] / e.sum()], [0, 0, 0]], rtol=1e-6
    )


def test_softmax_broadcasts_an_attention_style_mask():
    scores = torch.zeros(2, 3, 4)
    mask = torch.tensor([[True, True, False, False]]).expand(2, 1, 4)  # (2, 1, 4)
    out = numpy_of(Softmax()(scores, mask=mask))
    np.testing.assert_allclose(out[:, :, :2], 0.5)
    np.testing.assert_array_equal(out[:, :, 2:], 0.0)


def test_softmax_float16_uses_a_representable_large_negative():
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float16)
    out = Softmax(dtype="float16")(x, mask=torch.tensor([[True, False]]))
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(numpy_of(out.float()), [[1.0, 0.0]])


def test_softmax_mask_that_does_not_broadcast_is_explained():
    with pytest.raises(ValueError, match=r"broadcasts.*\(2, 3\).*\(2, 3, 4\)"):
        Softmax()(torch.zeros(2, 3, 4), mask=torch.ones(2, 3, dtype=torch.bool))


@pytest.mark.parametrize(
    "layer", [ReLU(6.0, 0.1, 0.5), LeakyReLU(0.2), ELU(0.5), Softmax(axis=[1, 2])]
)
def test_activation_layer_configs_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    assert layer(lamina.Input((3, 4))).shape == (None, 3, 4)


def test_activation_layers_train_in_a_sequential_model():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = lamina.Sequential(
        [
            lamina.Input((6,)),
            layers.Dense(8),
            ReLU(max_value=6.0),
            layers.Dense(8),
            LeakyReLU(),
            layers.Dense(8),
            PReLU(),
            layers.Dense(8),
            ELU(),
            layers.Dense(2),
            Softmax(),
        ]
    )
    model.compile(lamina.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
