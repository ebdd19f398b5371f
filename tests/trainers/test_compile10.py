"""compile() arguments given as NumPy values, and the order of logs and
metric names (sorted, as Keras's logs are) for models with dict outputs."""

import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.random((16, 4)).astype("float32")
Y = RNG.random((16, 1)).astype("float32")


def _two_outputs(lib):
    inp = lib.Input((4,))
    a = lib.layers.Dense(1, kernel_initializer="ones", name="a")(inp)
    b = lib.layers.Dense(1, kernel_initializer="zeros", name="b")(inp)
    return lib.Model(inp, [a, b])


def _dict_outputs(lib):
    inp = lib.Input((4,))
    z = lib.layers.Dense(1, kernel_initializer="ones", name="z")(inp)
    a = lib.layers.Dense(1, kernel_initializer="zeros", name="a")(inp)
    return lib.Model(inp, {"z": z, "a": a})


def _keras_total(loss_weights):
    model = _two_outputs(keras)
    model.compile("sgd", loss=["mse", "mae"], loss_weights=loss_weights)
    return model.evaluate(X, [Y, Y], verbose=0)


@pytest.mark.parametrize(
    "weights",
    [
        np.array([1.0, 0.5]),
        [np.float32(1.0), np.float64(0.5)],
        [np.array(1.0), np.array(0.5)],
        (np.float32(1.0), 0.5),
    ],
    ids=["array", "numpy-scalars", "0d-arrays", "tuple"],
)
def test_numpy_loss_weights_weigh_like_a_list_of_floats(weights):
    model = _two_outputs(lamina)
    model.compile("sgd", loss=["mse", "mae"], loss_weights=weights)
    got = model.evaluate(X, [Y, Y], verbose=0)
    np.testing.assert_allclose(got, _keras_total([1.0, 0.5]), rtol=1e-5)
    history = model.fit(X, [Y, Y], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_numpy_scalar_loss_weight_for_one_output():
    inp = lamina.Input((4,))
    model = lamina.Model(inp, lamina.layers.Dense(1, kernel_initializer="ones")(inp))
    model.compile("sgd", loss="mse", loss_weights=np.float32(2.0))
    plain = lamina.Model(inp, model.layers[-1].output)
    plain.compile("sgd", loss="mse")
    np.testing.assert_allclose(
        model.evaluate(X, Y, verbose=0),
        2.0 * plain.evaluate(X, Y, verbose=0),
        rtol=1e-6,
    )


def test_numpy_loss_weights_in_a_dict():
    model = _dict_outputs(lamina)
    model.compile(
        "sgd",
        loss={"z": "mse", "a": "mae"},
        loss_weights={"z": np.float32(2.0), "a": np.array(0.5)},
    )
    ref = _dict_outputs(keras)
    ref.compile("sgd", loss={"z": "mse", "a": "mae"}, loss_weights={"z": 2.0, "a": 0.5})
    np.testing.assert_allclose(
        model.evaluate(X, {"z": Y, "a": Y}, verbose=0),
        ref.evaluate(X, {"z": Y, "a": Y}, verbose=0),
        rtol=1e-5,
    )


def test_array_loss_weights_survive_save_and_load(tmp_path):
    model = _two_outputs(lamina)
    model.compile("sgd", loss=["mse", "mae"], loss_weights=np.array([1.0, 0.5]))
    model.fit(X, [Y, Y], epochs=1, verbose=0)
    assert model.get_compile_config()["loss_weights"] == [1.0, 0.5]
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.evaluate(X, [Y, Y], verbose=0),
        model.evaluate(X, [Y, Y], verbose=0),
        rtol=1e-6,
    )


def test_two_dimensional_loss_weights_are_refused():
    model = _two_outputs(lamina)
    with pytest.raises(ValueError, match="loss_weights"):
        model.compile("sgd", loss="mse", loss_weights=np.ones((2, 1)))


@pytest.mark.parametrize(
    "metrics",
    [
        {"z": ["mae"], "a": ["mse"]},
        {"a": ["mse"], "z": ["mae"]},
        {"z": ["mae", "mse"], "a": ["mse", "mae"]},
    ],
)
def test_dict_output_logs_and_evaluate_order_match_keras(metrics):
    results = []
    for lib in (lamina, keras):
        model = _dict_outputs(lib)
        model.compile("sgd", loss={"z": "mse", "a": "mae"}, metrics=metrics)
        listed = model.evaluate(X, {"z": Y, "a": Y}, verbose=0)
        logs = model.evaluate(X, {"z": Y, "a": Y}, verbose=0, return_dict=True)
        history = model.fit(X, {"z": Y, "a": Y}, epochs=1, verbose=0)
        results.append((listed, list(logs), list(history.history), model.metrics_names))
    (got, *got_names), (want, *want_names) = results
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got_names == want_names


def test_one_element_array_weights_per_output_match_keras():
    weights = {"z": np.ones((1,)), "a": np.full((1,), 0.5)}
    model = _dict_outputs(lamina)
    model.compile("sgd", loss={"z": "mse", "a": "mae"}, loss_weights=weights)
    ref = _dict_outputs(keras)
    ref.compile("sgd", loss={"z": "mse", "a": "mae"}, loss_weights=weights)
    np.testing.assert_allclose(
        model.evaluate(X, {"z": Y, "a": Y}, verbose=0),
        ref.evaluate(X, {"z": Y, "a": Y}, verbose=0),
        rtol=1e-5,
    )


def test_array_weight_for_one_output_is_refused():
    # Keras takes it in evaluate (a loss vector) and fails in fit's backward.
    model = _dict_outputs(lamina)
    with pytest.raises(ValueError, match=r"loss_weights.*shape \(2,\)"):
        model.compile(
            "sgd",
            loss={"z": "mse", "a": "mae"},
            loss_weights={"z": np.ones(2), "a": 1.0},
        )


def test_compile_loss_built_on_a_list_reads_a_dict_by_output_names():
    from lamina.trainers.compile_utils import CompileLoss

    y_true = {"a": RNG.random((3, 2)), "b": RNG.random((3, 2))}
    y_pred = {"a": RNG.random((3, 2)), "b": RNG.random((3, 2))}
    loss = CompileLoss(["mse", "mae"], output_names=["b", "a"])
    loss.build([y_true["b"], y_true["a"]], [y_pred["b"], y_pred["a"]])
    got = loss(y_true, y_pred)
    mse = np.mean((y_true["b"] - y_pred["b"]) ** 2)
    mae = np.mean(np.abs(y_true["a"] - y_pred["a"]))
    np.testing.assert_allclose(float(got), mse + mae, rtol=1e-5)


def test_generator_that_runs_out_warns_with_keras_words():
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(1)])
    model.compile("sgd", "mse")

    def batches():
        for _ in range(2):
            yield X[:8], Y[:8]

    with pytest.warns(UserWarning, match="Your input ran out of data"):
        history = model.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0)
    assert history.epoch == [0]
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        model.fit(X, Y, batch_size=8, steps_per_epoch=3, epochs=1, verbose=0)


def test_empty_validation_dataset_logs_no_val_values():
    # keras.io's weather example: a validation split too short for one window.
    series = RNG.random((120, 2)).astype("float32")
    short = lamina.utils.timeseries_dataset_from_array(
        series[:30], np.zeros(30, "float32"), sequence_length=40, batch_size=8
    )
    data = lamina.utils.timeseries_dataset_from_array(
        series, np.zeros(120, "float32"), sequence_length=40, batch_size=32
    )
    model = lamina.Sequential(
        [lamina.Input((40, 2)), lamina.layers.Flatten(), lamina.layers.Dense(1)]
    )
    model.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(data, validation_data=short, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss"]
    with pytest.warns(UserWarning, match="ran out of data"):
        assert model.evaluate(short, verbose=0, return_dict=True) == {}


def test_evaluate_with_a_step_that_logs_nothing_returns_empty_logs():
    class Silent(lamina.Model):
        def test_step(self, data):
            return {}

    inp = lamina.Input((4,))
    model = Silent(inp, lamina.layers.Dense(1)(inp))
    model.compile("sgd", "mse", metrics=["mae"])
    assert model.evaluate(X, Y, verbose=0, return_dict=True) == {}
    history = model.fit(X, Y, validation_data=(X, Y), verbose=0)
    assert sorted(history.history) == ["loss", "mae"]


def test_get_metrics_result_keeps_the_metrics_order_as_keras():
    names = []
    for lib in (lamina, keras):
        model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1)])
        model.compile(
            "sgd",
            "mse",
            metrics=["mse", "mae", lib.metrics.RootMeanSquaredError(name="a_rmse")],
        )
        model.train_on_batch(X, Y)
        names.append(
            (
                list(model.get_metrics_result()),
                list(model.compute_metrics(X, Y, model(X))),
            )
        )
    assert names[0] == names[1] == (["loss", "mse", "mae", "a_rmse"],) * 2
