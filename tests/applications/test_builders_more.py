"""Xception, InceptionV3, EfficientNet and ConvNeXt against Keras: same layers,
weights and predictions (see test_builders.py for the first families)."""

import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina import applications  # noqa: E402
from lamina.utils import file_utils  # noqa: E402

keras = pytest.importorskip("keras")

RNG = np.random.RandomState(1)
# Images at the smallest side each family accepts (71, 75, 32, 32).
IMAGES = {
    side: RNG.uniform(0, 255, (2, side, side, 3)).astype("float32")
    for side in (32, 71, 75)
}

# (builder, kwargs): one variant per family with a forward pass.
CASES = [
    ("Xception", {"include_top": False, "input_shape": (71, 71, 3)}),
    ("InceptionV3", {"include_top": True, "classes": 3, "input_shape": (75, 75, 3)}),
    ("EfficientNetB0", {"include_top": False, "pooling": "avg"}),
    ("ConvNeXtTiny", {"include_top": True, "classes": 4}),
]
# Larger variants: structure only, no forward pass.
STRUCTURE_ONLY = [
    "EfficientNetB1",
    "EfficientNetB2",
    "EfficientNetB3",
    "EfficientNetB4",
    "EfficientNetB5",
    "ConvNeXtSmall",
    "ConvNeXtBase",
]
# The largest variants differ from the ones above only in width and depth:
# (builder, Keras 3.15.1's count_params() and layer count with classes=10),
# recorded once, so the tests need not build each model twice.
LARGEST = [
    ("EfficientNetB6", 40983193, 669),
    ("EfficientNetB7", 64123297, 816),
    ("ConvNeXtLarge", 196245706, 261),
    ("ConvNeXtXLarge", 348168458, 261),
]


def _build(lib, builder, kwargs, weights=None):
    kwargs = {"input_shape": (32, 32, 3), **kwargs}
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
        elif w.path.endswith("gamma") or "layer_scale" in w.path:
            value = rng.uniform(0.8, 1.2, value.shape)
        values.append(value.astype("float32"))
    k_model.set_weights(values)


def _images(model):
    return IMAGES[model.input_shape[1]]


def _predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def _short_paths(model):
    # Two known naming differences that no weights file depends on: lamina
    # names a weight inside a nested model (ConvNeXt's Sequential stem) by its
    # own layer only, where Keras prefixes the nested model's name; and an
    # unnamed weight (LayerScale's gamma) is "variable" in lamina, where Keras
    # numbers it with a global counter ("variable_7").
    return [
        re.sub(r"/variable_\d+$", "/variable", "/".join(w.path.split("/")[-2:]))
        for w in model.weights
    ]


def _assert_same_structure(k_model, l_model):
    assert l_model.name == k_model.name
    assert [layer.name for layer in l_model.layers] == [
        layer.name for layer in k_model.layers
    ]
    assert _short_paths(l_model) == _short_paths(k_model)
    assert [tuple(w.shape) for w in l_model.weights] == [
        tuple(w.shape) for w in k_model.weights
    ]
    assert l_model.count_params() == k_model.count_params()
    assert tuple(l_model.output_shape) == tuple(k_model.output_shape)


@pytest.mark.parametrize(("builder", "kwargs"), CASES)
def test_same_layers_weights_and_outputs_as_keras(builder, kwargs):
    k_model, l_model = _pair(builder, kwargs)
    _assert_same_structure(k_model, l_model)
    _randomize(k_model)
    l_model.set_weights(k_model.get_weights())
    images = _images(k_model)
    expected = _predict(k_model, images)
    np.testing.assert_allclose(
        _predict(l_model, images), expected, rtol=1e-4, atol=1e-4
    )
    assert np.abs(expected).max() > 0


@pytest.mark.parametrize("builder", STRUCTURE_ONLY)
def test_larger_variants_have_keras_layers_and_parameter_counts(builder):
    k_model, l_model = _pair(builder, {"include_top": True, "classes": 10})
    _assert_same_structure(k_model, l_model)


@pytest.mark.parametrize(("builder", "params", "n_layers"), LARGEST)
def test_largest_variants_have_keras_parameter_counts(builder, params, n_layers):
    lamina.utils.clear_session()
    model = _build(lamina, builder, {"include_top": True, "classes": 10})
    assert model.count_params() == params
    assert len(model.layers) == n_layers
    assert tuple(model.output_shape) == (None, 10)


def test_public_names_match_keras_applications():
    for module in ("xception", "inception_v3", "efficientnet", "convnext"):
        public = {n for n in dir(getattr(applications, module)) if n[0] != "_"}
        theirs = {n for n in dir(getattr(keras.applications, module)) if n[0] != "_"}
        assert theirs <= public, (module, theirs - public)
        for name in theirs:
            if name[0].isupper():
                assert getattr(applications, name) is getattr(
                    getattr(applications, module), name
                )


def test_efficientnet_imagenet_structure_adds_the_keras_rescaling(monkeypatch):
    # With imagenet weights Keras inserts a third preprocessing layer; the
    # model must match it layer for layer so the published file loads.
    class Stop(Exception):
        pass

    models = []

    def capture(model, *args, **kwargs):
        models.append(model)
        raise Stop

    monkeypatch.setattr(applications.imagenet_utils, "_load_weights", capture)
    keras.utils.clear_session()
    lamina.utils.clear_session()
    with pytest.raises(Stop):
        applications.EfficientNetB0(weights="imagenet", include_top=False)
    k_model = keras.applications.EfficientNetB0(weights=None, include_top=False)
    names = [layer.name for layer in models[0].layers]
    assert names[:4] == ["input_layer", "rescaling", "normalization", "rescaling_1"]
    assert names[4:] == [layer.name for layer in k_model.layers][3:]
    scale = models[0].layers[3](np.ones((1, 1, 1, 3), "float32"))
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(scale).ravel(),
        1 / np.sqrt([0.229, 0.224, 0.225]),
        rtol=1e-6,
    )


def test_preprocess_input_matches_keras():
    x = IMAGES[32]
    for module in ("xception", "inception_v3", "efficientnet", "convnext"):
        ours = getattr(applications, module).preprocess_input(x.copy())
        theirs = getattr(keras.applications, module).preprocess_input(x.copy())
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6)
    assert applications.convnext.preprocess_input(x) is x


def _legacy_h5(k_model, path):
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, k_model)
    return str(path)


@pytest.mark.parametrize("builder", ["Xception", "ConvNeXtTiny"])
def test_weights_files_move_both_ways_between_lamina_and_keras(builder, tmp_path):
    kwargs = dict(CASES)[builder]
    k_model, l_model = _pair(builder, kwargs)
    _randomize(k_model)
    images = _images(k_model)
    expected = _predict(k_model, images)
    # Keras -> lamina: Keras 3 file, then a legacy Keras 2 .h5 (the format of
    # the published imagenet files).
    k_model.save_weights(tmp_path / "k.weights.h5")
    l_model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(
        _predict(l_model, images), expected, rtol=1e-4, atol=1e-4
    )
    lamina.utils.clear_session()
    legacy = _legacy_h5(k_model, tmp_path / "legacy.h5")
    from_legacy = _build(lamina, builder, kwargs, weights=legacy)
    np.testing.assert_allclose(
        _predict(from_legacy, images), expected, rtol=1e-4, atol=1e-4
    )
    # lamina -> a fresh Keras model
    l_model.save_weights(tmp_path / "l.weights.h5")
    fresh = _build(keras, builder, kwargs)
    fresh.load_weights(tmp_path / "l.weights.h5")
    np.testing.assert_allclose(_predict(fresh, images), expected, rtol=1e-4, atol=1e-4)


KA = "https://storage.googleapis.com/tensorflow/keras-applications/"
# (builder, kwargs, file name, origin, hash) as Keras passes them.
IMAGENET_FILES = [
    (
        "Xception",
        {"include_top": True, "input_shape": None},
        "xception_weights_tf_dim_ordering_tf_kernels.h5",
        KA + "xception/xception_weights_tf_dim_ordering_tf_kernels.h5",
        "0a58e3b7378bc2990ea3b43d5981f1f6",
    ),
    (
        "Xception",
        {"include_top": False, "input_shape": (71, 71, 3)},
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        KA + "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97",
    ),
    (
        "InceptionV3",
        {"include_top": False, "input_shape": (75, 75, 3)},
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        KA + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    (
        "EfficientNetB0",
        {"include_top": False},
        "efficientnetb0_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        "50bc09e76180e00e4465e1a485ddc09d",
    ),
    (
        "EfficientNetB3",
        {"include_top": True, "input_shape": None},
        "efficientnetb3.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb3.h5",
        "ffd1fdc53d0ce67064dc6a9c7960ede0",
    ),
    (
        "ConvNeXtTiny",
        {"include_top": False},
        "convnext_tiny_notop.h5",
        KA + "convnext/convnext_tiny_notop.h5",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
    ),
    (
        "ConvNeXtSmall",
        {"include_top": True, "input_shape": None},
        "convnext_small.h5",
        KA + "convnext/convnext_small.h5",
        "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
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
    kwargs = {"input_shape": (32, 32, 3), **kwargs}
    with pytest.raises(_Fetched):
        getattr(applications, builder)(weights="imagenet", **kwargs)
    assert calls == [((fname, origin), {"cache_subdir": "models", "file_hash": md5})]


# (builder, kwargs, message) that Keras rejects too.
BAD = [
    ("Xception", {"include_top": False, "input_shape": (64, 64, 3)}, "at least 71"),
    ("InceptionV3", {"include_top": False, "input_shape": (71, 71, 3)}, "at least 75"),
    ("InceptionV3", {"weights": "imagenet", "classes": 10}, "should be 1000"),
    (
        "EfficientNetB1",
        {"weights": "imagenet", "input_shape": (224, 224, 3)},
        r"should be \(240, 240, 3\)",
    ),
    ("EfficientNetB0", {"weights": "no/such/file.h5"}, "`weights` argument"),
    (
        "ConvNeXtTiny",
        {"weights": "imagenet", "name": "my_model", "include_top": False},
        "convnext_tiny",
    ),
    (
        "ConvNeXtBase",
        {"weights": "imagenet", "classifier_activation": "relu"},
        "softmax",
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


def test_convnext_rejects_channels_first():
    try:
        lamina.backend.set_image_data_format("channels_first")
        with pytest.raises(ValueError, match="channels_last"):
            applications.ConvNeXtTiny(weights=None, input_shape=(3, 32, 32))
    finally:
        lamina.backend.set_image_data_format("channels_last")


def test_inception_v3_channels_first_matches_keras():
    images = np.moveaxis(IMAGES[75], -1, 1).copy()
    try:
        keras.config.set_image_data_format("channels_first")
        lamina.backend.set_image_data_format("channels_first")
        k_model, l_model = _pair(
            "InceptionV3", {"include_top": False, "input_shape": (3, 75, 75)}
        )
        _randomize(k_model)
        l_model.set_weights(k_model.get_weights())
        np.testing.assert_allclose(
            _predict(l_model, images), _predict(k_model, images), rtol=1e-4, atol=1e-4
        )
    finally:
        keras.config.set_image_data_format("channels_last")
        lamina.backend.set_image_data_format("channels_last")
