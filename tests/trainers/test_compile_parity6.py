"""compile()'s losses and metrics as Keras 3 matches and reports them: dict and
list arguments against the outputs, `metrics` / `metrics_names`, and the order
of the lists evaluate / train_on_batch / test_on_batch return."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 4)).astype("float32")
YA = RNG.normal(size=(16, 2)).astype("float32")
YB = (RNG.random(size=(16, 1)) > 0.5).astype("float32")
SW = RNG.random(16).astype("float32")
WEIGHTS = [
    RNG.normal(size=(4, 2)).astype("float32") * 0.3,
    np.zeros(2, "float32"),
    RNG.normal(size=(4, 1)).astype("float32") * 0.3,
    np.zeros(1, "float32"),
]


def two_outputs(lib=lamina, as_dict=False):
    """Outputs `out_a` (2 units, linear) and `out_b` (1 unit, sigmoid)."""
    inputs = lib.Input((4,), name="inp")
    a = lib.layers.Dense(2, name="out_a")(inputs)
    b = lib.layers.Dense(1, activation="sigmoid", name="out_b")(inputs)
    outputs = {"out_a": a, "out_b": b} if as_dict else [a, b]
    model = lib.Model(inputs, outputs)
    model.set_weights(WEIGHTS)
    return model


def one_output(lib=lamina):
    inputs = lib.Input((4,))
    model = lib.Model(inputs, lib.layers.Dense(2, name="d")(inputs))
    model.set_weights(WEIGHTS[:2])
    return model


def compiled(model, **kwargs):
    model.compile(optimizer="sgd", **kwargs)
    return model


# --- 1. dict / list losses, loss_weights and metrics against the outputs -------


@pytest.mark.parametrize(
    "loss",
    [
        {"out_a": "mse"},
        {"out_a": "mse", "out_c": "mse"},
        {"out_a": "mse", "out_b": "bce", "out_c": "mse"},
    ],
)
def test_loss_dict_must_name_every_output_of_a_list_model(loss):
    # Keras: "Expected keys ['out_a', 'out_b'] in loss dict, but found ...".
    model = compiled(two_outputs(), loss=loss)
    with pytest.raises(ValueError, match=r"`loss` dict with keys .*out_a.*out_b"):
        model.fit(X, [YA, YB], verbose=0)


def test_loss_dict_may_give_an_output_none():
    model = compiled(two_outputs(), loss={"out_a": "mse", "out_b": None})
    logs = model.evaluate(X, [YA, YB], verbose=0, return_dict=True)
    prediction = model.predict(X, verbose=0)[0]
    assert logs["loss"] == pytest.approx(
        float(np.mean((prediction - YA) ** 2)), rel=1e-5
    )
    assert sorted(logs) == ["loss"]


def test_dict_outputs_take_a_loss_dict_for_some_outputs_but_no_unknown_key():
    model = compiled(two_outputs(as_dict=True), loss={"out_a": "mse"})
    logs = model.evaluate(X, {"out_a": YA, "out_b": YB}, verbose=0, return_dict=True)
    assert sorted(logs) == ["loss"]
    model = compiled(two_outputs(as_dict=True), loss={"out_a": "mse", "out_c": "mse"})
    # Keras raises KeyError here, ValueError elsewhere: lamina's error is both.
    with pytest.raises(KeyError, match="unknown outputs \\['out_c'\\]"):
        model.evaluate(X, {"out_a": YA, "out_b": YB}, verbose=0)


def test_a_short_loss_list_leaves_the_last_outputs_without_loss():
    model = compiled(two_outputs(), loss=["mse"])
    with_list = model.evaluate(X, [YA, YB], verbose=0, return_dict=True)
    single = model.evaluate(X, YA, verbose=0, return_dict=True)
    prediction = model.predict(X, verbose=0)[0]
    expected = float(np.mean((prediction - YA) ** 2))
    assert with_list == pytest.approx({"loss": expected}, rel=1e-5)
    assert single == pytest.approx({"loss": expected}, rel=1e-5)


def test_a_long_loss_list_is_an_error():
    model = compiled(two_outputs(), loss=["mse", "bce", "mse"])
    with pytest.raises(KeyError, match="list of 3 losses for a model with 2 outputs"):
        model.fit(X, [YA, YB], verbose=0)


@pytest.mark.parametrize("loss_weights", [{"out_a": 2.0}, {"out_a": 2.0, "out_c": 1.0}])
@pytest.mark.parametrize("as_dict", [False, True])
def test_loss_weights_dict_must_name_every_output_with_a_loss(loss_weights, as_dict):
    model = compiled(
        two_outputs(as_dict=as_dict),
        loss={"out_a": "mse", "out_b": "bce"},
        loss_weights=loss_weights,
    )
    with pytest.raises(ValueError, match="`loss_weights` dict with keys"):
        model.evaluate(X, {"out_a": YA, "out_b": YB}, verbose=0)


def test_loss_weights_dict_for_a_subset_of_dict_outputs_with_losses():
    model = compiled(
        two_outputs(as_dict=True), loss={"out_a": "mse"}, loss_weights={"out_a": 3.0}
    )
    logs = model.evaluate(X, {"out_a": YA, "out_b": YB}, verbose=0, return_dict=True)
    prediction = model.predict(X, verbose=0)["out_a"]
    assert logs["loss"] == pytest.approx(
        3 * float(np.mean((prediction - YA) ** 2)), rel=1e-5
    )


def test_metrics_dict_with_unknown_output_or_list_of_wrong_length_is_an_error():
    model = compiled(
        two_outputs(), loss="mse", metrics={"out_a": ["mae"], "zz": ["mae"]}
    )
    with pytest.raises(ValueError, match="unknown outputs \\['zz'\\]"):
        model.evaluate(X, [YA, YB], verbose=0)
    model = compiled(two_outputs(), loss="mse", metrics=["mae"])
    with pytest.raises(ValueError, match="one entry .* per output; got 1"):
        model.evaluate(X, [YA, YB], verbose=0)


# --- 2. metrics and metrics_names ---------------------------------------------


def test_metrics_names_group_the_compiled_metrics():
    model = one_output()
    assert model.metrics_names == []
    model.compile("sgd", "mse")
    assert model.metrics_names == ["loss"]
    model.compile("sgd", "mse", metrics=["mae"])
    assert model.metrics_names == ["loss", "compile_metrics"]
    assert model.metrics[1].metrics == []  # resolved on the first batch
    model.fit(X, YA, verbose=0)
    assert model.metrics_names == ["loss", "compile_metrics"]
    compiled_metrics = model.metrics[1]
    assert isinstance(compiled_metrics, lamina.metrics.Metric)
    assert [m.name for m in compiled_metrics.metrics] == ["mae"]
    assert sorted(compiled_metrics.result()) == ["mae"]
    # Compiling again without metrics keeps them, as Keras does.
    model.compile("sgd", "mse")
    assert model.metrics_names == ["loss", "compile_metrics"]


def test_empty_metrics_list_is_still_listed():
    model = compiled(one_output(), loss="mse", metrics=[])
    model.fit(X, YA, verbose=0)
    assert model.metrics_names == ["loss", "compile_metrics"]
    assert model.evaluate(X, YA, verbose=0, return_dict=True).keys() == {"loss"}


def test_per_output_loss_trackers_follow_compile_metrics():
    model = compiled(two_outputs(), loss=["mse", "bce"], metrics=[["mae"], ["acc"]])
    assert model.metrics_names == ["loss", "compile_metrics"]
    model.fit(X, [YA, YB], verbose=0)
    assert model.metrics_names == [
        "loss",
        "compile_metrics",
        "out_a_loss",
        "out_b_loss",
    ]
    # Sub-metrics keep their own names; the logs add the output's name.
    assert [m.name for m in model.metrics[1].metrics] == ["mae", "acc"]
    assert list(model.metrics[1].result()) == ["out_a_mae", "out_b_acc"]


def test_custom_train_step_returning_every_metric_result_logs_them_flat():
    class Custom(lamina.Model):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = lamina.Input((4,))
    model = Custom(inputs, layers.Dense(2)(inputs))
    model.compile("sgd", "mse", metrics=["mae"])
    history = model.fit(X, YA, batch_size=8, epochs=2, verbose=2)
    assert list(history.history) == ["mae", "loss"]  # Keras's (sorted) order
    step_logs = model.train_on_batch(X, YA, return_dict=True)
    assert set(step_logs) == {"loss", "mae"}
    assert all(isinstance(v, float) for v in step_logs.values())


# --- 3. log keys and list order, against Keras ----------------------------------

CASES = {
    "one_output_no_metrics": (one_output, "one", {"loss": "mse"}),
    "one_output_metrics": (
        one_output,
        "one",
        {"loss": "mse", "metrics": ["mae", "mse"]},
    ),
    "weighted_named_like_unweighted": (
        one_output,
        "one",
        {"loss": "mse", "metrics": ["mae"], "weighted_metrics": ["mse", "mae"]},
    ),
    "weighted_only": (one_output, "one", {"loss": "mse", "weighted_metrics": ["mae"]}),
    "repeated_metric": (one_output, "one", {"loss": "mse", "metrics": ["mae", "mae"]}),
    "dict_outputs": (
        lambda lib: two_outputs(lib, as_dict=True),
        "dict",
        {
            "loss": {"out_a": "mse", "out_b": "bce"},
            "metrics": {"out_b": ["acc"]},
            "weighted_metrics": {"out_a": ["mae"], "out_b": ["acc"]},
        },
    ),
    "two_outputs_per_output_metrics": (
        two_outputs,
        "two",
        {
            "loss": ["mse", "bce"],
            "metrics": [["mae"], ["acc", "mse"]],
            "weighted_metrics": {"out_a": ["mse", "mae"]},
        },
    ),
    "two_outputs_loss_for_one": (
        two_outputs,
        "two",
        {"loss": {"out_a": "mse", "out_b": None}, "metrics": {"out_b": ["acc"]}},
    ),
}


def _data(kind):
    if kind == "dict":
        return X, {"out_a": YA, "out_b": YB}
    return (X, YA) if kind == "one" else (X, [YA, YB])


def _results(lib, case):
    build, kind, kwargs = CASES[case]
    model = compiled(build(lib), **kwargs)
    x, y = _data(kind)
    return {
        "names_before": model.metrics_names,
        "evaluate": model.evaluate(x, y, sample_weight=SW, verbose=0),
        "evaluate_dict": model.evaluate(
            x, y, sample_weight=SW, verbose=0, return_dict=True
        ),
        "names_after": model.metrics_names,
        "test_on_batch": model.test_on_batch(x, y, sample_weight=SW),
        "train_on_batch": model.train_on_batch(x, y, sample_weight=SW),
    }


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # out_b has no loss
@pytest.mark.parametrize("case", sorted(CASES))
def test_keys_names_and_list_order_match_keras(case):
    keras = pytest.importorskip("keras")
    ours, theirs = _results(lamina, case), _results(keras, case)
    assert ours["names_before"] == theirs["names_before"]
    assert ours["names_after"] == theirs["names_after"]
    assert list(ours["evaluate_dict"]) == list(theirs["evaluate_dict"])
    for key in theirs["evaluate_dict"]:
        assert ours["evaluate_dict"][key] == pytest.approx(
            theirs["evaluate_dict"][key], rel=1e-4
        )
    for key in ("evaluate", "test_on_batch", "train_on_batch"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, err_msg=key)


def test_evaluate_list_follows_keras_rule_for_several_outputs():
    model = compiled(
        two_outputs(), loss=["mse", "bce"], metrics=[["mae"], ["acc", "mse"]]
    )
    logs = model.evaluate(X, [YA, YB], verbose=0, return_dict=True)
    values = model.evaluate(X, [YA, YB], verbose=0)
    # The loss, the per-output losses (listed in `metrics`), then the
    # compiled metrics' keys sorted (their prefixed names are not in `metrics`).
    order = ["loss", "out_a_loss", "out_b_loss", "out_a_mae", "out_b_acc", "out_b_mse"]
    assert values == pytest.approx([logs[k] for k in order])


def test_weighted_metric_log_keys_follow_keras():
    model = compiled(
        one_output(), loss="mse", metrics=["mae"], weighted_metrics=["mse", "mae"]
    )
    logs = model.evaluate(X, YA, sample_weight=SW, verbose=0, return_dict=True)
    prediction = model.predict(X, verbose=0)
    err = np.abs(prediction - YA).mean(axis=1)
    assert list(logs) == ["loss", "mae", "mse", "weighted_mae"]
    assert logs["mae"] == pytest.approx(float(err.mean()), rel=1e-5)
    assert logs["weighted_mae"] == pytest.approx(
        float((err * SW).sum() / SW.sum()), rel=1e-5
    )


def test_compiled_metrics_state_survives_backup_by_name():
    model = compiled(one_output(), loss="mse", metrics=["mae"])
    model.fit(X, YA, verbose=0)
    variables = model.metrics[1].variables
    assert len(variables) == 2 and all(isinstance(v, torch.Tensor) for v in variables)
    model.reset_metrics()
    assert float(model.metrics[1].metrics[0].result()) == 0.0


def test_one_loss_weight_in_a_dict_weights_a_single_output_loss():
    # Keras applies the single value whatever its key.
    model = compiled(one_output(), loss="mse", loss_weights={"anything": 2.0})
    weighted = model.evaluate(X, YA, verbose=0)
    plain = compiled(one_output(), loss="mse").evaluate(X, YA, verbose=0)
    assert weighted == pytest.approx(2 * plain, rel=1e-5)
