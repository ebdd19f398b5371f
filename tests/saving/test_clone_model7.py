"""clone_model as Keras 3: functional models rebuilt layer by layer (custom
layers need no registration), clone_function / call_function / input_tensors /
recursive, and compiled models give compiled clones."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

import lamina
from lamina.saving import clone_model


class Scale(lamina.layers.Layer):  # deliberately not registered
    def __init__(self, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.k = k

    def call(self, x):
        return x * self.k

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def _functional():
    inp = lamina.Input((3,), name="x")
    out = Scale(3.0)(lamina.layers.Dense(4)(inp))
    return lamina.Model(inp, out, name="net")


def test_functional_models_with_unregistered_layers_clone():
    model = _functional()
    clone = clone_model(model)
    assert [layer.name for layer in clone.layers] == ["x", "dense", "scale"]
    assert clone.name == "net" and clone.layers[2].k == 3.0
    assert clone.layers[1] is not model.layers[1]
    assert clone.output_shape == (None, 4)


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_compiled_model_gives_a_compiled_clone_with_its_own_optimizer(kind):
    if kind == "sequential":
        model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    else:
        model = _functional()
    model.compile(lamina.optimizers.SGD(0.5), "mse", metrics=["mae"])
    clone = clone_model(model)
    assert clone.compiled and clone.optimizer is not model.optimizer
    assert type(clone.optimizer).__name__ == "SGD"
    assert float(clone.optimizer.learning_rate) == pytest.approx(0.5)
    x = np.ones((4, 3), "float32")
    logs = clone.evaluate(x, clone.predict(x, verbose=0), return_dict=True, verbose=0)
    assert set(logs) == {"loss", "mae"}


def test_call_function_inserts_layers_and_identity_clone_reuses_them():
    model = _functional()

    def call_function(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        if isinstance(layer, lamina.layers.Dense):
            out = lamina.layers.Dropout(0.5)(out)
        return out

    clone = clone_model(
        model, clone_function=lambda layer: layer, call_function=call_function
    )
    assert [type(layer).__name__ for layer in clone.layers] == [
        "InputLayer",
        "Dense",
        "Dropout",
        "Scale",
    ]
    assert clone.layers[1] is model.layers[1]


def test_input_tensors_and_errors():
    model = _functional()
    start = lamina.Input((3,), name="new_in")
    assert clone_model(model, input_tensors=start).inputs[0].name == "new_in"
    with pytest.raises(ValueError, match="structure of the model's inputs"):
        clone_model(model, input_tensors=[start, lamina.Input((3,))])
    sequential = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    with pytest.raises(ValueError, match="functional models only"):
        clone_model(sequential, call_function=lambda layer, *a, **k: layer(*a, **k))
    with pytest.raises(ValueError, match="unexpected keyword"):
        clone_model(model, foo=1)


def test_shared_layers_stay_shared_and_recursive_clones_nested_models():
    inner = lamina.Sequential(
        [lamina.Input((3,)), lamina.layers.Dense(3)], name="inner"
    )
    inp = lamina.Input((3,))
    dense = lamina.layers.Dense(3)
    outer = lamina.Model(inp, lamina.layers.Dense(1)(inner(dense(dense(inp)))))
    clone = clone_model(outer)
    assert clone.layers[1] is not dense and len(clone.layers) == len(outer.layers)
    assert type(clone.layers[2]).__name__ == "Sequential"
    reused = clone_model(outer, recursive=True, clone_function=lambda layer: layer)
    assert reused.layers[2] is not inner  # rebuilt, its layers reused
    assert reused.layers[2].layers[0] is inner.layers[0]
    assert reused.layers[3] is outer.layers[3]


def test_matches_keras_structure():
    keras = pytest.importorskip("keras")

    def describe(lib, model):
        clone = lib.models.clone_model(model)
        return (
            type(clone).__name__,
            clone.name,
            [layer.name for layer in clone.layers],
            clone.inputs[0].name,
            bool(clone.compiled),
        )

    results = []
    for lib in (keras, lamina):
        inp = lib.Input((3,), name="x")
        model = lib.Model(inp, lib.layers.Dense(4, name="d")(inp), name="net")
        model.compile("adam", "mse")
        results.append(describe(lib, model))
    assert results[0] == results[1]
