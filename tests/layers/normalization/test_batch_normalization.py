import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.layers.normalization.batch_normalization import BatchNormalization

RNG = np.random.default_rng(0)


def numpy_of(t):
    return t.detach().cpu().numpy()


def reference_train(x, axis, gamma, beta, eps):
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[axis] = -1
    out = (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)
    return out, mean.reshape(-1), var.reshape(-1)


@pytest.mark.parametrize(
    "shape, axis",
    [
        ((6, 3), -1),
        ((4, 5, 3), -1),
        ((2, 4, 4, 3), -1),
        ((2, 3, 4, 4), 1),
        ((2, 4, 3, 5), 2),
        ((2, 3, 2, 2, 2), -1),
    ],
)
def test_training_uses_batch_statistics_and_updates_moving_ones(shape, axis):
    x = RNG.standard_normal(shape).astype("float32") * 2 + 1
    layer = BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3)
    layer(x)  # build
    gamma = RNG.uniform(0.5, 1.5, shape[axis]).astype("float32")
    beta = RNG.uniform(-1, 1, shape[axis]).astype("float32")
    mm = RNG.uniform(-1, 1, shape[axis]).astype("float32")
    mv = RNG.uniform(0.5, 2, shape[axis]).astype("float32")
    layer.set_weights([gamma, beta, mm, mv])
    out = layer(x, training=True)
    expected, mean, var = reference_train(x, axis, gamma, beta, 1e-3)
    np.testing.assert_allclose(numpy_of(out), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        numpy_of(layer.moving_mean), 0.9 * mm + 0.1 * mean, rtol=1e-5, atol=1e-6
    )
    # The biased (divide-by-N) variance, as Keras uses, not torch's unbiased one.
    np.testing.assert_allclose(
        numpy_of(layer.moving_variance), 0.9 * mv + 0.1 * var, rtol=1e-5, atol=1e-6
    )
    assert out.shape == x.shape


def test_inference_uses_moving_statistics_and_leaves_them_alone():
    x = RNG.standard_normal((5, 3)).astype("float32")
    layer = BatchNormalization(epsilon=0.0)
    layer(x)
    layer.set_weights(
        [np.full(3, 2.0), np.full(3, 1.0), np.full(3, 0.5), np.full(3, 4.0)]
    )
    out = layer(x, training=False)
    np.testing.assert_allclose(numpy_of(out), (x - 0.5) / 2.0 * 2.0 + 1.0, rtol=1e-6)
    np.testing.assert_allclose(numpy_of(layer.moving_mean), 0.5)
    np.testing.assert_allclose(numpy_of(layer.moving_variance), 4.0)


def test_frozen_layer_runs_in_inference_mode_even_when_training():
    x = RNG.standard_normal((8, 3)).astype("float32") + 5
    layer = BatchNormalization()
    layer(x)
    layer.trainable = False
    out = layer(x, training=True)
    np.testing.assert_allclose(numpy_of(out), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(numpy_of(layer.moving_mean), 0.0)
    assert layer.trainable_weights == []


def test_weights_are_gamma_beta_moving_mean_moving_variance():
    layer = BatchNormalization()
    layer(np.zeros((2, 4), "float32"))
    assert [w.path for w in layer.weights] == [
        f"{layer.name}/gamma",
        f"{layer.name}/beta",
        f"{layer.name}/moving_mean",
        f"{layer.name}/moving_variance",
    ]
    assert len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 2
    assert layer.count_params() == 16


def test_center_and_scale_off_leave_only_the_moving_statistics():
    layer = BatchNormalization(center=False, scale=False)
    x = RNG.standard_normal((6, 2)).astype("float32")
    out = layer(x, training=True)
    assert [w.path.split("/")[1] for w in layer.weights] == [
        "moving_mean",
        "moving_variance",
    ]
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(numpy_of(out), expected, rtol=1e-5, atol=1e-6)


def test_gradients_reach_gamma_beta_and_inputs():
    x = torch.randn(6, 3, requires_grad=True)
    layer = BatchNormalization()
    out = layer(x, training=True)
    (out * torch.arange(3.0, device=out.device)).sum().backward()
    assert x.grad is not None and layer.gamma.grad is not None
    np.testing.assert_allclose(numpy_of(layer.beta.grad), [6.0 * 0, 6.0, 12.0])
    assert layer.moving_mean.grad is None


def test_mask_excludes_masked_steps_from_the_statistics():
    x = RNG.standard_normal((2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], bool)
    layer = BatchNormalization(momentum=0.0)
    layer(x)
    out = layer(x, training=True, mask=torch.as_tensor(mask))
    kept = x[mask]  # (5, 3)
    np.testing.assert_allclose(numpy_of(layer.moving_mean), kept.mean(0), rtol=1e-5)
    np.testing.assert_allclose(numpy_of(layer.moving_variance), kept.var(0), rtol=1e-5)
    expected = (x - kept.mean(0)) / np.sqrt(kept.var(0) + 1e-3)
    np.testing.assert_allclose(numpy_of(out), expected, rtol=1e-4, atol=1e-5)


def test_mask_travels_through_the_layer():
    x = torch.ones(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    out = BatchNormalization()(x)
    assert torch.equal(out._keras_mask.cpu(), x._keras_mask)


def test_mask_of_the_wrong_rank_is_refused():
    layer = BatchNormalization()
    with pytest.raises(ValueError, match="one axis fewer"):
        layer(torch.ones(2, 3, 4), training=True, mask=torch.ones(2, 3, 4).bool())


def test_single_value_per_channel_gives_beta_like_keras():
    layer = BatchNormalization()
    out = layer(np.array([[1.0, 2.0]], "float32"), training=True)
    np.testing.assert_allclose(numpy_of(out), [[0.0, 0.0]])
    np.testing.assert_allclose(numpy_of(layer.moving_mean), [0.01, 0.02], rtol=1e-6)
    np.testing.assert_allclose(numpy_of(layer.moving_variance), [0.99, 0.99], rtol=1e-6)


def test_half_precision_inputs_are_computed_in_float32():
    layer = BatchNormalization(dtype="mixed_bfloat16")
    x = torch.randn(8, 4) * 100
    out = layer(x, training=True)
    assert out.dtype == torch.bfloat16
    assert layer.moving_mean.dtype == torch.float32
    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-3)
    np.testing.assert_allclose(numpy_of(out.float()), numpy_of(expected), atol=0.05)


def test_renorm_adds_three_statistics_and_updates_them():
    layer = BatchNormalization(
        renorm=True, renorm_clipping={"rmax": 3.0}, momentum=0.5, renorm_momentum=0.5
    )
    x = np.array([[0.0], [2.0]], "float32")  # mean 1, variance 1
    out = layer(x, training=True)
    names = [w.path.split("/")[1] for w in layer.weights]
    assert names == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
        "moving_stddev",
        "renorm_mean",
        "renorm_stddev",
    ]
    # r = stddev / 1 and d = (1 - 0) / 1 are folded into gamma and beta.
    std = np.sqrt(1 + 1e-3)
    # atol: the first value is 0 up to float32 rounding (one ulp of 1.0 on CUDA).
    np.testing.assert_allclose(
        numpy_of(out).ravel(),
        [-1 / std * std + 1, 1 / std * std + 1],
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(numpy_of(layer.moving_mean), [0.5])
    np.testing.assert_allclose(
        numpy_of(layer.moving_stddev), [(1 + std) / 2], rtol=1e-6
    )
    np.testing.assert_allclose(
        numpy_of(layer.moving_variance), [((1 + std) / 2) ** 2 - 1e-3], rtol=1e-6
    )


@pytest.mark.parametrize("clipping", [{"rmx": 1}, {"rmax": 1, "rmin": 2}, {"dmax": -1}])
def test_bad_renorm_clipping_is_refused(clipping):
    with pytest.raises(ValueError, match="renorm_clipping"):
        BatchNormalization(renorm=True, renorm_clipping=clipping)


def test_axis_out_of_range_is_a_friendly_error():
    layer = BatchNormalization(axis=3)
    with pytest.raises(ValueError, match=r"axis=3.*out of range.*\(None, 4\)"):
        layer(lamina.Input((4,)))


def test_axis_must_be_an_int():
    with pytest.raises(TypeError, match="must be an int"):
        BatchNormalization(axis=[1, 2])


def test_synchronized_is_refused_with_an_explanation():
    with pytest.raises(ValueError, match="per replica"):
        BatchNormalization(synchronized=True)


def test_input_with_another_channel_count_names_the_layer():
    layer = BatchNormalization()
    layer(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="batch_normalization.*size 3"):
        layer(np.ones((2, 4), "float32"))


def test_symbolic_call_keeps_the_shape():
    out = BatchNormalization(axis=1)(lamina.Input((3, 5, 5)))
    assert out.shape == (None, 3, 5, 5)


def test_config_round_trip():
    layer = BatchNormalization(
        axis=1,
        momentum=0.9,
        epsilon=1e-4,
        center=False,
        gamma_initializer="he_normal",
        gamma_regularizer=lamina.regularizers.L2(0.1),
        beta_constraint="non_neg",
        renorm=True,
        renorm_clipping={"dmax": 2.0},
    )
    config = layer.get_config()
    assert config["momentum"] == 0.9 and config["renorm_clipping"] == {"dmax": 2.0}
    assert BatchNormalization.from_config(config).get_config() == config


def test_gamma_regularizer_adds_a_loss():
    layer = BatchNormalization(gamma_regularizer=lamina.regularizers.L2(0.5))
    layer(np.ones((2, 4), "float32"))
    np.testing.assert_allclose([float(v.detach()) for v in layer.losses], [2.0])


def test_trains_in_a_sequential_model_and_moves_its_statistics():
    x = RNG.standard_normal((64, 4)).astype("float32") * 3 + 2
    y = (x.sum(1, keepdims=True) > 8).astype("float32")
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            BatchNormalization(momentum=0.5),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(lamina.optimizers.SGD(0.5), "binary_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    bn = model.layers[0]
    np.testing.assert_allclose(numpy_of(bn.moving_mean), x.mean(0), atol=0.7)
    # predict() runs in inference mode: the moving statistics stay put.
    before = numpy_of(bn.moving_mean).copy()
    model.predict(x, verbose=0)
    np.testing.assert_array_equal(numpy_of(bn.moving_mean), before)


def test_a_layer_shared_by_two_branches_trains_in_one_backward_pass():
    layer = BatchNormalization()
    x = torch.randn(6, 3, requires_grad=True)
    out = layer(x, training=True) + layer(x * 2 + 1, training=True)
    out.square().sum().backward()
    assert x.grad is not None and layer.gamma.grad is not None
