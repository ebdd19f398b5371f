import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.backend import convert_to_numpy  # noqa: E402
from lamina.layers.preprocessing.normalization import Normalization  # noqa: E402

DATA = np.random.default_rng(5).normal(3.0, 2.0, size=(6, 4, 3)).astype("float32")


@pytest.mark.parametrize(
    "kwargs", [{}, {"axis": None}, {"axis": (1, 2)}, {"axis": (-1, 1), "invert": True}]
)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_adapt_matches_keras(kwargs, as_tensor):
    data = torch.tensor(DATA) if as_tensor else DATA
    k_layer, l_layer = keras.layers.Normalization(**kwargs), Normalization(**kwargs)
    k_layer.adapt(data)
    l_layer.adapt(data)
    k_weights = [convert_to_numpy(v.value) for v in k_layer.weights]
    l_weights = l_layer.get_weights()
    assert [w.shape for w in l_weights] == [w.shape for w in k_weights]
    assert [w.dtype for w in l_weights] == [w.dtype for w in k_weights]
    for ours, theirs in zip(l_weights, k_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(
        convert_to_numpy(l_layer(DATA)),
        convert_to_numpy(k_layer(DATA)),
        rtol=1e-5,
        atol=1e-5,
    )
    assert l_layer.get_build_config() == k_layer.get_build_config()
    k_config, l_config = k_layer.get_config(), l_layer.get_config()
    assert {k: v for k, v in l_config.items() if k not in ("name", "dtype")} == {
        k: v for k, v in k_config.items() if k not in ("name", "dtype")
    }


def test_given_statistics_match_keras():
    kwargs = {"mean": [1.0, 2.0, 3.0], "variance": [4.0, 9.0, 0.25]}
    k_layer, l_layer = keras.layers.Normalization(**kwargs), Normalization(**kwargs)
    np.testing.assert_allclose(
        convert_to_numpy(l_layer(DATA)), convert_to_numpy(k_layer(DATA)), rtol=1e-6
    )
    assert l_layer.get_config()["mean"] == k_layer.get_config()["mean"]
    assert l_layer.weights == [] and k_layer.weights == []
