"""`lamina.preprocessing` mirrors `keras.preprocessing`: the same names, the
`lamina.utils` functions behind them, and `image.smart_resize`."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import preprocessing, utils  # noqa: E402


def _public(module):
    return {name for name in dir(module) if not name.startswith("_")}


def test_names_match_keras_preprocessing():
    keras = pytest.importorskip("keras")
    assert lamina.preprocessing is preprocessing
    for ours, theirs in [
        (preprocessing, keras.preprocessing),
        (preprocessing.image, keras.preprocessing.image),
        (preprocessing.sequence, keras.preprocessing.sequence),
    ]:
        assert set(ours.__all__) == _public(theirs)


def test_functions_are_those_of_lamina_utils():
    assert preprocessing.image_dataset_from_directory is (
        utils.image_dataset_from_directory
    )
    assert preprocessing.text_dataset_from_directory is (
        utils.text_dataset_from_directory
    )
    assert preprocessing.timeseries_dataset_from_array is (
        utils.timeseries_dataset_from_array
    )
    assert preprocessing.sequence.pad_sequences is utils.pad_sequences
    for name in ("array_to_img", "img_to_array", "load_img", "save_img"):
        assert getattr(preprocessing.image, name) is getattr(utils, name)


@pytest.mark.parametrize(
    "shape, size", [((34, 50, 3), (20, 20)), ((2, 30, 12, 1), (10, 8))]
)
def test_smart_resize_matches_keras(shape, size):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).uniform(size=shape).astype("float32")
    got = preprocessing.image.smart_resize(x, size)
    want = keras.preprocessing.image.smart_resize(x, size)
    assert isinstance(got, np.ndarray) and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_smart_resize_keeps_tensors_and_channels_first():
    x = torch.arange(2 * 6 * 4, dtype=torch.float32).reshape(2, 6, 4)
    out = preprocessing.image.smart_resize(x, (2, 2), data_format="channels_first")
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 2, 2)


@pytest.mark.parametrize(
    "x, size, match",
    [
        (np.zeros((4, 4, 3)), (2, 2, 2), "size"),
        (np.zeros((4, 4)), (2, 2), "shape"),
    ],
)
def test_smart_resize_rejects_bad_input(x, size, match):
    with pytest.raises(ValueError, match=match):
        preprocessing.image.smart_resize(x, size)
