"""Metric functions given to compile() are logged under snake_cased names,
as Keras names them (found running the keras-io EDSR example: PSNR -> psnr)."""

import numpy as np

import lamina as keras


def _fit_history(metrics):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=metrics)
    x = np.ones((4, 2), "float32")
    return model.fit(x, np.ones((4, 1), "float32"), verbose=0).history


def PSNR(y_true, y_pred):
    return keras.ops.psnr(y_true, y_pred, max_val=1.0)


def MyMetricFn(y_true, y_pred):
    return keras.ops.mean(y_true - y_pred)


def test_function_metric_names_are_snake_cased():
    history = _fit_history([PSNR, MyMetricFn, lambda y, p: p])
    assert sorted(history) == ["lambda", "loss", "my_metric_fn", "psnr"]


def test_string_metric_names_are_kept_as_given():
    history = _fit_history(["MSE", "mae"])
    assert sorted(history) == ["MSE", "loss", "mae"]


def test_function_metric_name_with_validation_prefix():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=[PSNR])
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    history = model.fit(x, y, validation_data=(x, y), verbose=0).history
    assert "val_psnr" in history and "val_PSNR" not in history
    assert list(model.evaluate(x, y, return_dict=True, verbose=0)) == ["loss", "psnr"]
