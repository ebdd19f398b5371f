"""A Model subclass whose `__init__(**kwargs)` builds its own graph ("functional
subclassing", packaging_keras_models_for_wide_distribution) saves a plain layer
config and is rebuilt by calling the class, as in Keras."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina


def _make_class(lib):
    class TinyNet(lib.Model):
        def __init__(self, **kwargs):
            inputs = {
                "image": lib.layers.Input(shape=(4,), dtype="uint8", name="image")
            }
            x = lib.layers.Rescaling(1 / 255.0)(inputs["image"])
            outputs = lib.layers.Dense(3, name="head")(x)
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    return TinyNet


def test_config_is_plain_and_round_trips_like_keras(tmp_path):
    keras = pytest.importorskip("keras")
    want = _make_class(keras)(name="net").get_config()
    cls = _make_class(lamina)
    model = cls(name="net")
    config = model.get_config()
    assert sorted(config) == sorted(want) == ["dtype", "name", "trainable"]
    assert config["name"] == "net"

    rebuilt = cls.from_config(config)
    assert type(rebuilt) is cls and rebuilt.name == "net"

    x = {"image": np.arange(8, dtype=np.uint8).reshape(2, 4)}
    path = str(tmp_path / "net.keras")
    model.save(path)
    loaded = lamina.saving.load_model(path, custom_objects={"TinyNet": cls})
    assert type(loaded) is cls
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


def test_functional_like_constructors_keep_the_graph_config():
    class PassThrough(lamina.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    inputs = lamina.Input((2,))
    model = PassThrough(inputs, lamina.layers.Dense(1, name="d")(inputs))
    config = model.get_config()
    assert {"layers", "input_layers", "output_layers"} <= set(config)
    rebuilt = PassThrough.from_config(config)
    assert type(rebuilt) is PassThrough
    assert [layer.name for layer in rebuilt.layers][-1] == "d"

    plain = lamina.Model(inputs, lamina.layers.Dense(1)(inputs))
    assert "layers" in plain.get_config()
