import json

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.reshaping.cropping1d import Cropping1D
from lamina.layers.reshaping.cropping2d import Cropping2D
from lamina.layers.reshaping.cropping3d import Cropping3D
from lamina.layers.reshaping.permute import Permute
from lamina.layers.reshaping.repeat_vector import RepeatVector
from lamina.layers.reshaping.reshape import Reshape
from lamina.layers.reshaping.up_sampling1d import UpSampling1D
from lamina.layers.reshaping.up_sampling2d import UpSampling2D
from lamina.layers.reshaping.up_sampling3d import UpSampling3D
from lamina.layers.reshaping.zero_padding1d import ZeroPadding1D
from lamina.layers.reshaping.zero_padding2d import ZeroPadding2D
from lamina.layers.reshaping.zero_padding3d import ZeroPadding3D

ALL = [
    (Reshape((2, -1)), (3, 4)),
    (Permute((2, 1)), (3, 4)),
    (RepeatVector(2), (4,)),
    (Cropping1D(), (5, 2)),
    (Cropping2D(1), (4, 5, 2)),
    (Cropping3D(), (4, 4, 4, 2)),
    (ZeroPadding1D(), (3, 2)),
    (ZeroPadding2D(), (3, 3, 2)),
    (ZeroPadding3D(), (2, 2, 2, 1)),
    (UpSampling1D(), (3, 2)),
    (UpSampling2D(), (2, 3, 2)),
    (UpSampling2D(interpolation="bilinear"), (2, 3, 2)),
    (UpSampling3D(), (2, 2, 2, 1)),
]


# --- values -------------------------------------------------------------------


def test_reshape_infers_the_minus_one_axis_and_keeps_the_batch():
    x = np.arange(24, dtype="float32").reshape(2, 12)
    out = Reshape((-1, 3))(x)
    assert tuple(out.shape) == (2, 4, 3)
    np.testing.assert_array_equal(out.cpu().numpy(), x.reshape(2, 4, 3))


def test_permute_dims_are_one_based_and_exclude_the_batch():
    x = np.arange(24, dtype="float32").reshape(1, 2, 3, 4)
    out = Permute((3, 1, 2))(x)
    np.testing.assert_array_equal(out.cpu().numpy(), x.transpose(0, 3, 1, 2))


def test_repeat_vector_copies_the_vector_along_a_new_axis():
    out = RepeatVector(3)(np.array([[1.0, 2.0], [3.0, 4.0]], "float32"))
    np.testing.assert_array_equal(out.cpu().numpy(), [[[1, 2]] * 3, [[3, 4]] * 3])


def test_cropping1d_drops_steps_at_both_ends():
    x = np.arange(10, dtype="float32").reshape(1, 5, 2)
    out = Cropping1D((1, 2))(x)
    np.testing.assert_array_equal(out.cpu().numpy(), x[:, 1:3])


def test_cropping2d_channels_first_crops_the_last_two_axes():
    x = np.arange(60, dtype="float32").reshape(1, 3, 4, 5)
    out = Cropping2D(((1, 0), (2, 1)), data_format="channels_first")(x)
    np.testing.assert_array_equal(out.cpu().numpy(), x[:, :, 1:, 2:4])


def test_zero_padding2d_surrounds_images_with_zeros():
    out = ZeroPadding2D(((1, 0), (0, 2)))(np.ones((1, 1, 1, 1), "float32"))
    np.testing.assert_array_equal(out.cpu().numpy()[0, :, :, 0], [[0, 0, 0], [1, 0, 0]])


def test_zero_padding1d_channels_first_pads_the_steps_axis():
    out = ZeroPadding1D((1, 0), data_format="channels_first")(
        np.ones((1, 2, 1), "float32")
    )
    np.testing.assert_array_equal(out.cpu().numpy(), [[[0, 1], [0, 1]]])


def test_up_sampling_repeats_values_nearest_neighbour():
    x = np.array([[[[1.0], [2.0]], [[3.0], [4.0]]]], "float32")  # (1, 2, 2, 1)
    out = UpSampling2D((1, 2))(x).cpu().numpy()[0, :, :, 0]
    np.testing.assert_array_equal(out, [[1, 1, 2, 2], [3, 3, 4, 4]])
    seq = UpSampling1D(3)(np.array([[[1.0], [2.0]]], "float32")).cpu().numpy()
    np.testing.assert_array_equal(seq[0, :, 0], [1, 1, 1, 2, 2, 2])
    vol = UpSampling3D((2, 1, 1))(np.arange(2, dtype="float32").reshape(1, 2, 1, 1, 1))
    np.testing.assert_array_equal(vol.cpu().numpy().ravel(), [0, 0, 1, 1])


def test_up_sampling2d_bilinear_interpolates_between_pixels():
    x = np.array([[[[0.0], [4.0]]]], "float32")  # (1, 1, 2, 1)
    out = UpSampling2D((1, 2), interpolation="bilinear")(x).cpu().numpy()[0, 0, :, 0]
    # align_corners=False: samples at x = -0.25, 0.25, 0.75, 1.25 (clamped).
    np.testing.assert_allclose(out, [0.0, 1.0, 3.0, 4.0])


def test_up_sampling2d_bilinear_keeps_integer_dtype():
    out = UpSampling2D(interpolation="bilinear")(
        torch.ones(1, 2, 2, 1, dtype=torch.int32)
    )
    assert out.dtype == torch.int32
    assert bool((out == 1).all())


@pytest.mark.parametrize("layer,shape", ALL, ids=lambda v: type(v).__name__)
def test_integer_inputs_stay_integers(layer, shape):
    x = torch.ones((2, *shape), dtype=torch.int64)
    assert layer(x).dtype == torch.int64
    assert layer(lamina.Input(shape, dtype="int64")).dtype == "int64"


@pytest.mark.parametrize("layer,shape", ALL, ids=lambda v: type(v).__name__)
def test_symbolic_shape_equals_the_real_output_shape(layer, shape):
    real = tuple(layer(np.ones((2, *shape), "float32")).shape)
    symbolic = layer(lamina.Input(shape)).shape
    assert symbolic == (None, *real[1:])


@pytest.mark.parametrize("layer,shape", ALL, ids=lambda v: type(v).__name__)
def test_gradients_flow_through(layer, shape):
    x = torch.ones((2, *shape), requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


@pytest.mark.parametrize("layer,shape", ALL, ids=lambda v: type(v).__name__)
def test_config_survives_json_and_rebuilds_the_layer(layer, shape):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()
    x = np.random.default_rng(1).normal(size=(2, *shape)).astype("float32")
    np.testing.assert_array_equal(clone(x).cpu().numpy(), layer(x).cpu().numpy())


def test_unknown_axes_stay_unknown_in_output_shapes():
    assert Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)
    assert Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert Cropping1D().compute_output_shape((None, None, 3)) == (None, None, 3)
    assert UpSampling2D(3).compute_output_shape((None, None, 4, 2)) == (
        None,
        None,
        12,
        2,
    )
    assert ZeroPadding3D(1).compute_output_shape((None, None, 2, None, 1)) == (
        None,
        None,
        4,
        None,
        1,
    )


def test_sequential_model_of_reshaping_layers_trains():
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            RepeatVector(3),
            Reshape((3, 2, 2)),
            ZeroPadding2D(1),
            Cropping2D(((1, 1), (0, 0))),
            UpSampling2D(),
            lamina.layers.Flatten(),
            lamina.layers.Dense(1),
        ]
    )
    assert model.output_shape == (None, 1)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(
        np.ones((8, 4), "float32"), np.zeros((8, 1), "float32"), epochs=2, verbose=0
    )
    assert len(history.history["loss"]) == 2


# --- errors -------------------------------------------------------------------


def test_reshape_of_the_wrong_size_names_the_layer_and_both_sizes():
    layer = Reshape((5,), name="to_five")
    with pytest.raises(ValueError, match=r"'to_five'.*\(2, 12\) \(12 values.*5 values"):
        layer(np.ones((2, 12), "float32"))
    with pytest.raises(ValueError, match=r"'to_five'.*12 values per sample"):
        layer(lamina.Input((3, 4)))
    with pytest.raises(ValueError, match="a multiple of 5 values"):
        Reshape((5, -1))(np.ones((2, 12), "float32"))


@pytest.mark.parametrize("target", [(2, -1, -1), (-2, 3), ("a", 2)])
def test_reshape_rejects_bad_target_shapes(target):
    with pytest.raises(ValueError, match="target_shape"):
        Reshape(target)


def test_reshape_needs_a_tuple_not_an_int():
    with pytest.raises(TypeError, match=r"Reshape\(\(12,\)\)"):
        Reshape(12)


@pytest.mark.parametrize("dims", [(0, 1), (1, 3), (1, 1)])
def test_permute_rejects_dims_that_are_not_a_one_based_permutation(dims):
    with pytest.raises(ValueError, match="permutation of 1..n"):
        Permute(dims)


def test_permute_of_the_wrong_rank_names_the_layer():
    with pytest.raises(ValueError, match=r"'perm'.*rank 3"):
        Permute((2, 1), name="perm")(np.ones((2, 3, 4, 5), "float32"))


@pytest.mark.parametrize(
    "layer,shape",
    [
        (RepeatVector(2, name="bad"), (2, 3, 4)),
        (Cropping1D(name="bad"), (2, 3, 4, 5)),
        (Cropping2D(name="bad"), (2, 3, 4)),
        (ZeroPadding1D(name="bad"), (2, 3)),
        (ZeroPadding2D(name="bad"), (2, 3, 4, 5, 6)),
        (UpSampling1D(name="bad"), (2, 3, 4, 5)),
        (UpSampling2D(name="bad"), (2, 3, 4)),
        (UpSampling3D(name="bad"), (2, 3, 4, 5)),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, tuple) else "",
)
def test_inputs_of_the_wrong_rank_are_refused_not_silently_processed(layer, shape):
    with pytest.raises(ValueError, match=r"Layer 'bad'.*expects inputs of rank"):
        layer(np.ones(shape, "float32"))


def test_cropping_everything_away_is_an_error_naming_the_layer():
    with pytest.raises(ValueError, match=r"'crop'.*crop every value"):
        Cropping1D((2, 1), name="crop")(np.ones((1, 3, 2), "float32"))
    with pytest.raises(ValueError, match="crop every value"):
        Cropping2D(((0, 0), (3, 3)))(lamina.Input((8, 6, 1)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Cropping1D(-1),
        lambda: Cropping1D((1, 2, 3)),
        lambda: Cropping2D(((1, 1),)),
        lambda: Cropping3D("1"),
        lambda: ZeroPadding2D(((1, -1), (0, 0))),
        lambda: ZeroPadding3D((1, 1)),
        lambda: UpSampling2D((0, 2)),
        lambda: UpSampling3D(2.5),
    ],
)
def test_bad_sizes_raise_value_errors_naming_the_argument(make):
    with pytest.raises(ValueError, match="expects `(cropping|padding|size)"):
        make()


@pytest.mark.parametrize("value", [2.0, "2", True])
def test_integer_arguments_must_be_ints(value):
    with pytest.raises(TypeError, match="int"):
        UpSampling1D(value)
    with pytest.raises(TypeError, match="int"):
        RepeatVector(value)


def test_bad_data_format_and_interpolation_are_refused():
    with pytest.raises(ValueError, match="data_format"):
        ZeroPadding2D(data_format="NHWC")
    with pytest.raises(ValueError, match="Lanczos"):
        UpSampling2D(interpolation="lanczos3")
    with pytest.raises(ValueError, match="interpolation"):
        UpSampling2D(interpolation="cubic-ish")
