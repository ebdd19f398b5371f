"""`Model.from_config` on a functional config, and `Sequential.outputs`, as in
Keras 3."""

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.models.functional import Functional


def _functional():
    inputs = lamina.Input((3,), name="x")
    return lamina.Model(inputs, layers.Dense(2, name="head")(inputs), name="net")


def test_model_from_config_rebuilds_a_functional_graph():
    model = _functional()
    clone = lamina.Model.from_config(model.get_config())
    assert isinstance(clone, Functional)
    assert clone.name == "net"
    assert [layer.name for layer in clone.layers] == ["x", "head"]
    clone.set_weights(model.get_weights())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_sequential_outputs_once_it_has_an_input():
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])
    assert [tuple(t.shape) for t in model.outputs] == [(None, 2)]
    assert model.outputs[0] is model.output
    # Keras 3: an unbuilt Sequential has no outputs attribute yet.
    with pytest.raises(AttributeError):
        _ = lamina.Sequential([layers.Dense(2)]).outputs


def test_a_subclass_taking_args_and_kwargs_is_revived_as_a_graph():
    class Passthrough(lamina.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    clone = Passthrough.from_config(_functional().get_config())
    assert isinstance(clone, Passthrough) and isinstance(clone, Functional)
    assert tuple(clone.outputs[0].shape) == (None, 2)
