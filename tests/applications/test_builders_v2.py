"""EfficientNetV2, InceptionResNetV2 and NASNet against Keras: same layers,
weights and predictions, and Keras's published weight files."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import applications  # noqa: E402
from lamina.initializers import random_initializers  # noqa: E402
from lamina.utils import file_utils  # noqa: E402

keras = pytest.importorskip("keras")

RNG = np.random.RandomState(1)
IMAGES = {
    shape: RNG.uniform(0, 255, (2,) + shape).astype("float32")
    for shape in ((32, 32, 3), (75, 75, 3))
}
NASNET_MOBILE_ARGS = {
    "penultimate_filters": 1056,
    "num_blocks": 4,
    "stem_block_filters": 32,
    "skip_reduction": False,
    "default_size": 224,
    "name": "nasnet_mobile",
}

# (builder, kwargs): one forward pass per family, logits so nothing saturates.
CASES = [
    ("EfficientNetV2B0", {"classes": 3, "classifier_activation": None}),
    (
        "InceptionResNetV2",
        {"input_shape": (75, 75, 3), "classes": 3, "classifier_activation": None},
    ),
    ("NASNetMobile", {"classes": 3, "classifier_activation": None}),
]
# (builder, Keras 3.15.1's count_params() and layer count with classes=10),
# recorded once from Keras (each built in lamina and Keras and compared layer
# by layer then): building these twice per run would take minutes.
LARGER = [
    ("EfficientNetV2B1", 6943934, 337),
    ("EfficientNetV2B2", 8783464, 352),
    ("EfficientNetV2B3", 12945992, 412),
    ("EfficientNetV2S", 20344170, 516),
    ("EfficientNetV2M", 53163198, 743),
    ("EfficientNetV2L", 117759658, 1031),
    ("NASNetLarge", 84957148, 1041),
]


@pytest.fixture
def fast_init(monkeypatch):
    """Zeros for truncated-normal initializers: structure tests need no
    random values, and drawing ~100M of them dominates the build time."""

    def zeros(shape, mean, stddev, dtype, seed, device):
        dtype = lamina.backend.standardize_dtype(dtype or lamina.backend.floatx())
        return torch.zeros(tuple(shape), dtype=lamina.backend.to_torch_dtype(dtype))

    monkeypatch.setattr(random_initializers, "_truncated_normal", zeros)


def _build(lib, builder, kwargs, weights=None):
    kwargs = {"input_shape": (32, 32, 3), **kwargs}
    if lib is keras and builder == "NASNetMobile":
        # Keras refuses NASNetMobile on its torch backend; its generic NASNet
        # with the mobile arguments builds the same model.
        from keras.src.applications import nasnet

        shape = kwargs.pop("input_shape")
        return nasnet.NASNet(shape, weights=weights, **NASNET_MOBILE_ARGS, **kwargs)
    return getattr(lib.applications, builder)(weights=weights, **kwargs)


def _pair(builder, kwargs):
    keras.utils.clear_session()
    lamina.utils.clear_session()
    return _build(keras, builder, kwargs), _build(lamina, builder, kwargs)


def _randomize(k_model):
    """Non-trivial statistics, biases, scales, so a wrong wiring shows."""
    rng = np.random.RandomState(0)
    values = []
    for w in k_model.weights:
        value = np.asarray(w.numpy())
        if w.path.endswith(("moving_variance", "/variance")):
            value = rng.uniform(0.5, 1.5, value.shape)
        elif w.path.endswith(("moving_mean", "beta", "bias", "/mean")):
            value = rng.normal(0, 0.1, value.shape)
        elif w.path.endswith("gamma"):
            value = rng.uniform(0.8, 1.2, value.shape)
        values.append(value.astype("float32"))
    k_model.set_weights(values)


def _predict(model, x):
    # A direct call: predict()'s loop set-up costs more than the forward pass.
    lib = keras if isinstance(model, keras.Model) else lamina
    return lib.ops.convert_to_numpy(model(x, training=False))


def _assert_same_structure(k_model, l_model):
    assert l_model.name == k_model.name
    assert [layer.name for layer in l_model.layers] == [
        layer.name for layer in k_model.layers
    ]
    assert [w.path.split("/")[-2:] for w in l_model.weights] == [
        w.path.split("/")[-2:] for w in k_model.weights
    ]
    assert [tuple(w.shape) for w in l_model.weights] == [
        tuple(w.shape) for w in k_model.weights
    ]
    assert l_model.count_params() == k_model.count_params()
    assert tuple(l_model.output_shape) == tuple(k_model.output_shape)


@pytest.mark.parametrize(("builder", "kwargs"), CASES)
def test_same_layers_weights_and_outputs_and_files_as_keras(
    builder, kwargs, fast_init, tmp_path
):
    # fast_init: lamina's initial values are overwritten with Keras's below.
    k_model, l_model = _pair(builder, kwargs)
    _assert_same_structure(k_model, l_model)
    _randomize(k_model)
    l_model.set_weights(k_model.get_weights())
    images = IMAGES[k_model.input_shape[1:]]
    if builder.startswith(("Inception", "NASNet")):
        images = images / 127.5 - 1  # what their preprocess_input gives
    expected = _predict(k_model, images)
    scale = np.abs(expected).max()
    assert scale > 0
    tolerance = {"rtol": 1e-4, "atol": 1e-5 * max(scale, 1)}
    np.testing.assert_allclose(_predict(l_model, images), expected, **tolerance)

    # Keras's published imagenet files are legacy Keras 2 .h5, read by layer
    # order: a Keras-written one must restore the scrambled lamina model.
    from keras.src.legacy.saving import legacy_h5_format

    legacy = str(tmp_path / "legacy.h5")
    with h5py.File(legacy, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, k_model)
    l_model.set_weights([np.zeros(w.shape, "float32") for w in l_model.weights])
    l_model.load_weights(legacy)
    np.testing.assert_allclose(_predict(l_model, images), expected, **tolerance)
    # lamina -> a Keras 3 file -> the scrambled Keras model.
    l_model.save_weights(tmp_path / "l.weights.h5")
    k_model.set_weights([np.zeros(w.shape, "float32") for w in k_model.weights])
    k_model.load_weights(tmp_path / "l.weights.h5")
    np.testing.assert_allclose(_predict(k_model, images), expected, **tolerance)


@pytest.mark.parametrize(("builder", "params", "n_layers"), LARGER)
def test_larger_variants_have_keras_parameter_counts(
    builder, params, n_layers, fast_init
):
    lamina.utils.clear_session()
    model = _build(lamina, builder, {"include_top": True, "classes": 10})
    assert model.count_params() == params
    assert len(model.layers) == n_layers
    assert tuple(model.output_shape) == (None, 10)


def test_public_names_match_keras_applications():
    for module in ("efficientnet_v2", "inception_resnet_v2", "nasnet"):
        public = {n for n in dir(getattr(applications, module)) if n[0] != "_"}
        theirs = {n for n in dir(getattr(keras.applications, module)) if n[0] != "_"}
        assert theirs <= public, (module, theirs - public)
        for name in theirs:
            if name[0].isupper():
                assert name in applications.__all__
                assert getattr(applications, name) is getattr(
                    getattr(applications, module), name
                )


def test_preprocess_input_matches_keras():
    x = IMAGES[(32, 32, 3)]
    for module in ("efficientnet_v2", "inception_resnet_v2", "nasnet"):
        ours = getattr(applications, module).preprocess_input(x.copy())
        theirs = getattr(keras.applications, module).preprocess_input(x.copy())
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6)
    assert applications.efficientnet_v2.preprocess_input(x) is x


def test_efficientnet_v2_preprocessing_layers_follow_the_variant(fast_init):
    # B variants standardize with the ImageNet statistics, S/M/L scale to
    # [-1, 1]; include_preprocessing=False leaves the input as it is.
    lamina.utils.clear_session()
    x = np.full((1, 32, 32, 3), 255.0, "float32")
    b0 = applications.EfficientNetV2B0(weights=None, include_top=False)
    s = applications.EfficientNetV2S(weights=None, include_top=False)
    raw = applications.EfficientNetV2S(
        weights=None, include_top=False, include_preprocessing=False
    )
    assert [type(layer).__name__ for layer in b0.layers[1:3]] == [
        "Rescaling",
        "Normalization",
    ]
    standardized = b0.layers[2](b0.layers[1](x))
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(standardized)[0, 0, 0],
        (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(s.layers[1](x)), 255 / 128 - 1, rtol=1e-6
    )
    assert raw.layers[1].name == "stem_conv"


def test_efficientnet_v2_takes_a_custom_name(fast_init, monkeypatch):
    # Keras looks the stages up by the model's name and fails on any other;
    # lamina's builders know their variant, and the file keeps its name.
    lamina.utils.clear_session()
    model = applications.EfficientNetV2B0(
        weights=None, include_top=False, name="backbone"
    )
    assert model.name == "backbone"
    assert model.count_params() == 5919312
    calls = []

    def fake_get_file(*args, **kw):
        calls.append(args[0])
        raise _Fetched

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    with pytest.raises(_Fetched):
        applications.EfficientNetV2B0(include_top=False, name="backbone")
    assert calls == ["efficientnetv2-b0_notop.h5"]


KA = "https://storage.googleapis.com/tensorflow/keras-applications/"
# (builder, kwargs, file name, origin, md5) as Keras passes them.
IMAGENET_FILES = [
    (
        "EfficientNetV2B0",
        {"include_top": False},
        "efficientnetv2-b0_notop.h5",
        KA + "efficientnet_v2/efficientnetv2-b0_notop.h5",
        "893217f2bb855e2983157299931e43ff",
    ),
    (
        "EfficientNetV2B3",
        {"include_top": True, "input_shape": None},
        "efficientnetv2-b3.h5",
        KA + "efficientnet_v2/efficientnetv2-b3.h5",
        "1f1fc43bd98a6e4fd8fdfd551e02c7a0",
    ),
    (
        "EfficientNetV2S",
        {"include_top": False},
        "efficientnetv2-s_notop.h5",
        KA + "efficientnet_v2/efficientnetv2-s_notop.h5",
        "af0682fb74e8c54910f2d4393339c070",
    ),
    (
        "InceptionResNetV2",
        {"include_top": False, "input_shape": (75, 75, 3)},
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        KA
        + "inception_resnet_v2/"
        + "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "d19885ff4a710c122648d3b5c3b684e4",
    ),
    (
        "NASNetMobile",
        {"include_top": True, "input_shape": None},
        "nasnet_mobile.h5",
        KA + "nasnet/NASNet-mobile.h5",
        "020fb642bf7360b370c678b08e0adf61",
    ),
    (
        "NASNetLarge",
        {"include_top": False},
        "nasnet_large_no_top.h5",
        KA + "nasnet/NASNet-large-no-top.h5",
        "d81d89dc07e6e56530c4e77faddd61b5",
    ),
]


class _Fetched(Exception):
    pass


@pytest.mark.parametrize(
    ("builder", "kwargs", "fname", "origin", "md5"), IMAGENET_FILES
)
def test_imagenet_weights_ask_get_file_for_keras_published_file(
    builder, kwargs, fname, origin, md5, monkeypatch, fast_init
):
    calls = []

    def fake_get_file(*args, **kw):
        calls.append((args, kw))
        raise _Fetched

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    lamina.utils.clear_session()
    kwargs = {"input_shape": (32, 32, 3), **kwargs}
    with pytest.raises(_Fetched):
        getattr(applications, builder)(weights="imagenet", **kwargs)
    assert calls == [((fname, origin), {"cache_subdir": "models", "file_hash": md5})]


# (builder, kwargs, message) that Keras rejects too.
BAD = [
    (
        "EfficientNetV2B1",
        {"weights": "imagenet", "input_shape": (224, 224, 3)},
        r"should be \(240, 240, 3\)",
    ),
    ("EfficientNetV2S", {"weights": "no/such/file.h5"}, "`weights` argument"),
    ("InceptionResNetV2", {"include_top": False, "input_shape": (71, 71, 3)}, "75"),
    ("InceptionResNetV2", {"weights": "imagenet", "classes": 10}, "should be 1000"),
    (
        "NASNetLarge",
        {"weights": "imagenet", "include_top": False, "input_shape": (None, None, 3)},
        "static",
    ),
]


@pytest.mark.parametrize(("builder", "kwargs", "message"), BAD)
def test_bad_arguments_raise_where_keras_raises(builder, kwargs, message, monkeypatch):
    # Nothing may be downloaded: a builder that gets past its checks fails here.
    monkeypatch.setattr(file_utils, "get_file", pytest.fail)
    lamina.utils.clear_session()
    with pytest.raises(ValueError, match=message):
        getattr(applications, builder)(**kwargs)
    with pytest.raises(ValueError):
        getattr(keras.applications, builder)(**kwargs)


def test_nasnet_checks_its_arguments():
    with pytest.raises(ValueError, match=r"multiple of 24 \* filter_multiplier"):
        applications.nasnet.NASNet((32, 32, 3), penultimate_filters=1000, weights=None)
    with pytest.raises(ValueError, match="only for NASNetLarge|exist only"):
        applications.nasnet.NASNet(
            (32, 32, 3), include_top=False, default_size=128, weights="imagenet"
        )
    try:
        lamina.backend.set_image_data_format("channels_first")
        with pytest.raises(ValueError, match="channels_last"):
            applications.NASNetMobile(weights=None, input_shape=(3, 32, 32))
    finally:
        lamina.backend.set_image_data_format("channels_last")


def test_inception_resnet_block_rejects_unknown_block_type():
    x = lamina.Input((8, 8, 4))
    with pytest.raises(ValueError, match="block_type='block9'"):
        applications.inception_resnet_v2.inception_resnet_block(x, 0.1, "block9", 1)


def test_efficientnet_v2_checks_its_arguments():
    v2 = applications.efficientnet_v2
    with pytest.raises(ValueError, match="name='mine'"):
        v2.EfficientNetV2(1.0, 1.0, 224, name="mine", weights=None)
    with pytest.raises(ValueError, match="weights_name=None"):
        v2.EfficientNetV2(1.0, 1.0, 224, name="efficientnetv2-b0")
    stages = [dict(v2.DEFAULT_BLOCKS_ARGS["efficientnetv2-b0"][0], num_repeat=0)]
    with pytest.raises(ValueError, match=r"num_repeat=0 in blocks_args\[0\]"):
        v2.EfficientNetV2(1.0, 1.0, 224, blocks_args=stages, weights=None)


def test_efficientnet_v2_channels_first_matches_keras(fast_init):
    images = np.moveaxis(IMAGES[(32, 32, 3)], -1, 1).copy()
    try:
        keras.config.set_image_data_format("channels_first")
        lamina.backend.set_image_data_format("channels_first")
        k_model, l_model = _pair(
            "EfficientNetV2B0", {"include_top": False, "input_shape": (3, 32, 32)}
        )
        _randomize(k_model)
        l_model.set_weights(k_model.get_weights())
        expected = _predict(k_model, images)
        assert expected.shape == (2, 1280, 1, 1)
        np.testing.assert_allclose(
            _predict(l_model, images), expected, rtol=1e-4, atol=1e-4
        )
    finally:
        keras.config.set_image_data_format("channels_last")
        lamina.backend.set_image_data_format("channels_last")
