"""Public signatures that differed from Keras 3.15.1: argument names, order and
defaults, each called the way Keras code calls it."""

import inspect

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, optimizers


def _weights():
    return [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]


@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.Optimizer])
def test_optimizer_and_sgd_build_take_variables_keyword(cls):
    # Keras: Optimizer.build(variables) and SGD.build(variables).
    kwargs = {"momentum": 0.9} if cls is optimizers.SGD else {}
    opt = cls(learning_rate=0.1, **kwargs)
    weights = _weights()
    opt.build(variables=weights)
    assert opt.built
    assert [tuple(v.shape) for v in opt._trainable_variables] == [(2,), (3,)]
    if cls is optimizers.SGD:
        assert [tuple(m.shape) for m in opt.momentums] == [(2,), (3,)]


def test_adam_build_keeps_var_list_keyword():
    # Keras names the argument `var_list` in Adam (and its other optimizers).
    opt = optimizers.Adam()
    opt.build(var_list=_weights())
    assert len(opt._momentums) == 2


def test_dtype_policy_convert_input_casts_floats_only_when_autocast():
    policy = lamina.dtype_policies.DTypePolicy("mixed_float16")
    out = policy.convert_input(torch.ones(2), True, "float16")
    assert out.dtype == torch.float16
    assert policy.convert_input(torch.ones(2), False, "float16").dtype == (
        torch.float32
    )
    ints = policy.convert_input(np.arange(3, dtype="int32"), True, "float16")
    assert isinstance(ints, torch.Tensor) and ints.dtype == torch.int32
    spec = policy.convert_input(lamina.KerasTensor((2, 3)), True, "bfloat16")
    assert isinstance(spec, lamina.KerasTensor) and spec.dtype == "bfloat16"
    assert policy.convert_input("text", True, "float16") == "text"
    assert policy.convert_input([1.0, 2.0], True, "float16") == [1.0, 2.0]


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_rnn_call_defaults_to_inference(cls):
    # Keras: RNN.call(sequences, initial_state=None, mask=None, training=False).
    layer = cls(3, dropout=0.9, recurrent_dropout=0.5, seed=1)
    # On the weights' device: `call` itself moves no inputs, as in Keras.
    x = torch.ones((2, 4, 2), device=lamina.backend.get_device())
    layer.build(x.shape)
    expected = layer(x, training=False).detach()
    torch.testing.assert_close(layer.call(x).detach(), expected)
    params = inspect.signature(cls.call).parameters
    assert params["training"].default is False


@pytest.mark.parametrize("name", ["Adam", "SGD", "RMSprop", "Adagrad", "Ftrl"])
def test_legacy_optimizers_raise_import_error_naming_the_replacement(name):
    # Keras 3 keeps `optimizers.legacy.*` names; creating one is an ImportError.
    with pytest.raises(ImportError, match=f"lamina.optimizers.{name}"):
        getattr(optimizers.legacy, name)(learning_rate=0.1)


def test_orthogonal_regularizer_takes_inputs_keyword():
    # Keras: OrthogonalRegularizer.__call__(self, inputs).
    reg = lamina.regularizers.OrthogonalRegularizer(factor=0.1)
    w = torch.eye(3)
    assert float(reg(inputs=w)) == pytest.approx(0.0)
    assert float(reg(torch.ones(2, 2))) > 0


def test_utils_legacy_serialization_round_trips_a_layer():
    legacy = lamina.utils.legacy
    config = legacy.serialize_keras_object(layers.Dense(3, name="d"))
    assert config["class_name"] == "Dense" and config["config"]["units"] == 3
    # Keras 2 order (identifier, module_objects, custom_objects, name).
    layer = legacy.deserialize_keras_object(config, {"Dense": layers.Dense})
    assert isinstance(layer, layers.Dense) and layer.units == 3
    assert legacy.serialize_keras_object(lamina.activations.relu) == "relu"
    relu = legacy.deserialize_keras_object("relu", {"relu": lamina.activations.relu})
    assert relu is lamina.activations.relu
    ones = legacy.deserialize_keras_object("Ones", {"Ones": lamina.initializers.Ones})
    assert isinstance(ones, lamina.initializers.Ones)  # a class name: an instance
    with pytest.raises(ValueError, match="Unknown loss: 'Nope'"):
        legacy.deserialize_keras_object(
            {"class_name": "Nope", "config": {}}, {}, None, "loss"
        )


def test_utils_legacy_restores_nested_objects_and_custom_functions():
    legacy = lamina.utils.legacy

    def double(x):
        return 2 * x

    class Holder:
        def __init__(self, init, fn):
            self.init, self.fn = init, fn

        def get_config(self):
            return {"init": self.init, "fn": self.fn}

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    config = legacy.serialize_keras_object(
        Holder(lamina.initializers.Constant(2.0), double)
    )
    assert config["config"]["init"]["__passive_serialization__"] is True
    assert config["config"]["fn"] == "double"
    holder = legacy.deserialize_keras_object(
        config,
        module_objects={"Constant": lamina.initializers.Constant},
        custom_objects={"Holder": Holder, "double": double},
    )
    assert holder.fn is double and holder.init.value == 2.0


def test_dense_and_einsum_dense_call_accept_training():
    # Keras: Dense.call(inputs, training=None), EinsumDense.call likewise.
    device = lamina.backend.get_device()  # `call` itself moves no inputs
    x = torch.ones((2, 3), device=device)
    expected = torch.full((2, 2), 3.0, device=device)
    dense = layers.Dense(2, kernel_initializer="ones")
    dense.build((None, 3))
    torch.testing.assert_close(dense.call(x, training=True), expected)
    einsum = layers.EinsumDense("ab,bc->ac", output_shape=2, kernel_initializer="ones")
    einsum.build((None, 3))
    torch.testing.assert_close(einsum.call(x, training=False), expected)


def test_dense_subclass_passes_training_to_super_call():
    seen = []

    class Noisy(layers.Dense):
        def call(self, inputs, training=None):
            seen.append(training)
            return super().call(inputs, training=training)

    layer = Noisy(2)
    assert tuple(layer(np.ones((1, 3), "float32"), training=True).shape) == (1, 2)
    assert seen == [True]


def test_discretization_from_config_takes_custom_objects():
    layer = layers.Discretization(bin_boundaries=[0.0, 1.0])
    clone = layers.Discretization.from_config(layer.get_config(), custom_objects={})
    out = clone(np.array([[-1.0, 0.5, 2.0]], "float32"))
    np.testing.assert_array_equal(lamina.ops.convert_to_numpy(out), [[0, 1, 2]])


def test_text_vectorization_builds_without_a_shape():
    layer = layers.TextVectorization(vocabulary=["a", "b"])
    layer.build()
    assert layer.built
    out = layer(["a b c"])
    np.testing.assert_array_equal(lamina.ops.convert_to_numpy(out), [[2, 3, 1]])


def test_rms_normalization_call_argument_is_x():
    layer = layers.RMSNormalization()
    out = layer(x=np.ones((2, 3), "float32"))
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(out), np.ones((2, 3)), rtol=1e-3
    )
    assert list(inspect.signature(layers.RMSNormalization.call).parameters) == [
        "self",
        "x",
    ]


def test_max_num_bounding_boxes_transforms_need_no_transformation():
    layer = layers.MaxNumBoundingBoxes(max_number=2)
    images = np.ones((1, 4, 4, 3), "float32")
    assert tuple(layer.transform_images(images).shape) == (1, 4, 4, 3)
    labels = np.array([[1.0, 0.0]], "float32")
    out = layer.transform_labels(labels)
    np.testing.assert_array_equal(lamina.ops.convert_to_numpy(out), labels)


@pytest.mark.parametrize("cls", [layers.RandomGrayscale, layers.Equalization])
def test_image_layers_compute_output_spec_take_inputs_keyword(cls):
    # Keras: compute_output_spec(self, inputs, **kwargs) on these layers.
    spec = cls().compute_output_spec(inputs=lamina.KerasTensor((2, 8, 8, 3)))
    assert tuple(spec.shape) == (2, 8, 8, 3)


def test_keras_legacy_saving_namespace_is_the_utils_legacy_serializers():
    # keras.legacy.saving holds the same two functions as keras.utils.legacy.
    saving = lamina.legacy.saving
    assert saving.serialize_keras_object is lamina.utils.legacy.serialize_keras_object
    assert (
        saving.deserialize_keras_object is lamina.utils.legacy.deserialize_keras_object
    )
    config = saving.serialize_keras_object(lamina.initializers.Ones())
    assert config == {"class_name": "Ones", "config": {}}
