import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def regression(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype("float32")
    return x, (x @ rng.standard_normal((8, 1))).astype("float32")


@pytest.mark.parametrize(
    "policy,compute",
    [("mixed_bfloat16", torch.bfloat16), ("mixed_float16", torch.float16)],
)
def test_mixed_policy_keeps_float32_weights_and_computes_low_precision(policy, compute):
    lamina.mixed_precision.set_global_policy(policy)
    assert lamina.mixed_precision.global_policy().name == policy
    layer = layers.Dense(4)
    out = layer(np.ones((2, 8), "float32"))
    assert layer.kernel.dtype == torch.float32
    assert out.dtype == compute
    assert layer.compute_dtype == policy.split("_")[1]
    assert layer.get_config()["dtype"]["config"]["name"] == policy


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_fit_trains_under_mixed_precision(policy):
    lamina.mixed_precision.set_global_policy(policy)
    x, y = regression()
    model = lamina.Sequential(
        [lamina.Input((8,)), layers.Dense(16, "relu"), layers.Dense(1)]
    )
    model.compile(lamina.optimizers.Adam(0.01), "mse", metrics=["mae"])
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert isinstance(model.evaluate(x, y, verbose=0)[0], float)
    assert model.predict(x[:3], verbose=0).shape == (3, 1)
    if policy == "mixed_float16":
        # As in Keras, compile wrapped the optimizer, which now scales the loss.
        assert isinstance(model.optimizer, lamina.optimizers.LossScaleOptimizer)
        assert float(model.optimizer.dynamic_scale) > 1


def test_float16_loss_scale_skips_steps_with_overflowing_gradients():
    scale = lamina.mixed_precision.DynamicLossScale(
        initial_scale=8.0, growth_interval=2
    )
    param = torch.nn.Parameter(torch.ones(2))
    param.grad = torch.tensor([float("inf"), 1.0])
    assert not scale.unscale_and_check([param]) and scale.scale == 4.0
    param.grad = torch.tensor([4.0, 8.0])
    assert scale.unscale_and_check([param])
    np.testing.assert_allclose(param.grad.numpy(), [1.0, 2.0])
    param.grad = torch.tensor([4.0, 8.0])
    assert scale.unscale_and_check([param]) and scale.scale == 8.0


def test_policy_is_reset_to_float32_by_none():
    lamina.mixed_precision.set_global_policy("mixed_bfloat16")
    lamina.mixed_precision.set_global_policy(None)
    assert layers.Dense(1).compute_dtype == "float32"


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="mixed_float16"):
        lamina.mixed_precision.set_global_policy("mixed_int8")
