import math

import numpy as np
import pytest
import torch

from lamina import ops

X = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0, 8.0]], "float32")


def values(t):
    return t.detach().cpu().numpy()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("relu", {}, np.maximum(X, 0)),
        ("relu6", {}, np.clip(X, 0, 6)),
        ("sigmoid", {}, sigmoid(X)),
        ("silu", {}, X * sigmoid(X)),
        ("elu", {"alpha": 2.0}, np.where(X > 0, X, 2.0 * (np.exp(X) - 1))),
        ("softplus", {}, np.log1p(np.exp(X))),
        ("leaky_relu", {}, np.where(X >= 0, X, 0.2 * X)),
        ("leaky_relu", {"negative_slope": 0.1}, np.where(X >= 0, X, 0.1 * X)),
        (
            "selu",
            {},
            1.0507009873554805
            * np.where(X > 0, X, 1.6732632423543772 * (np.exp(X) - 1)),
        ),
        (
            "gelu",
            {},
            0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X**3))),
        ),
        (
            "gelu",
            {"approximate": False},
            0.5 * X * (1 + np.vectorize(math.erf)(X / np.sqrt(2))),
        ),
    ],
)
def test_activation_matches_its_formula(name, kwargs, expected):
    np.testing.assert_allclose(
        values(getattr(ops, name)(X, **kwargs)), expected, rtol=1e-5, atol=1e-6
    )


def test_softmax_and_log_softmax_over_one_or_several_axes():
    x = np.arange(12, dtype="float32").reshape(2, 2, 3) / 5
    for axis in (-1, 0, (1, 2)):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        expected = e / e.sum(axis=axis, keepdims=True)
        np.testing.assert_allclose(
            values(ops.softmax(x, axis=axis)), expected, rtol=1e-5
        )
        np.testing.assert_allclose(
            values(ops.log_softmax(x, axis=axis)),
            np.log(expected),
            rtol=1e-5,
            atol=1e-6,
        )


def test_activations_on_integers_compute_in_floatx():
    assert ops.sigmoid(np.array([0, 1])).dtype == torch.float32
    assert ops.softmax(np.array([1, 2])).dtype == torch.float32
    assert ops.relu(np.array([-1, 2], "int32")).dtype == torch.int32


def test_one_hot_places_classes_and_zeroes_out_of_range_labels():
    out = ops.one_hot(np.array([0, 2, -1, 3]), 3)
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(
        values(out), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    )
    first = ops.one_hot(np.array([[1, 0]]), 2, axis=0, dtype="int32")
    assert first.dtype == torch.int32
    assert tuple(first.shape) == (2, 1, 2)
    np.testing.assert_array_equal(values(first)[:, 0, :], [[0, 1], [1, 0]])


def test_binary_crossentropy_closed_form_and_logits():
    target = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    prob = np.array([[0.8, 0.1], [0.3, 0.6]], "float32")
    expected = -(target * np.log(prob) + (1 - target) * np.log(1 - prob))
    np.testing.assert_allclose(
        values(ops.binary_crossentropy(target, prob)), expected, rtol=1e-5
    )
    logits = np.log(prob / (1 - prob))
    np.testing.assert_allclose(
        values(ops.binary_crossentropy(target, logits, from_logits=True)),
        expected,
        rtol=1e-4,
    )
    # Keras clips probabilities to [eps, 1 - eps]: a confident miss costs -log(1e-7).
    clipped = ops.binary_crossentropy(np.array([1.0]), np.array([0.0]))
    np.testing.assert_allclose(values(clipped), [-np.log(1e-7)], rtol=1e-4)
    with pytest.raises(
        ValueError, match=r"same shape.*target.shape=\(2, 2\), output.shape=\(2,\)"
    ):
        ops.binary_crossentropy(target, prob[0])


def test_categorical_crossentropies_closed_form():
    target = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], "float32")
    prob = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], "float32")
    expected = np.array([-np.log(0.7), -np.log(0.5)])
    np.testing.assert_allclose(
        values(ops.categorical_crossentropy(target, prob)), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        values(ops.sparse_categorical_crossentropy(np.array([1, 0]), prob)),
        expected,
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        values(ops.sparse_categorical_crossentropy(np.array([[1], [0]]), prob)),
        expected,
        rtol=1e-5,
    )
    logits = np.log(prob) + 3.0
    np.testing.assert_allclose(
        values(ops.categorical_crossentropy(target, logits, from_logits=True)),
        expected,
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        values(
            ops.sparse_categorical_crossentropy(
                np.array([1, 0]), logits, from_logits=True
            )
        ),
        expected,
        rtol=1e-5,
    )
    # Unnormalised probabilities are rescaled to sum to one first, as in Keras.
    np.testing.assert_allclose(
        values(ops.categorical_crossentropy(target, prob * 4)), expected, rtol=1e-5
    )


def test_sparse_categorical_crossentropy_on_a_class_axis_other_than_last():
    prob = np.array([[0.2, 0.5], [0.8, 0.5]], "float32")  # classes on axis 0
    out = ops.sparse_categorical_crossentropy(np.array([1, 0]), prob, axis=0)
    np.testing.assert_allclose(values(out), [-np.log(0.8), -np.log(0.5)], rtol=1e-5)
    with pytest.raises(
        ValueError, match=r"expects `target` of shape \(2,\).*target.shape=\(3,\)"
    ):
        ops.sparse_categorical_crossentropy(np.array([1, 0, 1]), prob)


def test_moments_are_mean_and_biased_variance():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    mean, variance = ops.moments(x, axes=(0, 1))
    np.testing.assert_allclose(values(mean), x.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(values(variance), x.var(axis=(0, 1)), rtol=1e-5)
    mean, variance = ops.moments(x, axes=[-1], keepdims=True)
    assert tuple(mean.shape) == (2, 3, 1)
    half_mean, half_var = ops.moments(x.astype("float16"), axes=0)
    assert half_mean.dtype == torch.float16 and half_var.dtype == torch.float16
    with pytest.raises(NotImplementedError, match="synchronized=True"):
        ops.moments(x, axes=0, synchronized=True)


def test_normalize_l2_l1_and_zero_vectors():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], "float32")
    np.testing.assert_allclose(
        values(ops.normalize(x)), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6
    )
    np.testing.assert_allclose(
        values(ops.normalize(x, order=1)), [[3 / 7, 4 / 7], [0, 0]], rtol=1e-6
    )
    np.testing.assert_allclose(
        values(ops.normalize(x, axis=0)), [[1.0, 1.0], [0.0, 0.0]], rtol=1e-6
    )
    with pytest.raises(ValueError, match="order` to be an int >= 1; got order=0"):
        ops.normalize(x, order=0)
