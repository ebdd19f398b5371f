import json

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.core.embedding import Embedding
from lamina.layers.layer import Layer


class MaskRecorder(Layer):
    """Passes inputs through and remembers the mask its call() received."""

    def call(self, inputs, mask=None):
        self.seen_mask = mask
        return inputs


def test_looks_up_rows_of_the_embeddings_matrix():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    layer = Embedding(4, 3, weights=table)
    out = layer(np.array([[3, 0], [1, 1]]))
    np.testing.assert_array_equal(out.detach().cpu().numpy(), table[[[3, 0], [1, 1]]])


def test_weight_is_named_embeddings_with_keras_layout():
    layer = Embedding(7, 5)
    layer(np.array([[1, 2]]))
    assert [tuple(w.shape) for w in layer.get_weights()] == [(7, 5)]
    assert layer.embeddings.path == "embedding/embeddings"
    assert layer.count_params() == 35
    assert "embeddings" in dict(layer.named_parameters())


def test_default_initializer_is_uniform_within_0_05():
    layer = Embedding(100, 8)
    layer.build()
    values = layer.get_weights()[0]
    assert values.min() >= -0.05 and values.max() <= 0.05


def test_weights_argument_accepts_an_array_or_a_list_and_builds_at_once():
    table = np.ones((3, 2), "float32")
    for weights in (table, [table]):
        layer = Embedding(3, 2, weights=weights)
        assert layer.built
        np.testing.assert_array_equal(layer.get_weights()[0], table)


def test_float_inputs_are_truncated_to_integer_indices():
    table = np.arange(8, dtype="float32").reshape(4, 2)
    out = Embedding(4, 2, weights=table)(np.array([[2.7, 0.2]], "float32"))
    np.testing.assert_array_equal(out.detach().cpu().numpy(), [[[4, 5], [0, 1]]])


def test_int32_and_int64_inputs_give_the_same_result():
    layer = Embedding(5, 3)
    a = layer(torch.tensor([[1, 4]], dtype=torch.int32))
    b = layer(torch.tensor([[1, 4]], dtype=torch.int64))
    torch.testing.assert_close(a, b)
    assert a.dtype == torch.float32


def test_output_uses_the_compute_dtype_of_a_mixed_policy():
    layer = Embedding(5, 3, dtype="mixed_bfloat16")
    out = layer(np.array([[1, 2]]))
    assert out.dtype == torch.bfloat16
    assert layer.embeddings.dtype == torch.float32


def test_mask_zero_marks_index_zero_as_padding():
    layer = Embedding(5, 2, mask_zero=True)
    out = layer(np.array([[3, 0, 1], [0, 0, 2]]))
    np.testing.assert_array_equal(
        out._keras_mask.cpu().numpy(), [[True, False, True], [False, False, True]]
    )
    assert layer.compute_mask(torch.tensor([[0, 1]])).tolist() == [[False, True]]


def test_without_mask_zero_there_is_no_mask():
    out = Embedding(5, 2)(np.array([[3, 0]]))
    assert getattr(out, "_keras_mask", None) is None
    assert Embedding(5, 2).compute_mask(torch.tensor([[0, 1]])) is None


def test_mask_reaches_the_next_layers_call_in_a_sequential_model():
    recorder = MaskRecorder()
    # As in Keras: the recorder takes `mask` but does not support masking.
    with pytest.warns(UserWarning, match="does not support masking"):
        model = lamina.Sequential(
            [
                lamina.Input((4,), dtype="int32"),
                Embedding(10, 3, mask_zero=True),
                lamina.layers.Dropout(0.5),  # supports_masking: passes it on
                recorder,
            ]
        )
    model(np.array([[5, 2, 0, 0], [1, 0, 0, 0]], "int32"))
    np.testing.assert_array_equal(
        recorder.seen_mask.cpu().numpy(),
        [[True, True, False, False], [True, False, False, False]],
    )


def test_symbolic_call_gives_float_outputs_with_an_extra_axis():
    out = Embedding(10, 6)(lamina.Input((None,), dtype="int32"))
    assert out.shape == (None, None, 6)
    assert out.dtype == "float32"
    assert Embedding(10, 6).compute_output_shape((None, 2, 3)) == (None, 2, 3, 6)


def test_regularizer_adds_a_loss_and_constraint_is_attached():
    layer = Embedding(
        3,
        2,
        embeddings_initializer="ones",
        embeddings_regularizer=lamina.regularizers.L2(0.5),
        embeddings_constraint="non_neg",
    )
    layer(np.array([[1]]))
    assert len(layer.losses) == 1
    assert layer.losses[0].item() == pytest.approx(0.5 * 6)
    assert layer.embeddings.constraint is not None


def test_trains_in_a_sequential_model():
    model = lamina.Sequential(
        [
            lamina.Input((3,), dtype="int32"),
            Embedding(6, 4),
            lamina.layers.Flatten(),
            lamina.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    before = model.layers[0].get_weights()[0].copy()
    model.fit(np.array([[1, 2, 3]] * 4, "int32"), np.ones((4, 1), "float32"), verbose=0)
    after = model.layers[0].get_weights()[0]
    assert not np.allclose(before[1:4], after[1:4])  # looked-up rows moved
    np.testing.assert_array_equal(before[4:], after[4:])  # others did not


def test_config_round_trip_keeps_every_argument():
    layer = Embedding(
        8,
        3,
        embeddings_initializer="he_normal",
        embeddings_regularizer="l1",
        embeddings_constraint="unit_norm",
        mask_zero=True,
        activity_regularizer="l2",
    )
    config = json.loads(json.dumps(layer.get_config()))
    clone = Embedding.from_config(config)
    assert clone.get_config() == layer.get_config()
    assert clone.mask_zero and clone.supports_masking


def test_out_of_range_indices_raise_an_error_naming_the_layer():
    # On CUDA an out-of-range lookup is a device-side assert that poisons the
    # whole test process: check the error on the CPU.
    lamina.backend.set_device("cpu")
    try:
        layer = Embedding(4, 2, name="words")
        with pytest.raises(IndexError, match=r"'words'.*from 1 to 4.*\[0, 3\]"):
            layer(np.array([[1, 4]]))
        with pytest.raises(IndexError, match="'words'"):
            layer(np.array([[-5, 2]]))  # -1..-4 count from the end, as Keras
    finally:
        lamina.backend.set_device(None)


@pytest.mark.parametrize("value", [0, -2, 2.5, True, None])
def test_dims_must_be_positive_ints(value):
    with pytest.raises(ValueError, match="input_dim"):
        Embedding(value, 3)
    with pytest.raises(ValueError, match="output_dim"):
        Embedding(3, value)


def test_quantization_config_is_checked():
    with pytest.raises(TypeError, match="quantization_config must be"):
        Embedding(5, 2, quantization_config={"mode": "int8"})


def test_input_length_from_keras_2_code_warns_and_is_ignored():
    with pytest.warns(UserWarning, match="input_length"):
        layer = Embedding(5, 2, input_length=10)
    assert "input_length" not in layer.get_config()
