import json

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops
from lamina.layers.core.lambda_layer import Lambda
from lamina.saving import serialization_lib


@lamina.saving.register_keras_serializable(package="lambda_tests")
def _triple(x):
    return x * 3.0


def _np(x):
    return x.detach().cpu().numpy()


def test_calls_the_function_with_its_arguments():
    layer = Lambda(lambda x, scale: x * scale, arguments={"scale": 4.0})
    out = layer(np.array([[1.0, -2.0]], "float32"))
    np.testing.assert_allclose(_np(out), [[4.0, -8.0]])


def test_passes_training_and_mask_only_to_functions_that_take_them():
    seen = {}

    def fn(x, training=None, mask=None):
        seen.update(training=training, mask=mask)
        return x

    Lambda(fn)(np.ones((1, 2), "float32"), training=True)
    assert seen == {"training": True, "mask": None}


def test_output_shape_is_inferred_given_or_computed():
    x = lamina.Input((4, 6))
    assert Lambda(lambda t: ops.sum(t, axis=1))(x).shape == (None, 6)
    assert Lambda(lambda t: t[:, 0], output_shape=(6,))(x).shape == (None, 6)
    shape_fn = Lambda(lambda t: t, output_shape=lambda s: (s[0], s[2], s[1]))
    assert shape_fn.compute_output_shape((None, 4, 6)) == (None, 6, 4)
    pair = Lambda(lambda t: [t, t], output_shape=[(4, 6), (4, 6)])
    assert pair.compute_output_shape((5, 4, 6)) == [(5, 4, 6), (5, 4, 6)]


def test_mask_function_or_constant_sets_the_output_mask():
    x = np.array([[1.0, 0.0]], "float32")
    from_fn = Lambda(lambda t: t, mask=lambda t, m: ops.not_equal(t, 0.0))
    np.testing.assert_array_equal(_np(from_fn(x)._keras_mask), [[True, False]])
    assert Lambda(lambda t: t).compute_mask(x, None) is None


def test_rejects_a_function_that_is_not_callable():
    with pytest.raises(TypeError, match="Lambda expects `function` to be callable"):
        Lambda(3)


def test_in_sequential_and_functional_models():
    seq = lamina.Sequential(
        [
            lamina.Input((3,)),
            layers.Dense(2, kernel_initializer="ones"),
            Lambda(ops.square),
        ]
    )
    x = np.array([[1.0, 1.0, 1.0]], "float32")
    np.testing.assert_allclose(seq.predict(x, verbose=0), [[9.0, 9.0]])
    inputs = lamina.Input((3,))
    hidden = layers.Dense(2, kernel_initializer="ones")(inputs)
    outputs = Lambda(lambda t: t - 1.0)(hidden)
    model = lamina.Model(inputs, outputs)
    np.testing.assert_allclose(model.predict(x, verbose=0), [[2.0, 2.0]])


def test_config_of_a_python_lambda_holds_its_code_in_keras_layout():
    config = Lambda(lambda x: x + 1.0, output_shape=(3,)).get_config()
    function = config["function"]
    assert function["class_name"] == "__lambda__"
    assert set(function["config"]) == {"code", "defaults", "closure"}
    assert config["output_shape"] == (3,)  # a tuple, as Keras keeps it
    assert config["arguments"] == {}
    json.dumps(config)


def test_config_round_trip_of_a_lambda_needs_safe_mode_off():
    scale = 5.0
    layer = Lambda(lambda x, shift=1.0: x * scale + shift, output_shape=(2,))
    config = layer.get_config()
    with pytest.raises(ValueError, match="Lambda layer 'lambda.*safe_mode=False"):
        Lambda.from_config(config)
    with serialization_lib.SafeModeScope(False):
        clone = Lambda.from_config(config)
    assert clone._output_shape == (2,)
    out = clone(np.array([[1.0, 2.0]], "float32"))
    np.testing.assert_allclose(_np(out), [[6.0, 11.0]])
    np.testing.assert_allclose(
        _np(Lambda.from_config(config, safe_mode=False)(np.ones((1, 2), "float32"))),
        [[6.0, 6.0]],
    )


def test_a_registered_or_builtin_function_is_saved_by_name_and_loads_safely():
    for fn, expected in ((_triple, "lambda_tests>_triple"), (ops.square, "square")):
        config = Lambda(fn).get_config()
        assert config["function"]["class_name"] == "function"
        assert config["function"]["config"] == expected
        clone = Lambda.from_config(json.loads(json.dumps(config)))
        assert clone.function is fn


def test_a_local_function_is_saved_by_name_and_loads_from_custom_objects():
    def halve(x):
        return x / 2.0

    config = Lambda(halve).get_config()
    assert config["function"]["class_name"] == "function"  # as Keras: no code
    assert config["function"]["config"] == "halve"
    fn = Lambda.from_config(config, custom_objects={"halve": halve}).function
    np.testing.assert_allclose(_np(fn(torch.tensor([4.0]))), [2.0])
    with pytest.raises(ValueError, match="Unknown function 'halve'"):
        Lambda.from_config(config, safe_mode=False)


def test_globals_the_lambda_needs_come_from_custom_objects():
    config = Lambda(lambda x: ops.square(x)).get_config()
    with pytest.raises(ValueError, match=r"global names \['ops'\].*custom_objects"):
        Lambda.from_config(config, safe_mode=False)
    clone = Lambda.from_config(config, custom_objects={"ops": ops}, safe_mode=False)
    np.testing.assert_allclose(_np(clone(np.array([3.0], "float32"))), [9.0])


def _lambda_model():
    inputs = lamina.Input((3,))
    hidden = layers.Dense(4)(inputs)
    outputs = Lambda(lambda t: t * 2.0 + 1.0, name="affine")(hidden)
    return lamina.Model(inputs, outputs)


def test_saved_model_with_a_lambda_loads_with_safe_mode_off(tmp_path):
    model = _lambda_model()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    path = tmp_path / "lambda.keras"
    model.save(path)
    loaded = lamina.saving.load_model(path, safe_mode=False)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def test_loading_a_lambda_with_default_safe_mode_names_lambda_and_the_fix(tmp_path):
    path = tmp_path / "lambda.keras"
    _lambda_model().save(path)
    with pytest.raises(ValueError, match=r"Lambda layer 'affine'.*safe_mode=False"):
        lamina.saving.load_model(path)
    with pytest.raises(ValueError, match="Lambda layer 'affine'"):
        lamina.models.model_from_json(_lambda_model().to_json())


def test_sequential_with_a_registered_function_round_trips_in_safe_mode(tmp_path):
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(3), Lambda(_triple)])
    path = tmp_path / "named.keras"
    model.save(path)
    x = np.ones((2, 2), "float32")
    np.testing.assert_allclose(
        lamina.saving.load_model(path).predict(x, verbose=0),
        model.predict(x, verbose=0),
        atol=1e-6,
    )
