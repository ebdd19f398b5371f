"""Layers held in a dict whose keys contain "." (FeatureSpace features such as
"nr.employed" in feature_space_advanced) are tracked like any other sublayer."""

import numpy as np

import lamina
from lamina import layers
from lamina.utils import FeatureSpace


class Heads(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.heads = {"emp.var.rate": layers.Dense(2), "plain": layers.Dense(3)}

    def call(self, x):
        return {k: head(x) for k, head in self.heads.items()}


def test_dotted_keys_are_tracked_and_saved(tmp_path):
    layer = Heads()
    out = layer(np.ones((1, 4), "float32"))
    assert sorted(out) == ["emp.var.rate", "plain"]
    assert isinstance(layer.heads, dict) and "emp.var.rate" in layer.heads
    assert len(layer.weights) == 4 and len(layer.trainable_weights) == 4
    assert len(list(layer.parameters())) == 4  # torch sees them too
    assert layer.heads["emp.var.rate"] in layer._layers

    inputs = lamina.Input((4,))
    model = lamina.Model(inputs, layer(inputs))
    path = str(tmp_path / "heads.weights.h5")
    model.save_weights(path)
    other_layer = Heads()
    other = lamina.Model(inputs, other_layer(inputs))
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_feature_space_with_dotted_feature_names_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    data = {
        "nr.employed": 5000 + rng.random(16) * 200,
        "job.kind": rng.choice(["a", "b", "c"], 16),
    }
    space = FeatureSpace(
        features={
            "nr.employed": FeatureSpace.float_normalized(),
            "job.kind": FeatureSpace.string_categorical(num_oov_indices=0),
        },
        output_mode="concat",
    )
    space.adapt(data)
    encoded = lamina.ops.convert_to_numpy(space(data))
    assert encoded.shape == (16, 4)
    column = data["nr.employed"]
    normalized = sorted(
        range(4), key=lambda j: -abs(np.corrcoef(encoded[:, j], column)[0, 1])
    )[0]
    np.testing.assert_allclose(
        encoded[:, normalized], (column - column.mean()) / column.std(), rtol=1e-3
    )

    path = str(tmp_path / "space.keras")
    space.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(loaded(data)), encoded, rtol=1e-6
    )
