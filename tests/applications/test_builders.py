import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina import applications  # noqa: E402
from lamina.utils import file_utils  # noqa: E402

keras = pytest.importorskip("keras")

IMAGES = np.random.RandomState(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
SMALL = (32, 32, 3)

# (builder, kwargs) at small sizes: every builder, and the pooling/top variants.
CASES = [
    ("VGG16", {"include_top": False}),
    ("VGG16", {"include_top": True, "classes": 4, "input_shape": SMALL}),
    ("VGG19", {"include_top": False, "pooling": "max"}),
    ("ResNet50", {"include_top": False, "pooling": "avg"}),
    ("ResNet50", {"include_top": True, "classes": 3, "input_shape": SMALL}),
    ("ResNet101", {"include_top": False}),
    ("ResNet152", {"include_top": False, "pooling": "max"}),
    ("ResNet50V2", {"include_top": False}),
    ("ResNet101V2", {"include_top": False, "pooling": "avg"}),
    ("ResNet152V2", {"include_top": True, "classes": 2, "input_shape": SMALL}),
    ("MobileNet", {"include_top": False, "alpha": 0.25}),
    ("MobileNet", {"include_top": True, "alpha": 0.25, "classes": 3}),
    ("MobileNet", {"include_top": False, "alpha": 0.25, "depth_multiplier": 2}),
    ("MobileNetV2", {"include_top": False, "alpha": 0.35, "pooling": "max"}),
    ("MobileNetV2", {"include_top": True, "alpha": 0.25, "classes": 3}),
    ("MobileNetV2", {"include_top": False, "alpha": 1.3, "pooling": "avg"}),
    ("DenseNet121", {"include_top": False, "pooling": "avg"}),
    ("DenseNet169", {"include_top": True, "classes": 3, "input_shape": SMALL}),
    ("DenseNet201", {"include_top": False}),
    ("MobileNetV3Small", {"include_top": True, "alpha": 0.75, "classes": 3}),
    (
        "MobileNetV3Small",
        {"include_top": False, "minimalistic": True, "pooling": "max"},
    ),
    ("MobileNetV3Large", {"include_top": False, "alpha": 1.25}),
    (
        "MobileNetV3Large",
        {"include_top": True, "classes": 2, "include_preprocessing": False},
    ),
]


def _build(lib, builder, kwargs, weights=None):
    kwargs = {"input_shape": SMALL, **kwargs}
    return getattr(lib.applications, builder)(weights=weights, **kwargs)


def _pair(builder, kwargs):
    keras.utils.clear_session()
    lamina.utils.clear_session()
    k_model = _build(keras, builder, kwargs)
    l_model = _build(lamina, builder, kwargs)
    return k_model, l_model


def _randomize(k_model):
    """Non-trivial BatchNorm statistics and biases, so a wrong wiring shows."""
    rng = np.random.RandomState(0)
    values = []
    for w in k_model.weights:
        value = np.asarray(w.numpy())
        if w.path.endswith("moving_variance"):
            value = rng.uniform(0.5, 1.5, value.shape)
        elif w.path.endswith(("moving_mean", "beta", "bias")):
            value = rng.normal(0, 0.1, value.shape)
        elif w.path.endswith("gamma"):
            value = rng.uniform(0.8, 1.2, value.shape)
        values.append(value.astype("float32"))
    k_model.set_weights(values)


def _predict(model, x=IMAGES):
    return np.asarray(model.predict(x, verbose=0))


@pytest.mark.parametrize(("builder", "kwargs"), CASES)
def test_same_layers_weights_and_outputs_as_keras(builder, kwargs):
    k_model, l_model = _pair(builder, kwargs)
    assert l_model.name == k_model.name
    assert [layer.name for layer in l_model.layers] == [
        layer.name for layer in k_model.layers
    ]
    assert [w.path for w in l_model.weights] == [w.path for w in k_model.weights]
    assert [tuple(w.shape) for w in l_model.weights] == [
        tuple(w.shape) for w in k_model.weights
    ]
    assert l_model.count_params() == k_model.count_params()
    assert tuple(l_model.output_shape) == tuple(k_model.output_shape)
    _randomize(k_model)
    l_model.set_weights(k_model.get_weights())
    expected = _predict(k_model)
    np.testing.assert_allclose(_predict(l_model), expected, rtol=1e-4, atol=1e-4)
    assert np.abs(expected).max() > 0


def test_public_names_match_keras_applications():
    ours = {n for n in applications.__all__ if n[0].isupper()}
    assert ours <= set(dir(keras.applications))
    for module in [n for n in applications.__all__ if n[0].islower()]:
        public = {n for n in dir(getattr(applications, module)) if n[0] != "_"}
        theirs = {n for n in dir(getattr(keras.applications, module)) if n[0] != "_"}
        assert theirs <= public, (module, theirs - public)


def test_default_names_follow_keras_and_none_input_sides():
    lamina.utils.clear_session()
    model = applications.MobileNetV2(weights=None, include_top=False, alpha=0.5)
    assert model.name == "mobilenetv2_0.50_None"
    assert tuple(model.input_shape) == (None, None, None, 3)
    out = _predict(model, IMAGES[:, :, :, :])
    assert out.shape == (2, 1, 1, 1280)
    assert applications.MobileNet(weights=None, alpha=0.25).name == "mobilenet_0.25_224"


@pytest.mark.parametrize(
    ("builder", "kwargs"),
    [("MobileNet", {"alpha": 0.25}), ("MobileNetV2", {"alpha": 0.35})],
)
def test_weights_files_move_both_ways_between_lamina_and_keras(
    builder, kwargs, tmp_path
):
    kwargs = {"include_top": False, **kwargs}
    k_model, l_model = _pair(builder, kwargs)
    _randomize(k_model)
    # Keras -> lamina
    k_model.save_weights(tmp_path / "k.weights.h5")
    l_model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(
        _predict(l_model), _predict(k_model), rtol=1e-4, atol=1e-4
    )
    # lamina -> a fresh Keras model
    l_model.save_weights(tmp_path / "l.weights.h5")
    fresh = _build(keras, builder, kwargs)
    fresh.load_weights(tmp_path / "l.weights.h5")
    np.testing.assert_allclose(_predict(fresh), _predict(l_model), rtol=1e-4, atol=1e-4)


def _legacy_h5(k_model, path):
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, k_model)
    return str(path)


def test_weights_path_loads_a_legacy_keras_h5_file(tmp_path):
    k_model, _ = _pair("DenseNet121", {"include_top": False})
    _randomize(k_model)
    path = _legacy_h5(k_model, tmp_path / "densenet.h5")
    l_model = applications.DenseNet121(
        weights=path, include_top=False, input_shape=SMALL
    )
    np.testing.assert_allclose(
        _predict(l_model), _predict(k_model), rtol=1e-4, atol=1e-4
    )


RESNET = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
MOBILENET = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
MOBILENET_V2 = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
)
DENSENET = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
MOBILENET_V3 = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
)
VGG = "https://storage.googleapis.com/tensorflow/keras-applications/"

# (builder, kwargs, file name, origin, md5 hash) as Keras passes them.
IMAGENET_FILES = [
    (
        "VGG16",
        {"include_top": False},
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        VGG + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    (
        "VGG19",
        {"include_top": False},
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        VGG + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
    (
        "ResNet50",
        {"include_top": True, "input_shape": None},
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        RESNET + "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        "2cb95161c43110f7111970584f804107",
    ),
    (
        "ResNet101",
        {"include_top": False},
        "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET + "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "88cf7a10940856eca736dc7b7e228a21",
    ),
    (
        "ResNet152",
        {"include_top": False},
        "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET + "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "ee4c566cf9a93f14d82f913c2dc6dd0c",
    ),
    (
        "ResNet50V2",
        {"include_top": False},
        "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET + "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "fac2f116257151a9d068a22e544a4917",
    ),
    (
        "ResNet101V2",
        {"include_top": False},
        "resnet101v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET + "resnet101v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "c0ed64b8031c3730f411d2eb4eea35b5",
    ),
    (
        "ResNet152V2",
        {"include_top": False},
        "resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET + "resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "ed17cf2e0169df9d443503ef94b23b33",
    ),
    (
        "MobileNet",
        {"include_top": True, "alpha": 0.25, "input_shape": (128, 128, 3)},
        "mobilenet_2_5_128_tf.h5",
        MOBILENET + "mobilenet_2_5_128_tf.h5",
        None,
    ),
    (
        "MobileNet",
        {"include_top": False, "alpha": 0.5, "input_shape": (160, 160, 3)},
        "mobilenet_5_0_160_tf_no_top.h5",
        MOBILENET + "mobilenet_5_0_160_tf_no_top.h5",
        None,
    ),
    (
        "MobileNetV2",
        {"include_top": True, "alpha": 0.35, "input_shape": (96, 96, 3)},
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5",
        MOBILENET_V2 + "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5",
        None,
    ),
    (
        "MobileNetV2",
        {"include_top": False, "alpha": 1.0, "input_shape": (128, 128, 3)},
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_128_no_top.h5",
        MOBILENET_V2
        + "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_128_no_top.h5",
        None,
    ),
    (
        "DenseNet169",
        {"include_top": False},
        "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5",
        DENSENET + "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b8c4d4c20dd625c148057b9ff1c1176b",
    ),
    (
        "MobileNetV3Small",
        {"include_top": True, "alpha": 0.75, "input_shape": (224, 224, 3)},
        "weights_mobilenet_v3_small_224_0.75_float.h5",
        MOBILENET_V3 + "weights_mobilenet_v3_small_224_0.75_float.h5",
        "cb65d4e5be93758266aa0a7f2c6708b7",
    ),
    (
        "MobileNetV3Large",
        {"include_top": False, "minimalistic": True, "input_shape": (224, 224, 3)},
        "weights_mobilenet_v3_large_minimalistic_224_1.0_float_no_top_v2.h5",
        MOBILENET_V3
        + "weights_mobilenet_v3_large_minimalistic_224_1.0_float_no_top_v2.h5",
        "ec5221f64a2f6d1ef965a614bdae7973",
    ),
]


class _Fetched(Exception):
    pass


@pytest.mark.parametrize(
    ("builder", "kwargs", "fname", "origin", "md5"), IMAGENET_FILES
)
def test_imagenet_weights_ask_get_file_for_keras_published_file(
    builder, kwargs, fname, origin, md5, monkeypatch
):
    calls = []

    def fake_get_file(*args, **kw):
        calls.append((args, kw))
        raise _Fetched

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    kwargs = {"input_shape": SMALL, **kwargs}
    with pytest.raises(_Fetched):
        getattr(applications, builder)(weights="imagenet", **kwargs)
    assert calls == [((fname, origin), {"cache_subdir": "models", "file_hash": md5})]


def test_imagenet_weights_load_the_fetched_legacy_file(tmp_path, monkeypatch):
    k_model, _ = _pair("MobileNet", {"include_top": False, "alpha": 0.25})
    _randomize(k_model)
    path = _legacy_h5(k_model, tmp_path / "mobilenet_2_5_224_tf_no_top.h5")
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: path)
    with pytest.warns(UserWarning, match="Weights for input shape"):
        l_model = applications.MobileNet(
            weights="imagenet", include_top=False, alpha=0.25, input_shape=SMALL
        )
    np.testing.assert_allclose(
        _predict(l_model), _predict(k_model), rtol=1e-4, atol=1e-4
    )


def test_input_tensor_builds_from_its_source_inputs():
    inputs = lamina.Input((32, 32, 3))
    scaled = lamina.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    model = applications.ResNet50V2(
        weights=None, include_top=False, input_tensor=scaled, pooling="avg"
    )
    assert model.inputs[0] is inputs
    assert _predict(model, IMAGES * 127.5).shape == (2, 2048)
    with pytest.raises(TypeError, match="input_tensor"):
        applications.VGG16(weights=None, include_top=False, input_tensor=IMAGES)


# (builder, kwargs, message) that Keras rejects too.
BAD = [
    ("VGG16", {"weights": "imagenet", "classes": 10}, "`classes` should be 1000"),
    ("ResNet50", {"weights": "no/such/file.h5"}, "`weights` argument"),
    ("ResNet50V2", {"include_top": False, "input_shape": (16, 16, 3)}, "at least 32"),
    ("VGG19", {"include_top": False, "input_shape": (32, 32)}, "three integers"),
    ("MobileNet", {"weights": None, "input_shape": (None, None, 3)}, "static"),
    (
        "ResNet101",
        {"weights": "imagenet", "include_top": False, "input_shape": (64, 64, 1)},
        "3 channels",
    ),
    (
        "ResNet50",
        {"weights": "imagenet", "input_shape": (64, 64, 3)},
        r"should be \(224, 224, 3\)",
    ),
    (
        "MobileNet",
        {"weights": "imagenet", "alpha": 0.25, "classifier_activation": "relu"},
        "softmax",
    ),
    ("MobileNet", {"weights": "imagenet", "alpha": 0.3}, "alpha can be one of"),
    ("MobileNet", {"weights": "imagenet", "depth_multiplier": 2}, "depth multiplier"),
    ("MobileNetV2", {"weights": "imagenet", "alpha": 0.3}, "alpha must be one of"),
    ("DenseNet121", {"weights": "imagenet", "classes": 5}, "should be 1000"),
    ("MobileNetV3Small", {"weights": None, "input_shape": (16, 16, 3)}, "at least 32"),
    (
        "MobileNetV3Large",
        {"weights": "imagenet", "minimalistic": True, "alpha": 0.75},
        "alpha can be one of",
    ),
]


@pytest.mark.parametrize(("builder", "kwargs", "message"), BAD)
def test_bad_arguments_raise_where_keras_raises(builder, kwargs, message, monkeypatch):
    # Nothing may be downloaded: a builder that gets past its checks fails here.
    monkeypatch.setattr(file_utils, "get_file", pytest.fail)
    with pytest.raises(ValueError, match=message):
        getattr(applications, builder)(**kwargs)
    with pytest.raises(ValueError):
        getattr(keras.applications, builder)(**kwargs)


@pytest.mark.parametrize("builder", ["MobileNetV2", "MobileNetV3Small"])
def test_channels_first_models_match_keras(builder):
    images = np.moveaxis(IMAGES, -1, 1).copy()
    try:
        keras.config.set_image_data_format("channels_first")
        lamina.backend.set_image_data_format("channels_first")
        k_model, l_model = _pair(
            builder, {"include_top": False, "alpha": 0.75, "input_shape": (3, 32, 32)}
        )
        _randomize(k_model)
        l_model.set_weights(k_model.get_weights())
        np.testing.assert_allclose(
            _predict(l_model, images), _predict(k_model, images), rtol=1e-4, atol=1e-4
        )
        assert tuple(l_model.output_shape)[1] == tuple(k_model.output_shape)[1]
    finally:
        keras.config.set_image_data_format("channels_last")
        lamina.backend.set_image_data_format("channels_last")
