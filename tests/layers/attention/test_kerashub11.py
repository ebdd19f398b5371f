"""Attention layers keep Keras's Softmax sublayer, so saved files and the
layer tree match Keras 3.15.1 (an empty `_softmax/vars` group)."""

import h5py
import numpy as np

import lamina
from lamina import layers


def _model():
    x = lamina.Input((4, 6))
    y = layers.MultiHeadAttention(2, 3, name="mha")(x, x)
    y = layers.GroupQueryAttention(8, 4, 2, name="gqa")(y, y)
    return lamina.Model(x, y)


def test_softmax_sublayers_as_keras():
    model = _model()
    mha, gqa = model.get_layer("mha"), model.get_layer("gqa")
    assert isinstance(mha._softmax, layers.Softmax)
    assert tuple(mha._softmax.axis) == (3,)  # the key axis of (B, H, T, S)
    assert isinstance(gqa._softmax, layers.Softmax) and gqa._softmax.axis == -1
    assert mha._softmax in mha._flatten_layers()
    assert not mha._softmax.weights


def test_weights_file_has_keras_softmax_groups(tmp_path):
    model = _model()
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        for owner in ("multi_head_attention", "grouped_query_attention"):
            group = f[f"layers/{owner}/_softmax/vars"]
            assert len(group) == 0
            assert group.attrs["name"].startswith("softmax")
    # Outputs are unchanged by the extra (uncalled) sublayer.
    x = np.random.default_rng(0).standard_normal((2, 4, 6)).astype("float32")
    before = lamina.ops.convert_to_numpy(model(x))
    other = _model()
    other.load_weights(path)
    np.testing.assert_allclose(lamina.ops.convert_to_numpy(other(x)), before, atol=1e-6)
