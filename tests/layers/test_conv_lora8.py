"""LoRA on Conv1D / Conv2D / Conv3D, against Keras 3."""

import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")

CASES = [
    ("Conv1D", (None, 8, 4), {}),
    ("Conv2D", (None, 6, 6, 4), {"groups": 2}),
    ("Conv3D", (None, 4, 4, 4, 4), {"strides": 2}),
]


def _numpy(x):
    # A copy: a CPU tensor's .numpy() shares its memory.
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy().copy()
    return np.array(x)


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).random((2,) + shape[1:]).astype("float32")


@pytest.mark.parametrize("name,shape,kwargs", CASES)
def test_enable_lora_weights_and_outputs(name, shape, kwargs):
    layer = getattr(lamina.layers, name)(6, 2, **kwargs)
    layer.build(shape)
    x = _inputs(shape)
    before = _numpy(layer(x))
    layer.enable_lora(3, lora_alpha=1.5)
    assert layer.lora_enabled and layer.lora_rank == 3 and layer.lora_alpha == 1.5
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == [
        "bias",
        "lora_kernel_a",
        "lora_kernel_b",
    ]
    assert [w.path.split("/")[-1] for w in layer.non_trainable_weights] == ["kernel"]
    kernel_shape = tuple(layer.kernel.shape)
    assert tuple(layer.lora_kernel_a.shape) == kernel_shape[:-1] + (3,)
    assert tuple(layer.lora_kernel_b.shape) == (3, 6)
    assert str(layer.lora_kernel_a.dtype) == "torch.float32"
    # B starts at zero: nothing changes until training.
    np.testing.assert_allclose(_numpy(layer(x)), before, atol=1e-6)
    b = np.random.default_rng(2).normal(size=(3, 6)).astype("float32")
    layer.lora_kernel_b.assign(b)
    merged = _numpy(layer.kernel) + 0.5 * np.matmul(_numpy(layer.lora_kernel_a), b)
    plain = getattr(lamina.layers, name)(6, 2, **kwargs)
    plain.build(shape)
    plain.set_weights([merged, _numpy(layer.bias)])
    np.testing.assert_allclose(_numpy(layer(x)), _numpy(plain(x)), atol=1e-5)


def test_lora_trains_only_the_low_rank_pair():
    layer = lamina.layers.Conv2D(4, 3, lora_rank=2)
    model = lamina.Sequential([lamina.Input((5, 5, 3)), layer])
    kernel = _numpy(layer.kernel)
    a, b = _numpy(layer.lora_kernel_a), _numpy(layer.lora_kernel_b)
    model.compile(optimizer="sgd", loss="mse")
    x = _inputs((None, 5, 5, 3))
    model.fit(x, np.ones((2, 3, 3, 4)), epochs=2, batch_size=1, verbose=0)
    np.testing.assert_array_equal(_numpy(layer.kernel), kernel)
    assert np.abs(_numpy(layer.lora_kernel_b) - b).max() > 0
    assert np.abs(_numpy(layer.lora_kernel_a) - a).max() > 0


def test_lora_rank_argument_config_and_regularization():
    layer = lamina.layers.Conv2D(5, 3, kernel_regularizer="l2", lora_rank=2)
    layer.build((None, 5, 5, 4))
    assert layer.lora_enabled
    config = layer.get_config()
    assert config["lora_rank"] == 2 and config["lora_alpha"] == 2
    assert "lora_rank" not in lamina.layers.Conv2D(5, 3).get_config()
    # As in Keras: the frozen kernel is no longer penalized, A and B are.
    assert len(layer.losses) == 2
    clone = lamina.layers.Conv2D.from_config(config)
    clone.build((None, 5, 5, 4))
    assert clone.lora_enabled and clone.lora_rank == 2


def test_enable_lora_errors():
    layer = lamina.layers.Conv2D(4, 3)
    with pytest.raises(ValueError, match="isn't yet built"):
        layer.enable_lora(2)
    layer.build((None, 5, 5, 3))
    layer.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)
    constrained = lamina.layers.Conv2D(4, 3, kernel_constraint="non_neg")
    constrained.build((None, 5, 5, 3))
    with pytest.raises(ValueError, match="incompatible with kernel constraints"):
        constrained.enable_lora(2)
    fresh = lamina.layers.Conv1D(4, 3)
    fresh.build((None, 8, 3))
    with pytest.raises(ValueError, match="positive int"):
        fresh.enable_lora(0)
    with pytest.raises(ValueError, match="lora_rank"):
        lamina.layers.Conv2D(4, 3, lora_rank=-1)


def test_lora_files_hold_the_merged_kernel(tmp_path):
    layer = lamina.layers.Conv2D(4, 3, lora_rank=2)
    model = lamina.Sequential([lamina.Input((5, 5, 3)), layer])
    layer.lora_kernel_b.assign(np.ones((2, 4), "float32"))
    x = _inputs((None, 5, 5, 3))
    expected = _numpy(model(x))
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    plain = lamina.Sequential([lamina.Input((5, 5, 3)), lamina.layers.Conv2D(4, 3)])
    plain.load_weights(path)
    np.testing.assert_allclose(_numpy(plain(x)), expected, atol=1e-5)
    # A plain file loads into a LoRA model: base assigned, A and B zeroed.
    model.load_weights(path)
    assert not _numpy(layer.lora_kernel_b).any()
    np.testing.assert_allclose(_numpy(model(x)), expected, atol=1e-5)


def test_lora_model_files_cross_keras(tmp_path):
    keras = pytest.importorskip("keras")
    x = _inputs((None, 6, 6, 4))
    for source, target in ((keras, lamina), (lamina, keras)):
        layer = source.layers.Conv2D(3, 3, lora_rank=2, lora_alpha=4)
        model = source.Sequential([source.Input((6, 6, 4)), layer])
        layer.lora_kernel_b.assign(np.full((2, 3), 0.1, "float32"))
        path = str(tmp_path / f"{source.__name__}.keras")
        model.save(path)
        loaded = target.saving.load_model(path)
        assert loaded.layers[-1].lora_enabled
        assert loaded.layers[-1].lora_alpha == 4
        np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), atol=1e-5)
