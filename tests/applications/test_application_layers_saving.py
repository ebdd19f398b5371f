"""Models holding the layers Keras keeps inside its application modules
(ConvNeXt's LayerScale and StochasticDepth, InceptionResNetV2's
CustomScaleLayer) load again, in lamina and in Keras, from either's files."""

import os

import numpy as np
import pytest

import lamina
from lamina.applications import convnext, inception_resnet_v2

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


def _small_convnext():
    return convnext.ConvNeXt(
        depths=[1, 1, 1, 1],
        projection_dims=[8, 8, 8, 8],
        drop_path_rate=0.1,
        include_top=False,
        input_shape=(32, 32, 3),
        name="tiny_convnext",
    )


def _scaled_block():
    inputs = lamina.Input((5, 5, 16))
    outputs = inception_resnet_v2.inception_resnet_block(inputs, 0.17, "block8", 1)
    return lamina.Model(inputs, outputs)


@pytest.mark.parametrize(
    "build, classes",
    [
        (_small_convnext, {"LayerScale", "StochasticDepth"}),
        (_scaled_block, {"CustomScaleLayer"}),
    ],
)
def test_configs_name_keras_private_modules_and_load_both_ways(build, classes):
    model = build()
    config = model.get_config()
    written = {
        (entry["module"], entry["class_name"], entry["registered_name"])
        for entry in config["layers"]
        if entry["class_name"] in classes
    }
    expected_module = {
        "LayerScale": "keras.src.applications.convnext",
        "StochasticDepth": "keras.src.applications.convnext",
        "CustomScaleLayer": "keras.src.applications.inception_resnet_v2",
    }
    assert written == {(expected_module[c], c, c) for c in classes}
    ours = lamina.Model.from_config(config)
    theirs = keras.Model.from_config(config)
    assert ours.count_params() == theirs.count_params() == model.count_params()
    back = lamina.Model.from_config(theirs.get_config())
    assert {type(layer).__name__ for layer in back.layers} >= classes


def test_a_saved_model_with_custom_scale_layers_predicts_the_same(tmp_path):
    model = _scaled_block()
    path = tmp_path / "block.keras"
    model.save(path)
    x = np.random.rand(2, 5, 5, 16).astype("float32")
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        lamina.saving.load_model(path).predict(x, verbose=0), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        keras.saving.load_model(path).predict(x, verbose=0), expected, rtol=1e-5
    )
