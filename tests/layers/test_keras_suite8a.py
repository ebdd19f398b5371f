"""Layer behaviours that Keras 3.15's own unit tests showed lamina doing
differently (session 8, part A), each checked against Keras where it runs."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")


def _keras():
    return pytest.importorskip("keras")


# --- stateless layers are built at construction unless a subclass has a build ---

STATELESS = [
    (layers.Dropout, {"rate": 0.5}),
    (layers.GaussianNoise, {"stddev": 0.1}),
    (layers.ReLU, {}),
    (layers.Softmax, {}),
    (layers.Activation, {"activation": "relu"}),
    (layers.MaxPooling2D, {}),
    (layers.GlobalAveragePooling1D, {}),
    (layers.UnitNormalization, {}),
    (layers.Identity, {}),
    (layers.Masking, {}),
]


@pytest.mark.parametrize("cls, kwargs", STATELESS)
def test_subclass_with_own_build_is_not_built_at_construction(cls, kwargs):
    assert cls(**kwargs).built

    class WithBuild(cls):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    layer = WithBuild(**kwargs)
    assert not layer.built
    # The subclass's build runs at the first call, so its weight exists.
    x = np.ones((2, 4, 4, 3), "float32")
    if cls in (layers.GlobalAveragePooling1D, layers.UnitNormalization):
        x = np.ones((2, 4, 3), "float32")
    layer(x)
    assert layer.built and [w.name for w in layer.weights] == ["scale"]


# --- merge layers with masks ----------------------------------------------------

X1 = np.array([[[0, 0], [-1, -2], [0, 0], [-3, -4]]], "float32")
X2 = np.array([[[0, 0], [0, 0], [-1, -2], [-3, -4]]], "float32")


@pytest.mark.parametrize("name", ["Maximum", "Minimum", "Multiply"])
@pytest.mark.parametrize("mask_both", [False, True])
def test_masked_merges_match_keras(name, mask_both):
    keras = _keras()

    def run(lib, convert):
        masking = lib.layers.Masking()
        a = masking(convert(X1))
        b = masking(convert(X2)) if mask_both else convert(X2)
        out = getattr(lib.layers, name)()([a, b])
        mask = getattr(out, "_keras_mask", None)
        out = out.detach().cpu().numpy()
        return out, None if mask is None else mask.detach().cpu().numpy()

    theirs = run(keras, keras.ops.convert_to_tensor)
    ours = run(lamina, torch.as_tensor)
    np.testing.assert_allclose(ours[0], theirs[0])
    if theirs[1] is None:
        assert ours[1] is None
    else:
        np.testing.assert_array_equal(ours[1], theirs[1])


def test_masked_maximum_in_a_functional_model():
    inputs = lamina.Input((4, 2))
    other = lamina.Input((4, 2))
    out = layers.Maximum()([layers.Masking()(inputs), other])
    model = lamina.Model([inputs, other], out)
    got = model([X1, X2]).detach().cpu().numpy()
    np.testing.assert_allclose(got, [[[0, 0], [0, 0], [-1, -2], [-3, -4]]])


def test_concatenate_mask_on_feature_axis_keeps_a_step_any_input_keeps():
    keras = _keras()
    mask = np.array([[False, True, False, True]])
    inputs = [np.ones((1, 4, 2), "float32")] * 2
    for axis in (1, -1):
        theirs = keras.layers.Concatenate(axis=axis).compute_mask(inputs, [mask, None])
        ours = layers.Concatenate(axis=axis).compute_mask(inputs, [mask, None])
        np.testing.assert_array_equal(
            ours.cpu().numpy(), keras.ops.convert_to_numpy(theirs)
        )


@pytest.mark.parametrize("cls", [layers.Add, layers.Maximum, layers.Concatenate])
def test_merge_compute_mask_takes_numpy_masks_and_checks_the_lists(cls):
    x = np.ones((2, 3, 4), "float32")
    m = np.ones((2, 3), bool)
    assert cls().compute_mask([x, x], [m, m]).dtype == torch.bool
    with pytest.raises(ValueError, match="`mask` should be a list"):
        cls().compute_mask([x, x], m)
    with pytest.raises(ValueError, match="`inputs` should be a list"):
        cls().compute_mask(x, [None, None])
    with pytest.raises(ValueError, match="should have the same length"):
        cls().compute_mask([x, x], [None])


def test_masking_compute_mask_takes_numpy():
    x = np.array([[[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]]])
    mask = layers.Masking(mask_value=0.0).compute_mask(x)
    assert mask.tolist() == [[False, True, False]]


def test_batch_normalization_takes_a_numpy_mask():
    keras = _keras()
    x = np.random.RandomState(0).normal(size=(2, 3, 4)).astype("float32")
    mask = np.array([[True, False, True], [True, True, False]])
    ours = layers.BatchNormalization()(x, training=True, mask=mask)
    theirs = keras.layers.BatchNormalization()(x, training=True, mask=mask)
    theirs = keras.ops.convert_to_numpy(theirs)
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs, atol=1e-5)


# --- InputLayer --------------------------------------------------------------------


def test_input_layer_accepts_numpy_int_shapes_and_has_sparse_ragged():
    layer = layers.InputLayer(shape=(np.int64(32),))
    assert layer.batch_shape == (None, 32)
    assert type(layer.batch_shape[1]) is int
    assert layer.sparse is False and layer.ragged is False
    assert layer.call() is None


def test_input_layer_input_tensor():
    tensor = lamina.KerasTensor((2, 3), dtype="float16")
    layer = layers.InputLayer(input_tensor=tensor)
    assert layer.output is tensor
    assert layer.batch_shape == (2, 3) and layer.dtype == "float16"
    with pytest.raises(ValueError, match="must be a KerasTensor"):
        layers.InputLayer(shape=(3,), input_tensor=np.zeros((2, 3)))
    for kwargs, arg in [
        ({"shape": (4,)}, "shape"),
        ({"batch_shape": (2, 4)}, "batch_shape"),
        ({"batch_size": 5}, "batch_size"),
        ({"dtype": "float32"}, "dtype"),
    ]:
        with pytest.raises(ValueError, match=f"incompatible `{arg}`"):
            layers.InputLayer(input_tensor=tensor, **kwargs)


def test_input_layer_rejects_batch_size_with_batch_shape():
    keras = _keras()
    with pytest.raises(ValueError):
        keras.layers.InputLayer(batch_size=4, batch_shape=(2, 3))
    with pytest.raises(ValueError, match="both `batch_size` and `batch_shape`"):
        layers.InputLayer(batch_size=4, batch_shape=(2, 3))


# --- Dropout's noise_shape ----------------------------------------------------------


@pytest.mark.parametrize("noise_shape", ["bad", 5, (2, 0, 3), (2, -1), (2, 1.5)])
def test_dropout_rejects_bad_noise_shape_as_keras(noise_shape):
    keras = _keras()
    with pytest.raises(ValueError):
        keras.layers.Dropout(0.5, noise_shape=noise_shape)
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=noise_shape)


def test_dropout_noise_shape_list_is_kept_as_tuple():
    assert layers.Dropout(0.5, noise_shape=[None, 1, 4]).noise_shape == (None, 1, 4)


# --- Keras's phrases in argument errors -------------------------------------------------


def test_argument_errors_carry_keras_phrases():
    with pytest.raises(ValueError, match="positive integer"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="`input_dim` must be a positive integer"):
        layers.Embedding(3.7, 2)
    with pytest.raises(ValueError, match="`cropping` parameter of `Cropping1D`"):
        layers.Cropping1D((3, 3))(np.ones((1, 5, 2), "float32"))
    with pytest.raises(ValueError, match="Values in `cropping` argument should be"):
        layers.Cropping2D(((3, 3), (0, 0)))(np.ones((1, 5, 5, 2), "float32"))
