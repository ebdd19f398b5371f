"""Session 9 training gaps: `compile` losses and metrics over nested outputs
(dicts in dicts, tuples and namedtuples in dicts), and empty inputs to fit."""

import collections
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402
from lamina.trainers.compile_utils import CompileLoss, CompileMetrics  # noqa: E402

Point = collections.namedtuple("Point", ["x", "y"])


def _models(module):
    class Nested(module.Model):
        def __init__(self, kind):
            super().__init__()
            self.kind = kind
            self.d1 = module.layers.Dense(2, kernel_initializer="ones")
            self.d2 = module.layers.Dense(2, kernel_initializer="zeros")
            self.d3 = module.layers.Dense(
                2, kernel_initializer="ones", bias_initializer="ones"
            )

        def call(self, x):
            a = {"c": self.d1(x), "d": self.d2(x)}
            if self.kind == "tuple":
                a = (a["c"], a["d"])
            elif self.kind == "namedtuple":
                a = Point(a["c"], a["d"])
            return {"a": a, "b": self.d3(x)}

    return Nested


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    c, d, b = (rng.normal(size=(8, 2)).astype("float32") * s for s in (1, 2, 3))
    return x, c, d, b


def _targets(kind, c, d, b):
    if kind == "dict":
        return {"a": {"c": c, "d": d}, "b": b}
    if kind == "tuple":
        return {"a": (c, d), "b": b}
    return {"a": Point(c, d), "b": b}


def _evaluate(module, kind, loss, loss_weights=None, metrics=None):
    x, c, d, b = _data()
    model = _models(module)(kind)
    model.compile("sgd", loss, loss_weights=loss_weights, metrics=metrics)
    logs = model.evaluate(
        x, _targets(kind, c, d, b), batch_size=8, verbose=0, return_dict=True
    )
    return {key: float(value) for key, value in logs.items()}


NESTED_CASES = [
    ("dict", {"a": {"c": "mse", "d": "mae"}}, None, None),
    ("dict", {"a": {"c": "mse", "d": "mae"}, "b": "mse"}, None, None),
    ("dict", "mse", None, None),
    ("dict", {"a": {"c": "mse"}}, None, None),
    ("dict", ["mse", "mae", "mse"], None, None),
    (
        "dict",
        {"a": {"c": "mse", "d": "mae"}, "b": "mse"},
        {"a": {"c": 1.0, "d": 0.5}, "b": 2.0},
        None,
    ),
    ("dict", {"a": {"c": "mse", "d": "mae"}, "b": "mse"}, [1.0, 0.5, 2.0], None),
    ("tuple", {"a": ["mse", "mae"]}, None, None),
    ("tuple", {"a": ["mse", "mae"], "b": "mse"}, None, None),
    ("namedtuple", {"a": Point("mse", "mae")}, None, None),
    ("namedtuple", {"a": Point("mse", "mae"), "b": "mae"}, None, None),
    (
        "dict",
        "mse",
        None,
        {"a": {"c": "mae", "d": ["mse", "mae"]}, "b": "mae"},
    ),
]


@pytest.mark.parametrize("kind, loss, loss_weights, metrics", NESTED_CASES)
def test_nested_output_losses_match_keras(kind, loss, loss_weights, metrics):
    keras = pytest.importorskip("keras")
    got = _evaluate(lamina, kind, loss, loss_weights, metrics)
    want = _evaluate(keras, kind, loss, loss_weights, metrics)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, err_msg=key)


def test_nested_loss_values_and_log_names():
    # The values of Keras's own test (compile_utils_test.test_struct_loss).
    x, c, d, b = _data()
    logs = _evaluate(lamina, "dict", {"a": {"c": "mse", "d": "mae"}, "b": "mse"})
    assert sorted(logs) == ["a/c_loss", "a/d_loss", "b_loss", "loss"]
    model = _models(lamina)("dict")
    outputs = {k: lamina.ops.convert_to_numpy(v) for k, v in model(x)["a"].items()}
    np.testing.assert_allclose(
        logs["a/c_loss"], np.mean((outputs["c"] - c) ** 2), rtol=1e-5
    )
    np.testing.assert_allclose(
        logs["a/d_loss"], np.mean(np.abs(outputs["d"] - d)), rtol=1e-5
    )
    np.testing.assert_allclose(
        logs["loss"], logs["a/c_loss"] + logs["a/d_loss"] + logs["b_loss"], rtol=1e-6
    )


def test_compile_loss_struct_with_output_names():
    # Keras's compile_utils_test: nested dicts, index paths and namedtuples.
    y_true = {
        "a": {
            "c": np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], "float32"),
            "d": np.array([[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]], "float32"),
        },
        "b": np.array([[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]], "float32"),
    }
    y_pred = {
        "a": {
            "c": np.array([[1.2, 1.1], [1.0, 0.9], [0.8, 0.7]], "float32"),
            "d": np.array([[0.6, 0.5], [0.4, 0.3], [0.2, 0.1]], "float32"),
        },
        "b": np.array([[0.6, 0.5], [0.4, 0.3], [0.2, 0.1]], "float32"),
    }
    to_t = lambda s: lamina.tree.map_structure(lamina.ops.convert_to_tensor, s)  # noqa: E731
    loss = CompileLoss({"a": {"c": "mse", "d": "mae"}}, output_names=["c", "d", "b"])
    np.testing.assert_allclose(float(loss(to_t(y_true), to_t(y_pred))), 1.07666, 1e-5)

    def as_pair(kind, s):
        return {"a": kind(s["a"]["c"], s["a"]["d"]), "b": s["b"]}

    for kind, spec in ((lambda *a: a, ["mse", "mae"]), (Point, Point("mse", "mae"))):
        loss = CompileLoss({"a": spec}, output_names=["c", "d", "b"])
        value = loss(to_t(as_pair(kind, y_true)), to_t(as_pair(kind, y_pred)))
        np.testing.assert_allclose(float(value), 1.07666, 1e-5)


def test_nested_loss_errors_match_keras():
    with pytest.raises(KeyError, match=r"The path: \('b',\) in the `loss` argument"):
        _evaluate(lamina, "dict", {"a": {"c": "mse"}, "b": {"d": "mae"}})
    with pytest.raises(KeyError, match=r"The path: \('a', 'e'\) in the `loss`"):
        _evaluate(lamina, "dict", {"a": {"e": "mse"}})
    with pytest.raises(ValueError, match="must match the number of losses, got 2"):
        _evaluate(lamina, "dict", {"a": {"c": "mse", "d": "mae"}}, [1.0])
    with pytest.raises(ValueError, match=r"one loss \('mse'\) at the path \('a',\)"):
        _evaluate(lamina, "dict", {"a": "mse"})
    with pytest.raises(ValueError, match="Invalid `metrics`"):
        _evaluate(lamina, "dict", "mse", metrics={"a": {"c": "mae"}})


def test_nested_targets_may_be_flat_and_mismatches_raise():
    x, c, d, b = _data()
    model = _models(lamina)("dict")
    model.compile("sgd", {"a": {"c": "mse", "d": "mae"}, "b": "mse"})
    nested = model.evaluate(x, _targets("dict", c, d, b), verbose=0)
    flat = model.evaluate(x, [c, d, b], verbose=0)
    np.testing.assert_allclose(flat, nested, rtol=1e-6)
    with pytest.raises(ValueError, match="y_true and y_pred have different struct"):
        model.evaluate(x, [c, b], verbose=0)


def _fit_functional(module):
    module.utils.set_random_seed(0)
    inputs = module.Input((3,))
    outputs = {
        "a": {
            "c": module.layers.Dense(2, name="dc")(inputs),
            "d": module.layers.Dense(2, name="dd")(inputs),
        },
        "b": module.layers.Dense(2, name="db")(inputs),
    }
    model = module.Model(inputs, outputs)
    model.compile(
        "sgd",
        {"a": {"c": "mse", "d": "mae"}, "b": "mse"},
        metrics={"a": {"c": "mae", "d": None}, "b": ["mse"]},
    )
    model.set_weights(
        [
            np.full(w.shape, 0.1 * i, "float32")
            for i, w in enumerate(model.get_weights())
        ]
    )
    x, c, d, b = _data()
    history = model.fit(
        x, _targets("dict", c, d, b), batch_size=4, epochs=2, verbose=0, shuffle=False
    )
    return history.history


def test_nested_outputs_functional_fit_matches_keras():
    keras = pytest.importorskip("keras")
    got, want = _fit_functional(lamina), _fit_functional(keras)
    assert (
        sorted(got)
        == sorted(want)
        == [
            "a/c_loss",
            "a/d_loss",
            "b_loss",
            "db_mse",
            "dc_mae",
            "loss",
        ]
    )
    for key, values in want.items():
        np.testing.assert_allclose(got[key], values, rtol=1e-5, err_msg=key)


def test_compile_metrics_deeply_nested_keys():
    # Keras's compile_utils_test.test_deeply_nested_outputs_and_metrics.
    def make(names):
        return CompileMetrics(
            {
                "a": lamina.metrics.MeanSquaredError(name="mse_a"),
                "b": {
                    "c": lamina.metrics.MeanSquaredError(name="mse_c"),
                    "d": [
                        lamina.metrics.MeanSquaredError(name="mse_d1"),
                        lamina.metrics.MeanSquaredError(name="mse_d2"),
                    ],
                },
            },
            None,
            output_names=names,
        )

    zeros = lambda n: np.zeros((3, n), "float32")  # noqa: E731
    y_true = {"a": zeros(2), "b": {"c": zeros(5), "d": [zeros(7), zeros(9)]}}
    y_pred = {
        "a": zeros(2),
        "b": {"c": zeros(5) + 1, "d": [zeros(7) + 2, zeros(9) + 3]},
    }
    to_t = lambda s: lamina.tree.map_structure(lamina.ops.convert_to_tensor, s)  # noqa: E731
    for names, keys in (
        (None, ["mse_a", "mse_c", "mse_d1", "mse_d2"]),
        (
            ["dense", "dense_1", "dense_2", "dense_3"],
            ["dense_mse_a", "dense_1_mse_c", "dense_2_mse_d1", "dense_3_mse_d2"],
        ),
    ):
        metrics = make(names)
        metrics.update_state(to_t(y_true), to_t(y_pred))
        result = metrics.result()
        assert list(result) == keys
        np.testing.assert_allclose([float(v) for v in result.values()], [0, 1, 4, 9])


# ------------------------------------------------------------- empty inputs


def _small_model():
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def _empty():
    return
    yield


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_empty_generator_raises_as_keras(method):
    with pytest.raises(ValueError, match="must yield at least one batch. Received"):
        getattr(_small_model(), method)(_empty(), verbose=0)


def test_empty_pydataset_raises():
    class Empty(lamina.utils.PyDataset):
        def __len__(self):
            return 0

        def __getitem__(self, index):
            raise IndexError(index)

    with pytest.raises(ValueError, match="Empty passed to the model has no batches"):
        _small_model().fit(Empty(), verbose=0)


def test_generator_first_batch_is_not_lost():
    x = np.arange(12, dtype="float32").reshape(6, 2)
    y = x.sum(axis=1, keepdims=True)

    def batches():
        for i in range(3):
            yield x[2 * i : 2 * i + 2], y[2 * i : 2 * i + 2]

    model = _small_model()
    from_generator = model.evaluate(batches(), verbose=0)
    from_arrays = model.evaluate(x, y, batch_size=2, verbose=0)
    np.testing.assert_allclose(from_generator, from_arrays, rtol=1e-6)
