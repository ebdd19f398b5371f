"""Layer corners found in session 9, each checked against Keras 3.15.1."""

import numpy as np
import pytest

import lamina
from lamina import layers


def test_a_direct_build_of_a_layer_without_its_own_build_is_recorded():
    dropout = layers.Dropout(0.5)
    dropout.build((None, 3))
    assert dropout.get_build_config() == {"input_shape": (None, 3)}
    base = layers.Layer()
    base.build((None, 4))
    assert base.built and base.get_build_config() == {"input_shape": (None, 4)}
    # Built at construction and then called: nothing was built, nothing recorded.
    called = layers.Dropout(0.5)
    called(np.ones((2, 3), "float32"))
    assert called.get_build_config() is None


def test_stateless_call_leaves_out_frozen_regularizers():
    dense = layers.Dense(2, kernel_regularizer="l2")
    dense.build((None, 3))
    x = np.ones((2, 3), "float32")
    _, _, losses = dense.stateless_call(
        dense.trainable_variables, dense.non_trainable_variables, x, return_losses=True
    )
    assert len(losses) == 1
    dense.trainable = False
    _, _, losses = dense.stateless_call(
        dense.trainable_variables, dense.non_trainable_variables, x, return_losses=True
    )
    assert losses == []
    assert lamina.ops.convert_to_numpy(dense(x)).shape == (2, 2)


def test_an_input_spec_given_as_a_list_checks_the_one_input():
    class Spec(layers.Layer):
        def __init__(self, specs):
            super().__init__()
            self.input_spec = specs

        def call(self, x):
            return x

    ok = Spec([layers.InputSpec(ndim=2)])
    assert ok(lamina.Input((3,))).shape == (None, 3)
    with pytest.raises(ValueError, match="rank 3"):
        Spec([layers.InputSpec(ndim=3)])(lamina.Input((3,)))
    with pytest.raises(ValueError, match=r"expects 2 input\(s\)"):
        Spec([layers.InputSpec(), layers.InputSpec()])(lamina.Input((3,)))


def test_a_quantized_policy_set_on_a_built_model_quantizes_its_layers():
    model = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(3), layers.Dropout(0.1), layers.Dense(2)]
    )
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    before = model.predict(x, verbose=0)
    model.dtype_policy = "int8_from_float32"
    assert [layer.dtype_policy.name for layer in model.layers] == [
        "int8_from_float32",
        "float32",
        "int8_from_float32",
    ]
    assert sorted(v.path for v in model.weights if v.path.endswith("kernel_scale"))
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=0.05)
    dropout = layers.Dropout(0.1)
    dropout.build((None, 3))
    with pytest.raises(NotImplementedError, match="does not have a `quantize` method"):
        dropout.dtype_policy = "int8_from_float32"
    assert dropout.dtype_policy.name == "float32"


class _TwoDense(lamina.Model):
    def __init__(self):
        super().__init__()
        self.first = layers.Dense(4)
        self.second = layers.Dense(2)

    def call(self, x):
        return self.second(self.first(x))


def test_layers_built_while_tracing_an_unknown_batch_record_none(capsys):
    model = _TwoDense()
    model.build((None, 3))
    assert model.first.get_build_config() == {"input_shape": (None, 3)}
    assert model.second.get_build_config() == {"input_shape": (None, 4)}
    model.summary()
    table = capsys.readouterr().out
    assert "(None, 4)" in table and "(None, 2)" in table and "(2, 4)" not in table
    # The same inside a functional graph; a known batch stays known.
    block = _TwoDense()
    lamina.Model(*(lambda x: (x, block(x)))(lamina.Input((5,))))
    assert block.first.get_build_config() == {"input_shape": (None, 5)}
    fixed = _TwoDense()
    fixed(lamina.Input((5,), batch_size=2))
    assert fixed.first.get_build_config() == {"input_shape": (2, 5)}


def test_from_config_hands_dtype_policy_objects_to_init():
    seen = []

    class Recording(layers.Dense):
        def __init__(self, *args, **kwargs):
            seen.append(kwargs["dtype"])
            super().__init__(*args, **kwargs)

    Recording.from_config(layers.Dense(2, dtype="int8_from_bfloat16").get_config())
    Recording.from_config(layers.Dense(2, dtype="bfloat16").get_config())
    assert isinstance(seen[0], lamina.dtype_policies.QuantizedDTypePolicy)
    assert seen[0].name == "int8_from_bfloat16"
    assert seen[1] == "bfloat16"
