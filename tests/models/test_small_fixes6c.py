"""Regression tests for session 6c's functional-model fixes: tuple outputs, input
dtype casts, cloning Functional subclasses, shape inference of batch-picky ops."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops


def _two_output_model(outputs_as):
    inp = lamina.Input((3,))
    a = layers.Dense(2, name="a")(inp)
    b = layers.Dense(1, name="b")(inp)
    return lamina.Model(inp, outputs_as(a, b))


def test_tuple_outputs_stay_a_tuple_from_call_and_predict():
    model = _two_output_model(lambda a, b: (a, b))
    x = np.ones((4, 3), "float32")
    out = model(x)
    assert isinstance(out, tuple) and [tuple(o.shape) for o in out] == [(4, 2), (4, 1)]
    pred = model.predict(x, verbose=0)
    assert isinstance(pred, tuple) and [p.shape for p in pred] == [(4, 2), (4, 1)]
    assert isinstance(model.output, tuple)


def test_list_outputs_stay_a_list():
    model = _two_output_model(lambda a, b: [a, b])
    assert isinstance(model(np.ones((2, 3), "float32")), list)


@pytest.mark.parametrize("container", [tuple, list])
def test_tuple_outputs_train_with_loss_lists_and_tuples(container):
    model = _two_output_model(lambda a, b: (a, b))
    model.compile("sgd", loss=container(["mse", "mse"]), metrics=[["mae"], ["mae"]])
    x = np.ones((4, 3), "float32")
    history = model.fit(x, (np.ones((4, 2)), np.ones((4, 1))), verbose=0)
    assert sorted(history.history) == ["a_loss", "a_mae", "b_loss", "b_mae", "loss"]


@pytest.mark.parametrize(
    "input_dtype, data, expected",
    [
        ("float32", np.ones((2, 3), "int64"), torch.float32),
        ("float32", np.ones((2, 3), "float64"), torch.float32),
        ("float32", torch.ones(2, 3, dtype=torch.int64), torch.float32),
        ("int32", np.ones((2, 3), "int64"), torch.int32),
        ("int32", torch.ones(2, 3, dtype=torch.float64), torch.int32),
    ],
)
def test_functional_call_casts_data_to_the_input_dtype(input_dtype, data, expected):
    inp = lamina.Input((3,), dtype=input_dtype)
    model = lamina.Model(inp, layers.Identity()(inp))
    assert model(data).dtype == expected


def test_functional_predict_and_fit_cast_int_data_for_a_float_input():
    inp = lamina.Input((3,))
    model = lamina.Model(inp, layers.Dense(1)(inp))
    x = np.arange(12, dtype="int64").reshape(4, 3)
    assert model.predict(x, verbose=0).dtype == np.float32
    model.compile("sgd", "mse")
    history = model.fit(x, np.ones((4, 1), "float32"), verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_multi_input_dict_call_casts_each_input_to_its_dtype():
    a = lamina.Input((2,), name="a")
    b = lamina.Input((2,), name="b", dtype="int32")
    model = lamina.Model({"a": a, "b": b}, [layers.Identity()(a), layers.Identity()(b)])
    out = model({"a": np.ones((1, 2), "int64"), "b": np.ones((1, 2), "int64")})
    assert [o.dtype for o in out] == [torch.float32, torch.int32]


def test_sequential_casts_data_to_its_input_dtype():
    model = lamina.Sequential([lamina.Input((3,), dtype="int32"), layers.Identity()])
    assert model(np.ones((2, 3), "int64")).dtype == torch.int32
    built_from_data = lamina.Sequential([layers.Identity()])
    assert built_from_data(np.ones((2, 3), "int64")).dtype == torch.float32


class _SelfBuilt(lamina.Model):
    def __init__(self, units=3, **kwargs):
        inp = lamina.Input((4,))
        super().__init__(inp, layers.Dense(units, name="d")(inp), **kwargs)


def test_clone_model_of_a_self_building_functional_subclass_gives_a_functional():
    model = _SelfBuilt(name="net")
    clone = lamina.models.clone_model(model)
    assert type(clone) is lamina.models.Functional
    assert clone.name == "net" and clone.output_shape == (None, 3)
    assert clone.get_layer("d") is not model.get_layer("d")
    x = np.ones((2, 4), "float32")
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(clone(x)), ops.convert_to_numpy(model(x)), rtol=1e-6
    )


def test_clone_model_keeps_shared_layers_shared():
    class Shared(lamina.Model):
        def __init__(self, **kwargs):
            inp = lamina.Input((4,))
            dense = layers.Dense(4, name="shared")
            super().__init__(inp, dense(dense(inp)), **kwargs)

    clone = lamina.models.clone_model(Shared())
    assert [layer.name for layer in clone.layers].count("shared") == 1
    assert len(clone.trainable_weights) == 2


def test_reshape_with_a_batch_picky_target_infers_a_none_batch():
    x = lamina.Input((4,))
    assert ops.reshape(x, (-1, 8)).shape == (None, 8)
    assert ops.reshape(x, (-1, 3, 4)).shape == (None, 3, 4)
    model = lamina.Model(x, layers.Dense(2)(ops.reshape(x, (-1, 8))))
    assert tuple(model(np.ones((6, 4), "float32")).shape) == (3, 2)
