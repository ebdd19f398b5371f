"""Once any layer has used add_loss, a compiled step walks the model's layers
for losses; that walk must trace without graph breaks (a Functional model's
`_layers` once did not, and split the step)."""

import numpy as np
import torch

import lamina
from lamina import layers
from lamina.layers import _layer_calls


def test_functional_model_compiles_whole_after_add_loss_was_used():
    used = _layer_calls._ADD_LOSS_USED[0]
    _layer_calls._ADD_LOSS_USED[0] = True  # as after any add_loss() call
    try:
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        inputs = lamina.Input((3,))
        hidden = layers.Dense(4, activation="relu")(inputs)
        outputs = {"a": layers.Dense(2)(hidden), "b": layers.Dense(1)(hidden)}
        model = lamina.Model(inputs, outputs)
        model.compile("sgd", {"a": "mse", "b": "mse"}, jit_compile=True)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(16, 3)).astype("float32")
        y = {"a": rng.normal(size=(16, 2)), "b": rng.normal(size=(16, 1))}
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        breaks = dict(torch._dynamo.utils.counters["graph_break"])
    finally:
        _layer_calls._ADD_LOSS_USED[0] = used
    assert np.isfinite(history.history["loss"]).all()
    assert not breaks, f"graph breaks in the compiled step: {breaks}"
