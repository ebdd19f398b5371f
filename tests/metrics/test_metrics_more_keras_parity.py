"""R2Score, F-scores, IoU metrics, correlations and the rate-at-rate metrics
against keras.metrics (torch backend): same batches over several weighted
updates, same state variables, configs and names; plus errors, device and fit."""

import os
import re
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402
from lamina import layers, metrics  # noqa: E402
from lamina.backend import set_device  # noqa: E402

B, C = 16, 4


def _np(x):
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def _base_name(name):
    return re.sub(r"_\d+$", "", name)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _batch(kind, rng):
    f = np.float32
    if kind == "regression":
        y = rng.normal(size=(B, C)).astype(f)
        return y, (y + rng.normal(size=(B, C))).astype(f)
    if kind == "regression_col":
        y = rng.normal(size=(B, 1)).astype(f)
        return y, (y + rng.normal(size=(B,))[:, None]).astype(f)
    if kind == "binary":
        return (
            rng.integers(0, 2, size=(B, 1)).astype(f),
            rng.uniform(0, 1, size=(B, 1)).astype(f),
        )
    if kind == "multilabel":
        return (
            rng.integers(0, 2, size=(B, C)).astype(f),
            rng.uniform(0, 1, size=(B, C)).astype(f),
        )
    if kind == "one_hot":
        return (
            np.eye(C, dtype=f)[rng.integers(0, C, size=B)],
            _softmax(rng.normal(size=(B, C))).astype(f),
        )
    if kind == "ids":
        # Includes ids outside [0, C), which both libraries must skip.
        return (
            rng.integers(-1, C + 1, size=(B,)).astype("int64"),
            rng.integers(0, C, size=(B,)).astype("int64"),
        )
    if kind == "ids_2d":
        return (
            rng.integers(0, C, size=(2, B // 2)).astype("int32"),
            rng.integers(0, C, size=(2, B // 2)).astype("int32"),
        )
    if kind == "ids_and_scores":
        return (
            rng.integers(0, C, size=(B,)).astype("int64"),
            _softmax(rng.normal(size=(B, C))).astype(f),
        )
    raise AssertionError(kind)


# (class name, kwargs, batch kind, sample-weight kind)
CASES = [
    ("R2Score", {}, "regression", "float"),
    ("R2Score", {"class_aggregation": None}, "regression", "float"),
    (
        "R2Score",
        {"class_aggregation": "variance_weighted_average"},
        "regression",
        "float",
    ),
    ("R2Score", {"num_regressors": 3}, "regression_col", "float"),
    ("F1Score", {}, "one_hot", "float"),
    ("F1Score", {"average": "micro", "threshold": 0.5}, "multilabel", "float"),
    ("F1Score", {"average": "macro", "threshold": 0.3}, "multilabel", "float"),
    ("F1Score", {"average": "weighted"}, "one_hot", "float"),
    ("FBetaScore", {"beta": 2.0, "threshold": 0.5}, "multilabel", "float"),
    ("FBetaScore", {"beta": 0.5, "average": "weighted"}, "one_hot", "float"),
    ("IoU", {"num_classes": C, "target_class_ids": [0, 2]}, "ids", "int"),
    (
        "IoU",
        {"num_classes": C, "target_class_ids": [1], "dtype": "float32"},
        "ids",
        "float",
    ),
    ("BinaryIoU", {}, "binary", "int"),
    # Keras takes one weight per element here, not per sample: none given.
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "multilabel", "none"),
    ("MeanIoU", {"num_classes": C}, "ids_2d", "none"),
    ("MeanIoU", {"num_classes": C, "ignore_class": 0}, "ids", "int"),
    (
        "MeanIoU",
        {"num_classes": C, "sparse_y_pred": False, "dtype": "float32"},
        "ids_and_scores",
        "float",
    ),
    ("OneHotIoU", {"num_classes": C, "target_class_ids": [1, 3]}, "one_hot", "int"),
    ("OneHotMeanIoU", {"num_classes": C}, "one_hot", "int"),
    ("OneHotMeanIoU", {"num_classes": C, "ignore_class": 2}, "one_hot", "none"),
    ("PearsonCorrelation", {}, "regression", "float"),
    ("ConcordanceCorrelation", {}, "regression", "float"),
    ("PrecisionAtRecall", {"recall": 0.6}, "binary", "float"),
    ("PrecisionAtRecall", {"recall": 0.3, "num_thresholds": 1}, "binary", "float"),
    (
        "RecallAtPrecision",
        {"precision": 0.55, "num_thresholds": 50},
        "multilabel",
        "float",
    ),
    ("RecallAtPrecision", {"precision": 0.5, "num_thresholds": 7}, "binary", "float"),
    ("SensitivityAtSpecificity", {"specificity": 0.6}, "binary", "float"),
    (
        "SensitivityAtSpecificity",
        {"specificity": 0.4, "class_id": 1, "num_thresholds": 3},
        "multilabel",
        "float",
    ),
    ("SpecificityAtSensitivity", {"sensitivity": 0.7}, "multilabel", "float"),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _weights(kind, rng):
    if kind == "int":
        return rng.integers(0, 3, size=(B,)).astype("int32")
    if kind == "float":
        return rng.uniform(0, 2, size=(B,)).astype("float32")
    return None


def _lamina_variables(metric):
    # lamina's state tensors carry no name; their specs hold Keras's names.
    return [
        (spec[0], tuple(v.shape), str(v.dtype).removeprefix("torch."))
        for v, spec in zip(metric._variables, metric._variable_specs, strict=True)
    ]


def _keras_variables(metric):
    return [(v.name, tuple(v.shape), str(v.dtype)) for v in metric.variables]


@pytest.mark.parametrize("name,kwargs,kind,weight_kind", CASES, ids=IDS)
def test_metric_matches_keras_over_several_weighted_updates(
    name, kwargs, kind, weight_kind
):
    rng = np.random.default_rng(zlib.crc32(f"{name}{kind}{kwargs}".encode()))
    ours = getattr(metrics, name)(**kwargs)
    with keras.device("cpu"):
        theirs = getattr(keras.metrics, name)(**kwargs)
    assert _base_name(ours.name) == _base_name(theirs.name)
    for step, weighted in enumerate([False, True, True, False]):
        y_true, y_pred = _batch(kind, rng)
        weights = _weights(weight_kind, rng) if weighted else None
        ours.update_state(y_true, y_pred, sample_weight=weights)
        with keras.device("cpu"):
            theirs.update_state(y_true, y_pred, sample_weight=weights)
        got, want = ours.result(), theirs.result()
        assert tuple(got.shape) == tuple(want.shape), step
        assert got.dtype == want.dtype, step
        np.testing.assert_allclose(
            _np(got), _np(want), rtol=2e-5, atol=2e-6, err_msg=f"{step=}"
        )
    # Same state, under the names, shapes and dtypes Keras saves them with.
    assert _lamina_variables(ours) == _keras_variables(theirs)
    ours.reset_state()
    with keras.device("cpu"):
        theirs.reset_state()
    assert all(not _np(v).any() for v in ours.variables)
    y_true, y_pred = _batch(kind, rng)
    ours.update_state(y_true, y_pred)
    with keras.device("cpu"):
        theirs.update_state(y_true, y_pred)
    np.testing.assert_allclose(
        _np(ours.result()), _np(theirs.result()), rtol=2e-5, atol=2e-6
    )


@pytest.mark.parametrize("name,kwargs,kind,weight_kind", CASES, ids=IDS)
def test_config_matches_keras_and_round_trips(name, kwargs, kind, weight_kind):
    ours = getattr(metrics, name)(**kwargs)
    theirs = getattr(keras.metrics, name)(**kwargs)
    mine, want = ours.get_config(), theirs.get_config()
    mine.pop("name"), want.pop("name")
    assert mine == want
    # Keras's serialized config loads here, and ours rebuilds the same metric.
    rebuilt = metrics.deserialize(keras.metrics.serialize(theirs))
    assert type(rebuilt) is type(ours)
    assert rebuilt.get_config() == theirs.get_config()
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_get_resolves_the_new_names_like_keras():
    for key in (
        "r2_score",
        "f1_score",
        "f_beta_score",
        "FBetaScore",
        "pearson_correlation",
        "concordance_correlation",
        "ConcordanceCorrelation",
    ):
        ours, theirs = metrics.get(key), keras.metrics.get(key)
        assert type(ours).__name__ == type(theirs).__name__, key
        assert _base_name(ours.name) == _base_name(theirs.name), key
    from keras.src.metrics import ALL_OBJECTS_DICT as keras_names

    for key in ("io_u", "binary_io_u", "one_hot_mean_io_u", "precision_at_recall"):
        assert metrics.ALL_OBJECTS_DICT[key].__name__ == keras_names[key].__name__
    for name in ("MeanIoU", "R2Score", "SpecificityAtSensitivity"):
        assert name in metrics.__all__


@pytest.mark.parametrize("fn", ["pearson_correlation", "concordance_correlation"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_correlation_functions_match_keras(fn, axis):
    rng = np.random.default_rng(3)
    y_true, y_pred = _batch("regression", rng)
    got = getattr(metrics, fn)(y_true, y_pred, axis=axis)
    want = getattr(keras.metrics, fn)(y_true, y_pred, axis=axis)
    assert tuple(got.shape) == tuple(want.shape) == ((B,) if axis == -1 else (C,))
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-6)


def test_values_by_hand():
    # R2 of [1, 4, 3] predicted as [2, 4, 4]: SS_res 2, SS_tot 14/3.
    r2 = metrics.R2Score()
    assert float(r2([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])) == pytest.approx(
        1 - 2 / (14 / 3)
    )
    # Class 0: tp 1 (row 0), fn 1 (row 2); class 1: tp 1, fp 1.
    f1 = metrics.F1Score()
    f1.update_state([[1, 0], [0, 1], [1, 0]], [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    np.testing.assert_allclose(_np(f1.result()), [2 / 3, 2 / 3], rtol=1e-5)
    # Class 2 never appears: it is left out of the mean instead of counting 0.
    miou = metrics.MeanIoU(num_classes=3)
    assert float(miou([0, 0, 1, 1], [0, 1, 0, 1])) == pytest.approx(1 / 3, rel=1e-5)
    assert miou.result().dtype == torch.float32
    assert miou.total_cm.dtype == torch.int32


def test_adjusted_r2_with_too_few_samples_warns_and_falls_back():
    metric = metrics.R2Score(num_regressors=5)
    metric.update_state([[1.0], [2.0], [4.0]], [[1.5], [2.0], [3.0]])
    plain = metrics.R2Score()
    plain.update_state([[1.0], [2.0], [4.0]], [[1.5], [2.0], [3.0]])
    with pytest.warns(UserWarning, match="more independent regressors"):
        value = metric.result()
    assert float(value) == pytest.approx(float(plain.result()))


def test_iou_warns_when_float_weights_are_truncated_like_keras():
    metric = metrics.IoU(num_classes=2, target_class_ids=[0, 1])
    with pytest.warns(UserWarning, match="truncated"):
        metric.update_state([0, 1], [0, 1], sample_weight=np.array([0.5, 1.5]))
    np.testing.assert_array_equal(_np(metric.total_cm), [[0, 0], [0, 1]])


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: metrics.F1Score(average="mean"), ValueError, "average.*got"),
        (lambda: metrics.FBetaScore(beta=2), ValueError, "beta.*float.*got beta=2"),
        (lambda: metrics.FBetaScore(beta=-1.0), ValueError, "beta.*> 0"),
        (lambda: metrics.F1Score(threshold=1.5), ValueError, "threshold"),
        (lambda: metrics.R2Score(class_aggregation="x"), ValueError, "aggregation"),
        (lambda: metrics.R2Score(num_regressors=-1), ValueError, "num_regressors"),
        (
            lambda: metrics.IoU(num_classes=3, target_class_ids=[3]),
            ValueError,
            r"target_class_ids.*\[0, 3\)",
        ),
        (lambda: metrics.MeanIoU(num_classes=0), ValueError, "positive int"),
        (lambda: metrics.PrecisionAtRecall(1.2), ValueError, "recall.*got recall"),
        (lambda: metrics.RecallAtPrecision("high"), TypeError, "precision"),
        (
            lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0),
            ValueError,
            "num_thresholds",
        ),
    ],
)
def test_bad_arguments_are_rejected_with_a_clear_message(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("cls", [metrics.F1Score, metrics.R2Score])
def test_rank_one_inputs_are_rejected(cls):
    with pytest.raises(ValueError, match="rank 2"):
        cls().update_state([1.0, 0.0], [1.0, 0.0])


def test_iou_rejects_weights_that_do_not_match_the_labels():
    metric = metrics.BinaryIoU()
    with pytest.raises(ValueError, match="one sample weight per label.*got 2"):
        metric.update_state(np.zeros((3, 2)), np.zeros((3, 2)), sample_weight=[1, 2])


def test_result_before_any_update_says_what_to_do():
    with pytest.raises(ValueError, match="update_state"):
        metrics.F1Score().result()


NO_SYNC = [
    (metrics.R2Score, {}, "dense"),
    (metrics.F1Score, {"average": "weighted"}, "dense"),
    (metrics.FBetaScore, {"beta": 2.0, "threshold": 0.5}, "dense"),
    (metrics.IoU, {"num_classes": 5, "target_class_ids": [1, 2]}, "sparse"),
    (metrics.BinaryIoU, {}, "column"),
    (metrics.MeanIoU, {"num_classes": 5, "ignore_class": 0}, "sparse"),
    (metrics.OneHotIoU, {"num_classes": 5, "target_class_ids": [0]}, "dense"),
    (metrics.OneHotMeanIoU, {"num_classes": 5}, "dense"),
    (metrics.PearsonCorrelation, {}, "dense"),
    (metrics.ConcordanceCorrelation, {}, "dense"),
    (metrics.PrecisionAtRecall, {"recall": 0.5}, "dense"),
    (metrics.RecallAtPrecision, {"precision": 0.5, "num_thresholds": 1}, "dense"),
    (metrics.SensitivityAtSpecificity, {"specificity": 0.5, "class_id": 1}, "dense"),
    (metrics.SpecificityAtSensitivity, {"sensitivity": 0.5}, "dense"),
]


@pytest.mark.parametrize(
    "cls,kwargs,kind", NO_SYNC, ids=[c[0].__name__ for c in NO_SYNC]
)
def test_metric_updates_without_reading_values_on_the_host(cls, kwargs, kind):
    # On the meta device any .item() or copy to the host raises.
    set_device("meta")
    try:
        metric = cls(**kwargs)
        meta = torch.device("meta")
        if kind == "sparse":
            y_true = torch.zeros(8, dtype=torch.int64, device=meta)
            y_pred = torch.zeros(8, dtype=torch.int64, device=meta)
            weight = torch.ones(8, dtype=torch.int32, device=meta)
        else:
            width = 1 if kind == "column" else 5
            y_true, y_pred = (
                torch.zeros(8, width, device=meta),
                torch.zeros(8, width, device=meta),
            )
            weight = torch.ones(8, device=meta)
        if "int" in metric.dtype:
            weight = weight.to(torch.int32)  # float weights would warn
        metric.update_state(y_true, y_pred)
        metric.update_state(y_true, y_pred, sample_weight=weight)
        assert metric.result().device.type == "meta"
        assert all(v.device.type == "meta" for v in metric.variables)
        metric.reset_state()
    finally:
        set_device(None)


def test_fit_logs_f1_and_r2_equal_to_the_metrics_on_the_predictions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = (rng.uniform(size=(40, 3)) < 0.5).astype("float32")
    model = lamina.Sequential(
        [lamina.Input((6,)), layers.Dense(3, activation="sigmoid")]
    )
    # A zero learning rate keeps the weights, so the epoch's accumulated
    # metrics must equal the metrics of predict() on the same data.
    model.compile(
        optimizer=lamina.optimizers.SGD(learning_rate=0.0),
        loss="binary_crossentropy",
        metrics=[metrics.F1Score(average="macro", threshold=0.5), "r2_score"],
    )
    history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert set(history.history) == {"loss", "f1_score", "r2_score"}
    y_pred = model.predict(x, verbose=0)
    f1 = metrics.F1Score(average="macro", threshold=0.5)(y, y_pred)
    r2 = metrics.R2Score()(y, y_pred)
    for epoch in range(2):
        assert history.history["f1_score"][epoch] == pytest.approx(float(f1), rel=1e-5)
        assert history.history["r2_score"][epoch] == pytest.approx(float(r2), rel=1e-5)
    logs = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    assert logs["r2_score"] == pytest.approx(float(r2), rel=1e-5)
