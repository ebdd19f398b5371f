"""`save_format` in save(): Keras 3 ignores any truthy value (with a warning)
where the path names the format, and refuses it where the path does not."""

import warnings

import numpy as np
import pytest

import lamina


def small_model():
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


@pytest.mark.parametrize("save_format", ["keras_v3", "tf", "keras", "h5"])
def test_any_save_format_is_ignored_for_a_keras_path(tmp_path, save_format):
    # KerasRS's saving tests call model.save(path, save_format="keras_v3").
    model = small_model()
    path = tmp_path / "m.keras"
    with pytest.warns(UserWarning, match="save_format is deprecated"):
        model.save(path, save_format=save_format)
    loaded = lamina.saving.load_model(path)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("save_format", [None, "", False])
def test_a_falsy_save_format_is_ignored_without_a_warning(tmp_path, save_format):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small_model().save(tmp_path / "m.keras", save_format=save_format)
    assert (tmp_path / "m.keras").exists()


@pytest.mark.parametrize("save_format", ["tf", "keras_v3", 1])
def test_a_save_format_without_a_format_suffix_is_refused(tmp_path, save_format):
    with pytest.raises(ValueError, match="The `save_format` argument is deprecated"):
        small_model().save(tmp_path / "m.model", save_format=save_format)
    assert not (tmp_path / "m.model").exists()
