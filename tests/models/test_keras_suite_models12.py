"""Models behaving as Keras 3.15.1's own model tests expect (session 12)."""

import warnings

import numpy as np
import pytest

import lamina
from lamina import layers


def test_sequential_rejects_unknown_arguments_with_type_error():
    # Keras: Sequential.__init__(layers=None, trainable=True, name=None) only.
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus_kwarg'"):
        lamina.Sequential([layers.Dense(2)], bogus_kwarg=1)
    model = lamina.Sequential([layers.Dense(2)], trainable=False, name="seq")
    assert (model.name, model.trainable) == ("seq", False)


def _single():
    inputs = lamina.Input((4,))
    return lamina.Model(inputs, layers.Dense(2)(inputs))


def _pair(as_dict):
    a, b = lamina.Input((4,), name="a"), lamina.Input((4,), name="b")
    outputs = layers.Dense(2)(a + b)
    return lamina.Model({"a": a, "b": b} if as_dict else [a, b], outputs)


def test_functional_names_the_input_whose_shape_does_not_fit():
    # Keras (functional_test.test_bad_input_spec): a ValueError naming the
    # expected and the found shape, whatever layer would have failed first.
    expected = r"Input 0 .*expected shape=\(None, 4\), found shape=\(2, 3\)"
    with pytest.raises(ValueError, match=expected):
        _single()(np.zeros((2, 3), "float32"))
    # torch's own broadcasting error (a RuntimeError) becomes Keras's ValueError.
    with pytest.raises(ValueError, match=r"Input 1 .*found shape=\(2, 3\)"):
        _pair(False)([np.zeros((2, 4), "float32"), np.zeros((2, 3), "float32")])
    with pytest.raises(ValueError, match=expected):
        _pair(True)(
            {"a": np.zeros((2, 3), "float32"), "b": np.zeros((2, 4), "float32")}
        )


def test_functional_called_on_a_keras_tensor_names_its_symbolic_shape():
    # Not the placeholder batch size of lamina's shape-only run.
    with pytest.raises(ValueError, match=r"found shape=\(None, 3\)"):
        _single()(lamina.Input((3,)))
    inputs = lamina.Input((None, 4))
    model = lamina.Model(inputs, layers.Dense(2)(inputs))
    assert model(lamina.Input((7, 4))).shape == (None, 7, 2)
    with pytest.raises(ValueError, match=r"found shape=\(None, 5, 3\)"):
        model(lamina.Input((5, 3)))


def test_functional_with_fitting_inputs_still_runs_and_layer_errors_pass_through():
    model = _pair(False)
    out = model([np.ones((2, 4), "float32"), np.ones((2, 4), "float32")])
    assert tuple(out.shape) == (2, 2)

    class Boom(layers.Layer):
        fail = False

        def call(self, x):
            if self.fail:
                raise ValueError("boom inside")
            return x

    inputs = lamina.Input((4,))
    boom = Boom()
    broken = lamina.Model(inputs, boom(layers.Dense(4)(inputs)))
    boom.fail = True
    with pytest.raises(ValueError, match="boom inside"):
        broken(np.ones((1, 4), "float32"))


def test_fit_with_only_none_inputs_says_the_input_is_not_optional():
    # Keras (functional_test.test_required_none_raises_in_fit): "not optional".
    x = layers.Input((3,), name="x")
    model = lamina.Model(x, layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="not optional"):
        model.fit([None], np.ones((4, 1)), epochs=1, verbose=0)


def test_the_batch_axis_is_left_to_the_layers():
    # Keras's model input specs carry no batch size: a stateful RNN built for
    # batches of 4 reports its own error for a batch of 1.
    inputs = layers.Input((5, 3), batch_size=4)
    model = lamina.Model(
        inputs, layers.RNN(layers.SimpleRNNCell(2), stateful=True)(inputs)
    )
    model(np.ones((4, 5, 3), "float32"))
    with pytest.raises(ValueError, match="batch size") as info:
        model(np.ones((1, 5, 3), "float32"))
    assert "Input 0" not in str(info.value)


def test_dict_input_model_called_with_the_wrong_count_names_its_keys():
    # Keras: "expects 2 named input(s) with keys ['a', 'b']", and no warning.
    model = _pair(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"2 named input\(s\) with keys"):
            model(np.zeros((2, 4), "float32"))
    with pytest.warns(UserWarning, match="matched to the keys in sorted order"):
        out = model([np.ones((2, 4), "float32")] * 2)
    assert tuple(out.shape) == (2, 2)
