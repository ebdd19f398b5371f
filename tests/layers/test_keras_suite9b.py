"""Attention layers' errors carry Keras 3's key phrases (found running Keras's
own attention tests against lamina)."""

import numpy as np
import pytest

from lamina import layers


def test_attention_rejects_an_unknown_score_mode_with_keras_phrase():
    with pytest.raises(
        ValueError,
        match="Invalid value for argument score_mode. Expected one of {'dot', 'concat'}",
    ):
        layers.Attention(score_mode="invalid_mode")


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.MultiHeadAttention(num_heads=2, key_dim=2, flash_attention=True),
        lambda: layers.GroupedQueryAttention(
            head_dim=2, num_query_heads=2, num_key_value_heads=1, flash_attention=True
        ),
    ],
)
def test_flash_attention_refuses_to_return_scores_with_keras_phrase(
    make, values_on_cpu
):
    # On the CPU, where torch's flash kernel takes float32 (a GPU's wants 16-bit).
    layer = make()
    x = np.random.RandomState(0).rand(2, 4, 8).astype("float32")
    with pytest.raises(
        ValueError,
        match="Returning attention scores is not supported when flash attention is "
        "enabled. Please disable flash attention to access attention scores",
    ):
        layer(query=x, value=x, return_attention_scores=True)
    # Without asking for the scores the fused path runs.
    assert tuple(layer(query=x, value=x).shape) == (2, 4, 8)


@pytest.mark.parametrize(
    "dropouts",
    [
        {"recurrent_dropout": 0.5},
        {"dropout": 0.5},
        {"dropout": 0.3, "recurrent_dropout": 0.5},
    ],
)
@pytest.mark.parametrize(
    "name, shape", [("ConvLSTM1D", (3, 2, 8, 3)), ("ConvLSTM2D", (2, 2, 5, 5, 2))]
)
def test_conv_lstm_dropout_after_set_random_seed_matches_keras(dropouts, name, shape):
    # After set_random_seed the RNN draws the masks before its loop, on the
    # flattened step and state; ConvLSTM used to crash on their shape.
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    import lamina

    x = np.random.RandomState(0).rand(*shape).astype("float32")
    outputs = []
    for lib in (keras, lamina):
        lib.utils.set_random_seed(7)
        layer = getattr(lib.layers, name)(4, 3, padding="valid", **dropouts)
        outputs.append(np.asarray(layer(x, training=True).detach().cpu()))
    assert outputs[1].shape == outputs[0].shape
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
