import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina.applications import imagenet_utils  # noqa: E402
from lamina.utils import file_utils  # noqa: E402

keras = pytest.importorskip("keras")

RNG = np.random.RandomState(0)
IMAGES = RNG.uniform(0, 255, (2, 5, 4, 3)).astype("float32")


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("batched", [True, False])
def test_preprocess_input_matches_keras_for_arrays_and_tensors(
    mode, data_format, batched
):
    x = IMAGES if batched else IMAGES[0]
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, -3).copy()
    # Keras overwrites float NumPy input: give it its own copy.
    expected = keras.applications.imagenet_utils.preprocess_input(
        x.copy(), data_format=data_format, mode=mode
    )
    before = x.copy()
    got = imagenet_utils.preprocess_input(x, data_format=data_format, mode=mode)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(x, before)
    tensor = imagenet_utils.preprocess_input(
        torch.from_numpy(x.copy()), data_format=data_format, mode=mode
    )
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.cpu().numpy(), expected, rtol=1e-6, atol=1e-5)


def test_integer_images_become_floatx():
    x = RNG.randint(0, 256, (1, 2, 2, 3)).astype("uint8")
    expected = keras.applications.imagenet_utils.preprocess_input(x, mode="caffe")
    got = imagenet_utils.preprocess_input(x, mode="caffe")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    tensor = imagenet_utils.preprocess_input(torch.from_numpy(x), mode="tf")
    assert tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.cpu().numpy(), x / 127.5 - 1.0, rtol=1e-6)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_input_works_inside_a_functional_model(mode):
    inputs = lamina.Input((5, 4, 3))
    outputs = imagenet_utils.preprocess_input(inputs, mode=mode)
    model = lamina.Model(inputs, outputs)
    expected = keras.applications.imagenet_utils.preprocess_input(
        IMAGES.copy(), mode=mode
    )
    np.testing.assert_allclose(
        np.asarray(model.predict(IMAGES, verbose=0)), expected, rtol=1e-6, atol=1e-5
    )


@pytest.mark.parametrize(
    "module",
    ["vgg16", "vgg19", "resnet", "resnet50", "resnet_v2", "mobilenet", "mobilenet_v2"],
)
def test_each_module_preprocesses_as_its_keras_module(module):
    expected = getattr(keras.applications, module).preprocess_input(IMAGES.copy())
    got = getattr(lamina.applications, module).preprocess_input(IMAGES)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


def test_preprocess_input_rejects_unknown_mode_and_data_format():
    with pytest.raises(ValueError, match="mode=.*'caffee'"):
        imagenet_utils.preprocess_input(IMAGES, mode="caffee")
    with pytest.raises(ValueError, match="data_format=.*'nhwc'"):
        imagenet_utils.preprocess_input(IMAGES, data_format="nhwc")


def test_decode_predictions_reads_keras_class_index_once(tmp_path, monkeypatch):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    calls = []

    def fake_get_file(*args, **kwargs):
        calls.append((args, kwargs))
        return str(path)

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    preds = np.zeros((2, 1000), dtype="float32")
    preds[0, [7, 3, 999]] = [0.5, 0.3, 0.2]
    preds[1, 42] = 1.0
    top = lamina.applications.resnet50.decode_predictions(preds, top=3)
    assert top[0] == [
        ("n00000007", "class_7", pytest.approx(0.5)),
        ("n00000003", "class_3", pytest.approx(0.3)),
        ("n00000999", "class_999", pytest.approx(0.2)),
    ]
    assert top[1][0][:2] == ("n00000042", "class_42") and len(top[1]) == 3
    lamina.applications.mobilenet.decode_predictions(torch.from_numpy(preds))
    assert calls == [
        (
            ("imagenet_class_index.json", imagenet_utils.CLASS_INDEX_PATH),
            {"cache_subdir": "models", "file_hash": "c2c37ea517e94d9795004a39431a14cb"},
        )
    ]
    assert imagenet_utils.CLASS_INDEX_PATH == (
        keras.src.applications.imagenet_utils.CLASS_INDEX_PATH
    )


def test_decode_predictions_rejects_non_imagenet_shapes(monkeypatch):
    monkeypatch.setattr(file_utils, "get_file", pytest.fail)
    with pytest.raises(ValueError, match=r"\(samples, 1000\).*\(2, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((None, 224, 32, "channels_last", True, None), (224, 224, 3)),
        ((None, 224, 32, "channels_last", False, None), (None, None, 3)),
        ((None, 224, 32, "channels_first", False, None), (3, None, None)),
        (((64, 48, 3), 224, 32, "channels_last", True, None), (64, 48, 3)),
        ((None, 224, 32, "channels_first", True, "imagenet"), (3, 224, 224)),
    ],
)
def test_obtain_input_shape_matches_keras(args, expected):
    assert imagenet_utils.obtain_input_shape(*args) == expected
    assert tuple(keras.src.applications.imagenet_utils.obtain_input_shape(*args)) == (
        expected
    )


def test_obtain_input_shape_warns_about_unusual_channel_counts():
    with pytest.warns(UserWarning, match="1 or 3 input channels"):
        shape = imagenet_utils.obtain_input_shape(
            (40, 40, 5), 224, 32, "channels_last", False
        )
    assert shape == (40, 40, 5)


def test_correct_pad_matches_keras():
    for shape in [(None, 7, 7, 3), (None, 8, 8, 3), (None, None, None, 3)]:
        l_tensor = lamina.Input(batch_shape=shape)
        k_tensor = keras.Input(batch_shape=shape)
        assert imagenet_utils.correct_pad(l_tensor, 3) == (
            keras.src.applications.imagenet_utils.correct_pad(k_tensor, 3)
        )
