"""`model(x, mask=m)`: Sequential and functional models carry the mask into
their graph, as Keras's functional call does (lamina used to drop it)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import lamina

X = np.random.RandomState(0).rand(2, 3, 4).astype("float32")
MASK = np.array([[1, 1, 0], [1, 0, 0]], bool)


def _sequential():
    return lamina.Sequential([lamina.Input((3, 4)), lamina.layers.LSTM(2)])


def _functional():
    inp = lamina.Input((3, 4))
    return lamina.Model(inp, lamina.layers.LSTM(2)(inp))


@pytest.mark.parametrize("build", [_sequential, _functional])
def test_a_call_mask_reaches_the_layers_inside(build):
    model = build()
    lstm = model.layers[-1]
    expected = lstm(torch.as_tensor(X), mask=torch.as_tensor(MASK))
    with pytest.warns(UserWarning, match="does not support masking"):
        got = model(X, mask=MASK)
    np.testing.assert_allclose(
        got.detach().cpu().numpy(), expected.detach().cpu().numpy()
    )
    unmasked = model(X).detach().cpu().numpy()
    assert not np.allclose(got.detach().cpu().numpy(), unmasked)


def test_the_callers_tensor_is_not_marked():
    x = torch.as_tensor(X)
    with pytest.warns(UserWarning):
        _sequential()(x, mask=torch.as_tensor(MASK))
    assert getattr(x, "_keras_mask", None) is None


def test_one_mask_entry_per_input():
    a, b = lamina.Input((3, 4)), lamina.Input((3, 4))
    model = lamina.Model([a, b], lamina.layers.LSTM(2)(lamina.layers.Add()([a, b])))
    with pytest.warns(UserWarning):
        masked = model([X, X], mask=[MASK, MASK]).detach().cpu().numpy()
    assert not np.allclose(masked, model([X, X]).detach().cpu().numpy())
    with pytest.raises(ValueError, match="one entry per input.*got 1"):
        model([X, X], mask=[MASK])


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_masked_calls_match_keras(kind):
    keras = pytest.importorskip("keras")
    if kind == "sequential":
        theirs = keras.Sequential([keras.Input((3, 4)), keras.layers.LSTM(2)])
        ours = _sequential()
    else:
        inp = keras.Input((3, 4))
        theirs = keras.Model(inp, keras.layers.LSTM(2)(inp))
        ours = _functional()
    ours.set_weights(theirs.get_weights())
    with pytest.warns(UserWarning):
        expected = keras.ops.convert_to_numpy(
            theirs(X, mask=keras.ops.convert_to_tensor(MASK))
        )
    with pytest.warns(UserWarning):
        got = ours(X, mask=MASK).detach().cpu().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
