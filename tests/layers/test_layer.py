import numpy as np
import pytest
import torch

import lamina
from lamina import layers


class Scale(layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.scale = self.add_weight(
            shape=(input_shape[-1],), initializer="ones", name="scale"
        )
        self.offset = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="offset"
        )

    def call(self, x):
        return x * self.scale * self.factor + self.offset


def test_layer_is_a_torch_module_whose_weights_are_parameters():
    layer = Scale()
    layer(np.ones((2, 3), "float32"))
    assert isinstance(layer, torch.nn.Module)
    assert all(isinstance(w, torch.nn.Parameter) for w in layer.weights)
    assert set(layer.state_dict()) == {"scale", "offset"}


def test_build_runs_once_on_first_call_with_the_input_shape():
    calls = []

    class Recorder(layers.Layer):
        def build(self, input_shape):
            calls.append(input_shape)

        def call(self, x):
            return x

    layer = Recorder()
    assert not layer.built
    layer(np.ones((4, 5), "float32"))
    layer(np.ones((2, 5), "float32"))
    assert calls == [(4, 5)]
    assert layer.built


def test_trainable_and_non_trainable_weights_follow_keras():
    layer = Scale()
    layer(np.ones((1, 3), "float32"))
    assert [w.path for w in layer.trainable_weights] == [f"{layer.name}/scale"]
    assert [w.path for w in layer.non_trainable_weights] == [f"{layer.name}/offset"]
    layer.trainable = False
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 2
    assert not layer.scale.requires_grad


def test_get_and_set_weights_round_trip_and_check_shapes():
    layer = Scale()
    layer(np.ones((1, 3), "float32"))
    layer.set_weights([np.array([1.0, 2.0, 3.0]), np.array(0.5)])
    out = layer(np.ones((1, 3), "float32"))
    np.testing.assert_allclose(out.detach().cpu().numpy(), [[1.5, 2.5, 3.5]])
    assert [w.shape for w in layer.get_weights()] == [(3,), ()]
    with pytest.raises(ValueError, match="has shape \\(3,\\).*array of shape"):
        layer.set_weights([np.ones(4), np.array(0.0)])
    with pytest.raises(ValueError, match="has 2 weights.*list of 1"):
        layer.set_weights([np.ones(3)])


def test_names_are_snake_case_and_unique_like_keras():
    names = [
        layers.Dense(1).name,
        layers.Dense(1).name,
        Scale().name,
        layers.Dense(1, name="head").name,
    ]
    assert names == ["dense", "dense_1", "scale", "head"]
    lamina.backend.clear_session()
    assert layers.Dense(1).name == "dense"


def test_regularization_penalties_are_in_losses():
    layer = layers.Dense(
        2,
        kernel_initializer="ones",
        bias_initializer="ones",
        kernel_regularizer=lamina.regularizers.L2(0.1),
        bias_regularizer="l1",
    )
    layer(np.ones((1, 3), "float32"))
    values = sorted(float(v.detach()) for v in layer.losses)
    # L2: 0.1 * sum(1^2 over 6 entries) = 0.6; L1 default 0.01 * 2 = 0.02
    np.testing.assert_allclose(values, [0.02, 0.6], rtol=1e-6)


def test_add_loss_is_collected_and_cleared_each_call():
    class Penalised(layers.Layer):
        def call(self, x):
            self.add_loss(x.sum())
            return x

    layer = Penalised()
    layer(np.ones((2, 2), "float32"))
    layer(np.ones((1, 2), "float32"))
    assert [float(v) for v in layer.losses] == [2.0]


def test_custom_layer_config_captures_constructor_arguments():
    layer = Scale(factor=3.0, name="s")
    config = layer.get_config()
    assert config["factor"] == 3.0 and config["name"] == "s"
    clone = Scale.from_config(config)
    assert clone.factor == 3.0 and clone.name == "s"


def test_unknown_keyword_is_a_type_error_naming_it():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments.*'unitz'"):
        layers.Dense(3, unitz=4)


def test_shape_mismatch_names_the_layer_and_both_sizes():
    layer = layers.Dense(4)
    layer(np.ones((2, 32), "float32"))
    with pytest.raises(ValueError, match="'dense' \\(Dense\\).*size 32.*\\(2, 20\\)"):
        layer(np.ones((2, 20), "float32"))


def test_layers_start_in_inference_mode_and_training_flag_propagates():
    seen = []

    class Probe(layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class Outer(layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = Probe()

        def call(self, x):
            return self.inner(x)

    outer = Outer()
    outer(np.ones((1, 1), "float32"))
    outer(np.ones((1, 1), "float32"), training=True)
    assert seen == [None, True]  # Keras: no training anywhere -> call default


def test_lists_of_layers_are_tracked_as_torch_submodules():
    class Stack(layers.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = [layers.Dense(2), layers.Dense(2)]

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    stack = Stack()
    stack(np.ones((1, 3), "float32"))
    assert len(stack.weights) == 4
    assert len(list(stack.parameters())) == 4


def test_float64_inputs_are_cast_to_the_layer_dtype():
    out = layers.Dense(2)(np.ones((1, 3)))
    assert out.dtype == torch.float32


def test_count_params_before_build_is_a_clear_error():
    with pytest.raises(ValueError, match="not built yet"):
        layers.Dense(2).count_params()


def test_masks_travel_on_tensors_through_masking_aware_layers():
    received = []

    class MakeMask(layers.Layer):
        def call(self, x):
            return x

        def compute_mask(self, inputs, previous_mask=None):
            return inputs[..., 0] != 0

    class ReadMask(layers.Layer):
        def call(self, x, mask=None):
            received.append(mask)
            return x * 1.0

    x = np.array([[[1.0], [0.0], [2.0]]], "float32")
    passthrough = layers.Dense(1, kernel_initializer="ones")  # supports_masking
    with pytest.warns(UserWarning, match="does not support masking"):  # as in Keras
        out = ReadMask()(passthrough(MakeMask()(x)))
    assert received[0].tolist() == [[True, False, True]]
    assert not hasattr(out, "_keras_mask")  # ReadMask does not support masking


def test_numpy_inputs_are_cast_to_the_layer_compute_dtype():
    out = layers.Dense(3, dtype="float64")(np.ones((2, 4), "float32"))
    assert out.dtype == torch.float64


def test_activity_regularizer_appears_in_config():
    layer = layers.Dense(2, activity_regularizer="l2")
    config = layer.get_config()
    assert config["activity_regularizer"]["class_name"] == "L2"
    assert layers.Dense.from_config(config).activity_regularizer is not None


def test_weights_built_during_predict_can_be_trained_later():
    model = lamina.Sequential([layers.Dense(2)])
    model.predict(np.ones((3, 4), "float32"), verbose=0)  # builds in inference mode
    model.compile("sgd", "mse")
    model.fit(np.ones((3, 4), "float32"), np.ones((3, 2), "float32"), verbose=0)
    assert not model.layers[0].kernel.is_inference()


def test_calling_a_custom_build_directly_leaves_the_layer_built_as_in_keras():
    class Scale(lamina.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    layer = Scale()
    layer.build((None, 3))
    assert layer.built
    assert layer.get_build_config() == {"input_shape": (None, 3)}
    weight = layer.w
    layer(np.ones((2, 3), "float32"))
    assert layer.w is weight  # the call did not build a second time
