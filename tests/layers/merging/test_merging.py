import numpy as np
import pytest

import lamina
from lamina import layers

X = np.array([[1.0, -2.0, 3.0]], "float32")
Y = np.array([[4.0, 5.0, -6.0]], "float32")


@pytest.mark.parametrize(
    "cls,fn,expected",
    [
        (layers.Add, layers.add, X + Y),
        (layers.Subtract, layers.subtract, X - Y),
        (layers.Multiply, layers.multiply, X * Y),
        (layers.Average, layers.average, (X + Y) / 2),
        (layers.Maximum, layers.maximum, np.maximum(X, Y)),
        (layers.Minimum, layers.minimum, np.minimum(X, Y)),
    ],
)
def test_elementwise_merges_and_their_functional_forms(cls, fn, expected):
    np.testing.assert_allclose(cls()([X, Y]).cpu().numpy(), expected)
    np.testing.assert_allclose(fn([X, Y]).cpu().numpy(), expected)
    assert cls()([lamina.Input((3,)), lamina.Input((3,))]).shape == (None, 3)


def test_concatenate_axis_and_shape_checks():
    assert layers.Concatenate(axis=1)(
        [np.ones((2, 3, 4), "float32"), np.ones((2, 5, 4), "float32")]
    ).shape == (2, 8, 4)
    with pytest.raises(ValueError, match="match except on the concatenation axis"):
        layers.concatenate([lamina.Input((3, 4)), lamina.Input((5, 2))], axis=1)


def test_dot_with_normalize_is_cosine_similarity():
    out = layers.Dot(axes=1, normalize=True)([X, Y]).cpu().numpy()
    expected = (X * Y).sum() / np.linalg.norm(X) / np.linalg.norm(Y)
    np.testing.assert_allclose(out, [[expected]], rtol=1e-6)
    assert layers.Dot(axes=(2, 2))(
        [lamina.Input((3, 4)), lamina.Input((5, 4))]
    ).shape == (None, 3, 5)


def test_merges_reject_single_inputs_and_mismatched_shapes():
    with pytest.raises(ValueError, match="list of tensors"):
        layers.Add()(X)
    with pytest.raises(ValueError, match="incompatible shapes"):
        layers.Add()([lamina.Input((3,)), lamina.Input((4,))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([X, X, X])


def test_merge_configs_round_trip():
    for layer in [
        layers.Concatenate(axis=1),
        layers.Dot(axes=(1, 2), normalize=True),
        layers.Add(),
    ]:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


def test_add_combines_masks_with_or_as_keras_3_15():
    a = np.ones((1, 3, 2), "float32")
    import torch

    ta, tb = torch.from_numpy(a), torch.from_numpy(a)
    ta._keras_mask = torch.tensor([[True, True, False]])
    tb._keras_mask = torch.tensor([[True, False, True]])
    out = layers.Add()([ta, tb])
    assert out._keras_mask.tolist() == [[True, True, True]]
