import numpy as np
import pytest

import lamina
from lamina import layers


class TwoLayers(lamina.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(8, activation="relu")
        self.out = layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


def test_subclassed_model_builds_on_call_and_tracks_sub_layers():
    model = TwoLayers()
    out = model(np.ones((4, 3), "float32"))
    assert out.shape == (4, 1)
    assert len(model.weights) == 4
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]


def test_subclassed_model_trains_with_fit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    model = TwoLayers()
    model.compile(optimizer=lamina.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


def test_build_with_shape_allows_summary_before_data():
    model = TwoLayers()
    model.build((None, 3))
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Total params: 41" in line for line in lines)


def test_positional_arguments_are_rejected_with_a_clear_message():
    with pytest.raises(TypeError, match="keyword arguments only"):
        lamina.Model("oops")
