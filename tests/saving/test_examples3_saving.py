"""Found running Keras's serialization guide and quantization recipe on lamina:
Layer's own save_own_variables/load_own_variables, plain strings through
deserialize_keras_object, and a failed load that retries objects."""

import os

import numpy as np
import pytest

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


class _ExtraVariableDense(layers.Dense):
    """The guide's pattern: save the base layer's variables, then one more."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.extra = lamina.Variable(np.zeros((units,)), name="extra", dtype="float32")

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["extra"] = self.extra.numpy()

    def load_own_variables(self, store):
        # Not `enumerate(self.weights)`: Dense files hold kernel and bias only,
        # while `weights` starts with `extra` (made first); Keras fails too.
        super().load_own_variables(store)
        self.extra.assign(store["extra"])

    def call(self, inputs):
        return super().call(inputs) + self.extra


def test_layer_has_keras_save_and_load_own_variables():
    layer = layers.Dense(2)
    layer.build((None, 3))
    store = {}
    layer.save_own_variables(store)
    assert sorted(store) == ["0", "1"]
    np.testing.assert_array_equal(np.asarray(store["0"]), layer.kernel.numpy())
    other = layers.Dense(2)
    other.build((None, 3))
    other.load_own_variables({k: np.asarray(v) for k, v in store.items()})
    np.testing.assert_array_equal(other.kernel.numpy(), layer.kernel.numpy())
    with pytest.raises(ValueError, match="has 2 variables"):
        other.load_own_variables({"0": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="shape"):
        other.load_own_variables({"0": np.zeros((4, 2)), "1": np.zeros((2,))})


def test_override_calling_super_round_trips_through_a_keras_file(tmp_path):
    model = lamina.Sequential([lamina.Input((4,)), _ExtraVariableDense(1)])
    model.layers[0].extra.assign(np.full((1,), 3.0, "float32"))
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    expected = model.predict(x, verbose=0)
    path = tmp_path / "extra.keras"
    model.save(path)
    restored = lamina.models.load_model(
        path, custom_objects={"_ExtraVariableDense": _ExtraVariableDense}
    )
    np.testing.assert_allclose(restored.layers[0].extra.numpy(), [3.0])
    np.testing.assert_allclose(restored.predict(x, verbose=0), expected, rtol=1e-6)


def test_unknown_plain_string_deserializes_to_itself():
    # Keras returns a name it cannot resolve as the plain string it is (the
    # guide's compile_from_config relies on it for "SGD").
    for name in ("SGD", "mean_squared_error", "anything"):
        assert lamina.utils.deserialize_keras_object(name) == name
    # Within a family (module_objects) an unknown name still fails clearly.
    with pytest.raises(ValueError, match="nope"):
        lamina.activations.get("nope")


def test_failed_load_of_a_used_layer_reports_instead_of_recursing(tmp_path):
    # A layer that has run caches its device probe, (itself, "name"); a layer
    # whose load failed is retried at later paths and must not walk into it.
    inputs = lamina.Input((3,))
    outputs = layers.Dense(2, name="head")(layers.Dense(4, name="body")(inputs))
    model = lamina.Model(inputs, outputs)
    model.predict(np.ones((1, 3)), verbose=0)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    body = layers.Dense(5, name="body")
    for _ in range(2):  # the second eager call caches the probe
        body(lamina.ops.ones((1, 3)))
    assert body.__dict__.get("_device_probe", (None,))[0] is body
    inputs = lamina.Input((3,))
    other = lamina.Model(inputs, layers.Dense(2, name="head")(body(inputs)))
    with pytest.raises(ValueError, match="shape"):
        other.load_weights(path)
