import numpy as np
import pytest
import torch

import lamina
from lamina.layers.preprocessing.normalization import Normalization
from lamina.layers.preprocessing.rescaling import Rescaling

DATA = np.array([[0.0, 10.0], [2.0, 30.0], [4.0, 20.0]], "float32")


def _np(x):
    return x.detach().cpu().numpy()


def test_adapt_learns_mean_and_variance_per_feature():
    layer = Normalization()
    layer.adapt(DATA)
    np.testing.assert_allclose(_np(layer.adapt_mean), [2.0, 20.0])
    np.testing.assert_allclose(_np(layer.adapt_variance), [8 / 3, 200 / 3], rtol=1e-6)
    out = _np(layer(DATA))
    np.testing.assert_allclose(out.mean(0), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out.std(0), [1.0, 1.0], rtol=1e-5)


def test_weights_are_keras_non_trainable_mean_variance_count():
    layer = Normalization()
    layer.adapt(DATA)
    assert [(w.path, tuple(w.shape), str(w.dtype)) for w in layer.weights] == [
        ("normalization/mean", (2,), "torch.float32"),
        ("normalization/variance", (2,), "torch.float32"),
        ("normalization/count", (), "torch.int32"),
    ]
    assert layer.trainable_weights == []
    assert layer.get_build_config() == {"input_shape": (3, 2)}


def test_axis_none_uses_one_mean_for_everything():
    layer = Normalization(axis=None)
    layer.adapt(DATA)
    assert tuple(layer.adapt_mean.shape) == ()
    np.testing.assert_allclose(float(layer.adapt_mean), DATA.mean(), rtol=1e-6)


def test_several_kept_axes():
    x = np.random.default_rng(0).normal(size=(6, 3, 4)).astype("float32")
    layer = Normalization(axis=(1, 2))
    layer.adapt(x)
    np.testing.assert_allclose(_np(layer.adapt_mean), x.mean(0), rtol=1e-5, atol=1e-6)
    assert tuple(layer.mean.shape) == (1, 3, 4)


def test_batches_tensors_and_xy_tuples_give_the_same_statistics():
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(10, 3)).astype("float32")
    whole = Normalization()
    whole.adapt(x)
    for data in (
        [x[:4], x[4:7], x[7:]],
        ((x[i : i + 5], None) for i in (0, 5)),
        torch.tensor(x),
        torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.tensor(x), torch.zeros(10)),
            batch_size=3,
        ),
    ):
        layer = Normalization()
        layer.adapt(data)
        np.testing.assert_allclose(
            _np(layer.adapt_mean), _np(whole.adapt_mean), rtol=1e-5
        )
        np.testing.assert_allclose(
            _np(layer.adapt_variance), _np(whole.adapt_variance), rtol=1e-5
        )


def test_given_statistics_broadcast_and_invert():
    layer = Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    out = _np(layer(np.array([[3.0, 8.0]], "float32")))
    np.testing.assert_allclose(out, [[1.0, 2.0]])
    assert layer.weights == []
    scalar = Normalization(mean=5.0, variance=4.0)
    np.testing.assert_allclose(
        _np(scalar(np.array([[7.0, 1.0]], "float32"))), [[1.0, -2.0]]
    )
    back = Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    np.testing.assert_allclose(_np(back(out)), [[3.0, 8.0]])


def test_zero_variance_divides_by_epsilon_not_zero():
    layer = Normalization(mean=1.0, variance=0.0)
    out = _np(layer(np.array([[1.0]], "float32")))
    assert np.isfinite(out).all()


def test_config_round_trip_and_symbolic_call():
    layer = Normalization(axis=(1,), mean=[0.0, 1.0], variance=[1.0, 4.0], invert=True)
    config = layer.get_config()
    assert (config["axis"], config["mean"], config["invert"]) == (
        (1,),
        [0.0, 1.0],
        True,
    )
    assert Normalization.from_config(config).get_config() == config
    assert Normalization()(lamina.Input((4,))).shape == (None, 4)


def test_adapted_layer_in_a_model_is_not_trained():
    norm = Normalization()
    norm.adapt(DATA)
    model = lamina.Sequential([lamina.Input((2,)), norm, lamina.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(DATA, np.ones((3, 1), "float32"), epochs=2, verbose=0)
    np.testing.assert_allclose(_np(norm.adapt_mean), [2.0, 20.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mean": 1.0}, "both `mean` and `variance`"),
        ({"mean": [1.0, 2.0], "variance": [1.0]}, "same shape"),
        ({"axis": -1, "mean": np.ones((2, 2)), "variance": np.ones((2, 2))}, "rank"),
    ],
)
def test_rejects_bad_statistics(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Normalization(**kwargs)


def test_rejects_bad_axis_and_mismatched_adapt_data():
    with pytest.raises(ValueError, match="axis"):
        Normalization(axis=3)(DATA)
    layer = Normalization()
    layer.adapt(DATA)
    with pytest.raises(ValueError, match="kept axes"):
        layer.adapt(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match="nothing to adapt"):
        Normalization(mean=0.0, variance=1.0).adapt(DATA)


def test_rescaling_scales_and_offsets():
    out = Rescaling(1 / 127.5, offset=-1.0)(np.array([[0, 255]], "uint8"))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(_np(out), [[-1.0, 1.0]])
    per_channel = Rescaling(scale=np.array([1.0, 2.0]), offset=np.array([0.0, 1.0]))
    np.testing.assert_allclose(
        _np(per_channel(np.ones((1, 2), "float32"))), [[1.0, 3.0]]
    )
    config = per_channel.get_config()
    assert config["scale"]["class_name"] == "__numpy__"
    clone = Rescaling.from_config(config)
    np.testing.assert_allclose(clone.scale, [1.0, 2.0])
