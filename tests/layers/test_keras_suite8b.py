"""Regressions found by running Keras 3's own attention and preprocessing tests
against lamina (session 8, part B)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402

RNG = np.random.default_rng(8)
Q = RNG.normal(size=(2, 3, 4)).astype("float32")
V = RNG.normal(size=(2, 5, 4)).astype("float32")


# --- Attention / AdditiveAttention ----------------------------------------------


@pytest.mark.parametrize("cls", [layers.Attention, layers.AdditiveAttention])
def test_attention_scores_returned_are_the_weights_after_dropout(cls):
    # Keras returns the dropped-out weights, so outputs == scores @ value.
    layer = cls(dropout=0.5, seed=3)
    out, scores = layer([Q, V], return_attention_scores=True, training=True)
    np.testing.assert_allclose(
        out.detach().cpu().numpy(),
        np.matmul(scores.detach().cpu().numpy(), V),
        rtol=1e-5,
        atol=1e-5,
    )
    zeros = (scores == 0).sum().item()
    assert zeros > 0  # some weights dropped
    # Kept weights are scaled by 1 / (1 - rate), so rows no longer sum to 1.
    assert not torch.allclose(scores.sum(-1), torch.ones(2, 3, device=scores.device))


def test_attention_scores_without_dropout_are_probabilities():
    out, scores = layers.Attention(dropout=0.5, seed=3)(
        [Q, V], return_attention_scores=True, training=False
    )
    torch.testing.assert_close(scores.sum(-1), torch.ones(2, 3, device=scores.device))


def test_attention_compute_mask_takes_keras_keyword_mask():
    layer = layers.Attention()
    q_mask = np.array([[True, False, True], [False, True, True]])
    v_mask = np.ones((2, 5), dtype=bool)
    out = layer.compute_mask([Q, V], mask=[q_mask, v_mask])
    np.testing.assert_array_equal(out.cpu().numpy(), q_mask)
    assert out.dtype == torch.bool
    assert layer.compute_mask([Q, V], mask=None) is None
    # A non-boolean mask comes back as booleans.
    out = layer.compute_mask([Q, V], mask=[q_mask.astype("int32"), v_mask])
    np.testing.assert_array_equal(out.cpu().numpy(), q_mask)


@pytest.mark.parametrize("cls", [layers.Attention, layers.AdditiveAttention])
def test_attention_on_a_single_tensor_raises_value_error(cls):
    with pytest.raises(ValueError, match="must be called on a list"):
        cls()(Q)


# --- MultiHeadAttention / GroupedQueryAttention -----------------------------------


def test_gqa_subclass_with_keras_compute_attention_signature():
    # Keras's signature: (query, key, value, attention_mask=None, training=None,
    # use_causal_mask=False); a subclass overriding it with the first five
    # gets the causal mask merged into attention_mask.
    seen = {}

    class Sub(layers.GroupedQueryAttention):
        def _compute_attention(
            self, query, key, value, attention_mask=None, training=None
        ):
            seen["mask"] = attention_mask
            return super()._compute_attention(
                query, key, value, attention_mask, training
            )

    kwargs = dict(head_dim=4, num_query_heads=4, num_key_value_heads=2)
    x = RNG.normal(size=(2, 5, 16)).astype("float32")
    sub = Sub(**kwargs)
    out_sub = sub(x, x, use_causal_mask=True)
    assert seen["mask"] is not None
    np.testing.assert_array_equal(
        seen["mask"][0].cpu().numpy(), np.tril(np.ones((5, 5), dtype=bool))
    )
    base = layers.GroupedQueryAttention(**kwargs)
    base(x, x)
    base.set_weights(sub.get_weights())
    out_base = base(x, x, use_causal_mask=True)
    torch.testing.assert_close(out_sub, out_base, rtol=1e-5, atol=1e-5)
    # The scores request still reaches the default _compute_attention.
    out, scores = base(x, x, return_attention_scores=True)
    assert tuple(scores.shape) == (2, 4, 5, 5)


def test_gqa_compute_output_shape_checks_query_value_before_key():
    layer = layers.GroupedQueryAttention(
        head_dim=2, num_query_heads=4, num_key_value_heads=4
    )
    with pytest.raises(ValueError, match="must be equal"):
        layer.compute_output_shape((2, 4, 8), (2, 2, 7), 2)
    with pytest.raises(ValueError, match="must be equal"):
        layer.compute_output_shape((2, 4, 8), (2, 2, 8), (2, 1, 7))
    assert layer.compute_output_shape((2, 4, 8), (2, 2, 8)) == (2, 4, 8)


def test_mha_key_value_mismatch_message_has_keras_phrase():
    layer = layers.MultiHeadAttention(num_heads=4, key_dim=2)
    with pytest.raises(ValueError, match="must be equal"):
        layer.compute_output_shape((2, 4, 8), (2, 2, 8), (2, 1, 7))


@pytest.mark.parametrize(
    "make",
    [
        lambda **k: layers.MultiHeadAttention(num_heads=2, key_dim=2, **k),
        lambda **k: layers.GroupedQueryAttention(
            head_dim=2, num_query_heads=2, num_key_value_heads=1, **k
        ),
    ],
)
def test_flash_attention_errors_carry_keras_phrases(make):
    with pytest.raises(ValueError, match="Dropout is not supported when flash"):
        make(flash_attention=True, dropout=0.1)
    layer = make(flash_attention=True)
    x = np.ones((1, 3, 4), "float32")
    with pytest.raises(ValueError, match="Returning attention scores is not"):
        layer(x, x, return_attention_scores=True)


# --- image preprocessing: public transform methods take NumPy ----------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.RandomFlip(seed=1),
        lambda: layers.RandomBrightness(0.3, seed=1),
        lambda: layers.RandomRotation(0.2, seed=1),
        lambda: layers.MixUp(seed=1),
        lambda: layers.RandomErasing(seed=1),
        lambda: layers.RandomCrop(4, 4, seed=1),
    ],
)
def test_transform_methods_take_numpy_like_tensors(make):
    images = RNG.random((2, 8, 8, 3)).astype("float32")
    layer = make()
    t_np = layer.get_random_transformation(images, training=True)
    out_np = layer.transform_images(images, t_np)
    assert isinstance(out_np, torch.Tensor)
    # The same draw on a tensor gives the same result. The tensor is on
    # lamina's device, where the NumPy batch was converted to (a direct
    # transform_images call does not move a CPU tensor, as Layer.__call__ does).
    layer = make()
    tensor = torch.from_numpy(images).to(lamina.backend.get_device())
    t = layer.get_random_transformation(tensor, training=True)
    out = layer.transform_images(tensor, t)
    torch.testing.assert_close(out_np, out)


def test_transform_bounding_boxes_takes_numpy_and_dict_data():
    images = RNG.random((2, 8, 8, 3)).astype("float32")
    boxes = {
        "boxes": np.array([[[0.0, 0.0, 4.0, 4.0]]] * 2),
        "labels": np.array([[1]] * 2),
    }
    layer = layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=2)
    # Keras's get_random_transformation takes the whole dict input too.
    t = layer.get_random_transformation(
        {"images": images, "bounding_boxes": boxes}, training=True
    )
    flips = t["flips"].reshape(-1).cpu().numpy()
    out = layer.transform_bounding_boxes(boxes, t)
    expected = np.where(
        flips[:, None, None], [[[4.0, 0.0, 8.0, 4.0]]], [[[0.0, 0.0, 4.0, 4.0]]]
    )
    np.testing.assert_allclose(out["boxes"].cpu().numpy(), expected)
