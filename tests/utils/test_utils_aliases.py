"""lamina.utils names Keras 3 re-exports or adds there: serialization helpers,
data packing, dtype/tensor helpers, Config, interactive logging and images."""

import io
import logging
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import saving, utils  # noqa: E402
from lamina.backend import keras_tensor  # noqa: E402
from lamina.trainers.data_adapters import data_adapter_utils  # noqa: E402
from lamina.utils import io_utils  # noqa: E402

keras = pytest.importorskip("keras")
PIL = pytest.importorskip("PIL")


@pytest.mark.parametrize(
    "name",
    [
        "register_keras_serializable",
        "get_custom_objects",
        "custom_object_scope",
        "CustomObjectScope",
        "serialize_keras_object",
        "deserialize_keras_object",
        "get_registered_name",
        "get_registered_object",
    ],
)
def test_saving_helpers_are_the_same_objects(name):
    assert getattr(utils, name) is getattr(saving, name)


def test_other_re_exports_are_the_same_objects():
    assert utils.pack_x_y_sample_weight is data_adapter_utils.pack_x_y_sample_weight
    assert utils.unpack_x_y_sample_weight is data_adapter_utils.unpack_x_y_sample_weight
    assert utils.is_keras_tensor is keras_tensor.is_keras_tensor
    assert utils.standardize_dtype is lamina.backend.standardize_dtype


ADDED = [
    "Config",
    "CustomObjectScope",
    "array_to_img",
    "custom_object_scope",
    "deserialize_keras_object",
    "disable_interactive_logging",
    "enable_interactive_logging",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "get_source_inputs",
    "img_to_array",
    "is_interactive_logging_enabled",
    "is_keras_tensor",
    "load_img",
    "pack_x_y_sample_weight",
    "register_keras_serializable",
    "save_img",
    "serialize_keras_object",
    "standardize_dtype",
    "unpack_x_y_sample_weight",
]


@pytest.mark.parametrize("name", ADDED)
def test_added_names_are_public_keras_utils_names(name):
    assert name in utils.__all__
    assert hasattr(keras.utils, name)


@pytest.mark.parametrize("n_args", [2, 3])
def test_pack_and_unpack_match_keras(n_args):
    args = (np.ones(2), np.zeros(2), np.full(2, 0.5))[:n_args]
    packed = utils.pack_x_y_sample_weight(*args)
    want_packed = keras.utils.pack_x_y_sample_weight(*args)
    assert type(packed) is type(want_packed) is tuple
    assert len(packed) == len(want_packed) == n_args
    assert all(a is b for a, b in zip(packed, want_packed))
    unpacked = utils.unpack_x_y_sample_weight(packed)
    want = keras.utils.unpack_x_y_sample_weight(packed)
    assert len(unpacked) == len(want) == 3
    assert all(a is b for a, b in zip(unpacked, want))


def test_pack_of_tuple_x_alone_wraps_it_like_keras():
    x = (np.ones(2), np.zeros(2))
    packed = utils.pack_x_y_sample_weight(x)
    assert type(packed) is tuple and len(packed) == 1 and packed[0] is x
    assert utils.unpack_x_y_sample_weight(packed)[0] is x


def test_pack_of_single_array_returns_it_unwrapped_like_keras():
    x = np.ones(2)
    assert utils.pack_x_y_sample_weight(x) is keras.utils.pack_x_y_sample_weight(x)
    assert utils.pack_x_y_sample_weight([x, x]) == ([x, x],)


def test_get_source_inputs_finds_each_input_once_in_keras_order():
    a, b, c = lamina.Input((2,)), lamina.Input((2,)), lamina.Input((2,))
    shared = lamina.layers.Dense(2)
    left = shared(lamina.layers.Add()([b, a]))
    out = lamina.layers.Concatenate()([left, shared(a), c, left])
    sources = utils.get_source_inputs(out)
    assert len(sources) == 3
    assert all(s is t for s, t in zip(sources, (b, a, c)))
    assert utils.get_source_inputs(a)[0] is a and len(utils.get_source_inputs(a)) == 1

    ka, kb, kc = keras.Input((2,)), keras.Input((2,)), keras.Input((2,))
    kshared = keras.layers.Dense(2)
    kleft = kshared(keras.layers.Add()([kb, ka]))
    kout = keras.layers.Concatenate()([kleft, kshared(ka), kc, kleft])
    ksources = keras.utils.get_source_inputs(kout)
    assert [id(s) for s in ksources] == [id(kb), id(ka), id(kc)]


def test_get_source_inputs_passes_non_symbolic_values_through():
    value = torch.ones(2)
    assert utils.get_source_inputs(value) is value


def test_get_source_inputs_handles_deep_residual_graphs():
    x = inputs = lamina.Input((2,))
    for _ in range(300):
        x = lamina.layers.Add()([x, lamina.layers.Identity()(x)])
    sources = utils.get_source_inputs(x)
    assert len(sources) == 1 and sources[0] is inputs


# --- Config -------------------------------------------------------------------


def _both_configs(**kwargs):
    return utils.Config(**kwargs), keras.utils.Config(**kwargs)


def test_config_reads_and_writes_like_keras():
    ours, theirs = _both_configs(learning_rate=0.1, momentum=0.9)
    for config in (ours, theirs):
        config.use_ema = True
        config["seed"] = 123
        config.update(b=2, a=1)
        assert config.pop("b") == 2
        del config["momentum"]
    assert ours.as_dict() == theirs.as_dict()
    assert list(ours) == list(theirs) == ["a", "learning_rate", "seed", "use_ema"]
    assert list(ours.keys()) == list(theirs.keys())
    assert list(ours.values()) == list(theirs.values())
    assert list(ours.items()) == list(theirs.items())
    assert ours.to_json() == theirs.to_json()
    assert repr(ours) == repr(theirs)
    assert len(ours) == len(theirs) == 4
    assert ("seed" in ours) and ("momentum" not in ours)
    assert ours.get("missing", 7) == theirs.get("missing", 7) == 7
    assert ours.seed == ours["seed"] == 123


def test_config_as_dict_is_a_copy():
    config = utils.Config(a=1)
    snapshot = config.as_dict()
    snapshot["a"] = 2
    assert config.a == 1


def test_config_unknown_attribute_suggests_a_close_name():
    config = utils.Config(learning_rate=0.1)
    with pytest.raises(AttributeError, match="Did you mean 'learning_rate'"):
        config.learning_rat  # noqa: B018


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: setattr(c, "x", 1),
        lambda c: c.__setitem__("x", 1),
        lambda c: c.__delitem__("a"),
        lambda c: c.pop("a"),
        lambda c: c.update(a=2),
    ],
)
def test_frozen_config_refuses_every_change_until_unfrozen(mutate):
    ours, theirs = _both_configs(a=1)
    for config in (ours, theirs):
        config.freeze()
        assert config.frozen
        with pytest.raises(ValueError):
            mutate(config)
    with pytest.raises(ValueError, match="Config is frozen.*unfreeze"):
        mutate(ours)
    assert ours.as_dict() == {"a": 1}
    ours.unfreeze()
    assert not ours.frozen
    mutate(ours)


def test_config_methods_are_not_settings():
    config = utils.Config()
    config.freeze()
    config.unfreeze()
    assert config.as_dict() == {}
    with pytest.raises(AttributeError):
        config.frozen = True


def test_config_copies():
    import copy

    config = utils.Config(a=[1])
    clone = copy.deepcopy(config)
    clone.a.append(2)
    assert config.a == [1] and clone.a == [1, 2]


# --- interactive logging ----------------------------------------------------------


@pytest.fixture
def restore_logging():
    yield
    utils.enable_interactive_logging()


def test_interactive_logging_is_on_by_default_and_toggles(restore_logging):
    assert utils.is_interactive_logging_enabled() is True
    utils.disable_interactive_logging()
    assert utils.is_interactive_logging_enabled() is False
    utils.enable_interactive_logging()
    assert utils.is_interactive_logging_enabled() is True


def test_print_msg_goes_to_stdout_or_to_the_lamina_logger(
    restore_logging, capsys, caplog
):
    io_utils.print_msg("step 1", line_break=False)
    io_utils.print_msg("step 2")
    assert capsys.readouterr().out == "step 1step 2\n"
    utils.disable_interactive_logging()
    with caplog.at_level(logging.INFO, logger="lamina"):
        io_utils.print_msg("step 3")
    assert capsys.readouterr().out == ""
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("lamina", logging.INFO, "step 3")
    ]


def test_summaries_and_progress_bars_follow_the_switch(restore_logging, capsys, caplog):
    import lamina

    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    utils.disable_interactive_logging()
    with caplog.at_level(logging.INFO, logger="lamina"):
        model.summary()
        model.fit(x, y, epochs=2, verbose=1)
    assert capsys.readouterr().out == ""
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Total params: 8" in logged and "Epoch 2/2" in logged and "loss:" in logged
    utils.enable_interactive_logging()
    model.summary()
    assert "Trainable params: 8" in capsys.readouterr().out


# --- images -------------------------------------------------------------------------


def _image_array(channels):
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(5, 7, channels)).astype("float32")


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("scale", [True, False])
def test_array_to_img_and_back_match_keras(channels, data_format, scale):
    x = _image_array(channels)
    if data_format == "channels_first":
        x = x.transpose(2, 0, 1)
    ours = utils.array_to_img(x, data_format=data_format, scale=scale)
    theirs = keras.utils.array_to_img(x, data_format=data_format, scale=scale)
    assert ours.mode == theirs.mode and ours.size == theirs.size
    back = utils.img_to_array(ours, data_format=data_format)
    want = keras.utils.img_to_array(theirs, data_format=data_format)
    assert back.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(back, want)


def test_array_to_img_keeps_large_grayscale_values_when_unscaled():
    x = np.full((2, 2, 1), 1000.0)
    image = utils.array_to_img(x, scale=False)
    assert image.mode == "I"
    np.testing.assert_array_equal(
        utils.img_to_array(image, dtype="int32")[..., 0], 1000
    )


@pytest.mark.parametrize(
    "shape, match",
    [((4, 4), "rank 3"), ((4, 4, 2), "1 .*3 .*4 .*got .* 2 channels")],
)
def test_array_to_img_rejects_bad_shapes(shape, match):
    with pytest.raises(ValueError, match=match):
        utils.array_to_img(np.zeros(shape))


def test_image_functions_reject_unknown_data_format():
    with pytest.raises(ValueError, match="data_format='nhwc'"):
        utils.img_to_array(np.zeros((2, 2)), data_format="nhwc")


@pytest.mark.parametrize("file_format", ["png", "bmp"])
def test_save_and_load_img_round_trip_like_keras(tmp_path, file_format):
    x = _image_array(3)
    path = tmp_path / f"image.{file_format}"
    utils.save_img(path, x, scale=False)
    ours = utils.img_to_array(utils.load_img(path))
    theirs = keras.utils.img_to_array(keras.utils.load_img(str(path)))
    np.testing.assert_array_equal(ours, x)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("color_mode", ["grayscale", "rgb", "rgba"])
@pytest.mark.parametrize(
    "target_size, interpolation, keep_aspect_ratio",
    [
        (None, "nearest", False),
        ((4, 4), "bilinear", False),
        ((3, 6), "bicubic", True),
        ((6, 3), "lanczos", True),
    ],
)
def test_load_img_matches_keras(
    tmp_path, color_mode, target_size, interpolation, keep_aspect_ratio
):
    path = tmp_path / "image.png"
    keras.utils.save_img(str(path), _image_array(4))
    kwargs = dict(
        color_mode=color_mode,
        target_size=target_size,
        interpolation=interpolation,
        keep_aspect_ratio=keep_aspect_ratio,
    )
    ours = utils.load_img(path, **kwargs)
    theirs = keras.utils.load_img(str(path), **kwargs)
    assert ours.mode == theirs.mode and ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_load_img_reads_bytes_io_and_save_img_writes_file_objects():
    buffer = io.BytesIO()
    utils.save_img(buffer, _image_array(3), file_format="png", scale=False)
    buffer.seek(0)
    np.testing.assert_array_equal(
        utils.img_to_array(utils.load_img(buffer)), _image_array(3)
    )


def test_save_img_warns_and_drops_alpha_for_jpeg(tmp_path):
    with pytest.warns(UserWarning, match="JPEG cannot store an alpha channel"):
        utils.save_img(tmp_path / "image.jpg", _image_array(4))
    assert utils.load_img(tmp_path / "image.jpg", color_mode="rgba").size == (7, 5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"color_mode": "cmyk"}, ValueError, "color_mode='cmyk'"),
        (
            {"target_size": (2, 2), "interpolation": "area"},
            ValueError,
            "interpolation='area'",
        ),
    ],
)
def test_load_img_rejects_bad_arguments(tmp_path, kwargs, error, match):
    path = tmp_path / "image.png"
    utils.save_img(path, _image_array(3))
    with pytest.raises(error, match=match):
        utils.load_img(path, **kwargs)


def test_load_img_rejects_paths_of_other_types():
    with pytest.raises(TypeError, match="got int"):
        utils.load_img(3)


def test_image_functions_name_the_extra_when_pillow_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(ImportError, match=r'pip install "lamina\[image\]"'):
        utils.array_to_img(np.zeros((2, 2, 3)))
    with pytest.raises(ImportError, match="load_img needs Pillow"):
        utils.load_img("x.png")
