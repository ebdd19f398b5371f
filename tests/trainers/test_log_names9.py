"""Log names and values of compiled losses as Keras gives them: losses named
after themselves when the model does not name its outputs (subclassed models,
a compute_loss that splits the output), losses over groups of outputs
(`loss=[fn, (l1, l2)]`), several losses on one output, and Keras's errors."""

import collections
import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

Pair = collections.namedtuple("Pair", ["y1", "y2"])


def _subclassed(lib, kind):
    class TwoHeads(lib.Model):
        def __init__(self):
            super().__init__()
            self.d1 = lib.layers.Dense(1)
            self.d2 = lib.layers.Dense(1)

        def call(self, x):
            a, b = self.d1(x), self.d2(x)
            return {"tuple": (a, b), "list": [a, b], "namedtuple": Pair(a, b)}[kind]

    return TwoHeads()


def _functional(lib, container):
    x = lib.Input((3,))
    y1 = lib.layers.Dense(1, name="y1", activation="sigmoid")(x)
    y2 = lib.layers.Dense(1, name="y2", activation="sigmoid")(x)
    outputs = {"a": y1, "b": y2} if container is dict else container([y1, y2])
    return lib.Model(x, outputs)


def _data(two_targets=True):
    rng = np.random.default_rng(0)
    x = rng.random((8, 3), dtype=np.float32)
    y = rng.random((8, 1), dtype=np.float32)
    return x, ((y, 2 * y) if two_targets else y)


def _evaluate(lib, model, loss, y_kind=tuple, **compile_kwargs):
    x, (y1, y2) = _data()
    y = {"a": y1, "b": y2} if y_kind is dict else y_kind([y1, y2])
    model.compile("sgd", loss=loss, **compile_kwargs)
    model.predict(x, verbose=0)
    model.set_weights(
        [
            np.full(w.shape, 0.1 * (i + 1), "float32")
            for i, w in enumerate(model.weights)
        ]
    )
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    return sorted(history.history), {k: float(v) for k, v in logs.items()}


def _same_as_keras(build, loss, **kwargs):
    expected = _evaluate(keras, build(keras), loss(keras), **kwargs)
    got = _evaluate(lamina, build(lamina), loss(lamina), **kwargs)
    assert got[0] == expected[0]
    assert sorted(got[1]) == sorted(expected[1])
    for key, value in expected[1].items():
        np.testing.assert_allclose(got[1][key], value, rtol=1e-5, err_msg=key)
    return got[0]


def _stateless_lambda(lib):
    return lambda y_true, y_pred: lib.ops.square(y_true - y_pred)


@pytest.mark.parametrize("kind", ["tuple", "list", "namedtuple"])
@pytest.mark.parametrize(
    "losses, keys",
    [
        (lambda lib: ["mse", "mae"], ["loss", "mae_loss", "mse_loss"]),
        # Two losses of one name share a log entry (the later output's value).
        (lambda lib: ["mse", "mse"], ["loss", "mse_loss"]),
        (lambda lib: "mse", ["loss", "mse_loss"]),
        (
            lambda lib: [lib.losses.MeanSquaredError(), lib.losses.mean_absolute_error],
            ["loss", "mean_absolute_error_loss", "mean_squared_error_loss"],
        ),
        (
            lambda lib: [
                lib.losses.MeanAbsoluteError(name="foo"),
                _stateless_lambda(lib),
            ],
            ["foo_loss", "lambda_loss", "loss"],
        ),
    ],
)
def test_subclassed_outputs_log_losses_by_loss_name(kind, losses, keys):
    names = _same_as_keras(lambda lib: _subclassed(lib, kind), losses)
    assert names == keys


def test_subclassed_outputs_metrics_are_not_prefixed():
    names = _same_as_keras(
        lambda lib: _subclassed(lib, "tuple"),
        lambda lib: ["mse", "mae"],
        metrics=[["mae"], ["mae", "mse"]],
    )
    assert names == ["loss", "mae", "mae_1", "mae_loss", "mse", "mse_loss"]


def test_compute_loss_splitting_one_output_logs_loss_names():
    def build(lib):
        class Split(lib.Model):
            def compute_loss(
                self, x=None, y=None, y_pred=None, sample_weight=None, training=True
            ):
                y_pred = [y_pred[:, :1], y_pred[:, 1:]]
                return super().compute_loss(x, y, y_pred, sample_weight, training)

        x = lib.Input((3,))
        return Split(x, lib.layers.Dense(2, activation="sigmoid")(x))

    names = _same_as_keras(build, lambda lib: ["mean_squared_error", "mae"])
    assert names == ["loss", "mae_loss", "mean_squared_error_loss"]


def _group_loss(lib):
    def loss_fn(y_true, y_pred):
        assert isinstance(y_pred, (list, tuple, dict))
        total = 0
        for t, p in zip(lib.tree.flatten(y_true), lib.tree.flatten(y_pred)):
            total = total + lib.losses.mean_absolute_error(t, p)
        return total

    return loss_fn


@pytest.mark.parametrize("outer, inner", [(list, tuple), (tuple, list)])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_over_a_group_of_outputs(outer, inner, weighted):
    def loss(lib):
        return outer([_group_loss(lib), inner(["mse", "mae"])])

    kwargs = {"loss_weights": outer([0.5, inner([2.0, 3.0])])} if weighted else {}
    names = _same_as_keras(
        lambda lib: _functional(lib, inner), loss, y_kind=inner, **kwargs
    )
    assert names == ["loss", "y1_loss", "y1_y2_loss", "y2_loss"]


def test_loss_over_a_dict_of_outputs():
    names = _same_as_keras(
        lambda lib: _functional(lib, dict),
        lambda lib: [_group_loss(lib), {"a": "mse", "b": "mae"}],
        y_kind=dict,
    )
    assert names == ["a_b_loss", "a_loss", "b_loss", "loss"]


def test_two_losses_on_one_subclassed_namedtuple_output():
    names = _same_as_keras(
        lambda lib: _subclassed(lib, "namedtuple"),
        lambda lib: Pair("mse", ["mae", "mse"]),
    )
    assert names == ["loss", "mae_loss", "mse_loss"]


def test_two_losses_on_one_output():
    names = _same_as_keras(
        lambda lib: _functional(lib, list),
        lambda lib: ["mse", ["mse", "mae"]],
        y_kind=list,
    )
    assert names == ["loss", "y1_loss", "y2_loss"]


def test_deeply_nested_outputs_with_group_losses():
    def build(lib):
        x = lib.Input((3,))
        y1 = lib.layers.Dense(1, name="y1", activation="sigmoid")(x)
        y2 = lib.layers.Dense(1, name="y2", activation="sigmoid")(x)
        y3 = lib.layers.Dense(1, name="y3", activation="sigmoid")(x)
        return lib.Model(x, {"a": (y1, y2), "b": {"b1": y1, "b2": y2}, "d": y3})

    def loss(lib):
        return {
            "a": [_group_loss(lib), (None, "mse")],
            "b": [_group_loss(lib), {"b1": "mae"}],
            "d": "mse",
        }

    def run(lib):
        rng = np.random.default_rng(1)
        x = rng.random((8, 3), dtype=np.float32)
        t = [rng.random((8, 1), dtype=np.float32) for _ in range(3)]
        y = {"a": (t[0], t[1]), "b": {"b1": t[0], "b2": t[1]}, "d": t[2]}
        model = build(lib)
        model.compile("sgd", loss=loss(lib))
        model.set_weights([np.full(w.shape, 0.2, "float32") for w in model.weights])
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        return sorted(history.history), model.evaluate(
            x, y, verbose=0, return_dict=True
        )

    expected, got = run(keras), run(lamina)
    assert got[0] == expected[0] == [
        "a/y2_loss", "a_loss", "b/b1_loss", "b_loss", "d_loss", "loss"
    ]  # fmt: skip
    for key, value in expected[1].items():
        np.testing.assert_allclose(float(got[1][key]), float(value), rtol=1e-5)


def test_keras_error_phrases():
    x, y = _data()
    model = _functional(lamina, list)
    model.compile("sgd", loss={"y1": "mse", "y3": "mae"})
    with pytest.raises(ValueError, match="Expected keys"):
        model.fit(x, list(y), verbose=0)

    model = _functional(lamina, dict)
    model.compile("sgd", loss={"a": "mse", "c": "mae"})
    with pytest.raises(KeyError, match="can't be found in either the model's output"):
        model.fit(x, {"a": y[0], "b": y[1]}, verbose=0)

    model = _functional(lamina, dict)
    model.compile("sgd", loss="mse", metrics={"c": ["mae"]})
    with pytest.raises(ValueError, match="(?s)Invalid `metrics`.*'c'"):
        model.fit(x, {"a": y[0], "b": y[1]}, verbose=0)


def test_too_few_targets_name_the_structures():
    x, (y1, _) = _data()
    model = _functional(lamina, list)
    model.compile("sgd", loss=["mse", "mse"])
    with pytest.raises(ValueError, match="y_true and y_pred have different structures"):
        model.evaluate(x, [y1], verbose=0)


@pytest.mark.parametrize("losses", [[None, "mse", "mae"], ["mse", None, "mae"]])
def test_targets_for_just_the_outputs_with_a_loss(losses):
    def run(lib):
        x = lib.Input((3,))
        outputs = [lib.layers.Dense(1, name=f"o{i}")(x) for i in range(3)]
        model = lib.Model(x, outputs)
        model.compile("sgd", loss=losses)
        model.set_weights([np.full(w.shape, 0.3, "float32") for w in model.weights])
        xs, (t1, t2) = _data()
        return model.evaluate(xs, [t1, t2], verbose=0, return_dict=True)

    expected, got = run(keras), run(lamina)
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(float(got[key]), float(value), rtol=1e-5)
