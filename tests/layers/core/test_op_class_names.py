"""Ops whose Keras class name is not the CamelCase of the op's name (IsIn,
SearchSorted, RGBToHSV, HSVToRGB, ...) are written and read under Keras's name."""

import json
import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

CASES = {
    "IsIn": lambda K, x: K.ops.isin(x, np.array([0.5, 1.0], "float32")),
    "SearchSorted": lambda K, x: K.ops.searchsorted(
        np.array([0.0, 0.5, 1.0], "float32"), x
    ),
    "RGBToHSV": lambda K, x: K.ops.image.rgb_to_hsv(K.ops.reshape(x, (-1, 1, 2, 3))),
    "HSVToRGB": lambda K, x: K.ops.image.hsv_to_rgb(K.ops.reshape(x, (-1, 1, 2, 3))),
}


@pytest.mark.parametrize("class_name", sorted(CASES))
def test_class_name_matches_keras_and_loads_both_ways(class_name):
    build = CASES[class_name]
    ours_in, theirs_in = lamina.Input((6,)), keras.Input((6,))
    ours = lamina.Model(ours_in, build(lamina, ours_in))
    theirs = keras.Model(theirs_in, build(keras, theirs_in))
    names = {e["class_name"] for e in ours.get_config()["layers"]}
    assert class_name in names
    assert class_name in {e["class_name"] for e in theirs.get_config()["layers"]}
    x = np.linspace(0.0, 1.0, 12, dtype="float32").reshape(2, 6)
    expected = np.asarray(theirs.predict(x, verbose=0))
    config = json.loads(json.dumps(theirs.get_config()))
    np.testing.assert_allclose(
        np.asarray(lamina.Model.from_config(config).predict(x, verbose=0)), expected
    )
    reread = keras.Model.from_config(json.loads(json.dumps(ours.get_config())))
    np.testing.assert_allclose(np.asarray(reread.predict(x, verbose=0)), expected)
