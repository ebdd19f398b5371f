"""Regressions found by differential fuzzing of metrics against Keras 3 (session 6)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lamina import metrics  # noqa: E402

keras = pytest.importorskip("keras")

pytestmark = pytest.mark.usefixtures("values_on_cpu")

# Keras's `Metric.add_variable` makes floatx state unless told otherwise; only
# Mean/Sum (and their wrappers), F1/FBeta and the IoU family pass their dtype.
COUNTING = [
    ("TruePositives", {}),
    ("FalseNegatives", {"thresholds": [0.3, 0.7]}),
    ("Precision", {}),
    ("Recall", {"top_k": 1}),
    ("AUC", {"num_thresholds": 5}),
    ("PrecisionAtRecall", {"recall": 0.5, "num_thresholds": 5}),
]


def _paths_and_dtypes(metric):
    return [(v.path, str(v.dtype).replace("torch.", "")) for v in metric.variables]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
@pytest.mark.parametrize("case", COUNTING, ids=[c[0] for c in COUNTING])
def test_confusion_counts_are_floatx_whatever_the_metric_dtype(case, dtype):
    name, kwargs = case
    ours = getattr(metrics, name)(dtype=dtype, name="m", **kwargs)
    theirs = getattr(keras.metrics, name)(dtype=dtype, name="m", **kwargs)
    assert _paths_and_dtypes(ours) == _paths_and_dtypes(theirs)
    assert {d for _, d in _paths_and_dtypes(ours)} == {"float32"}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_counts_go_past_the_float16_range(dtype):
    # 3003 positives: float16 holds only even numbers past 2048 (bfloat16
    # steps by 16 there), so half-precision counters would round.
    m = metrics.TruePositives(dtype=dtype)
    for _ in range(3):
        m.update_state(np.ones(1001, "float32"), np.ones(1001, "float32"))
    assert float(m.result()) == 3003.0


def test_mean_sum_f1_and_iou_state_follow_the_metric_dtype():
    for ours, theirs in [
        (metrics.Mean(dtype="float64"), keras.metrics.Mean(dtype="float64")),
        (metrics.Sum(dtype="float16"), keras.metrics.Sum(dtype="float16")),
        (
            metrics.MeanIoU(2, dtype="float64"),
            keras.metrics.MeanIoU(2, dtype="float64"),
        ),
    ]:
        assert _paths_and_dtypes(ours) == _paths_and_dtypes(theirs)
    f1 = metrics.F1Score(dtype="float64")
    f1.update_state(np.eye(2, dtype="float32"), np.eye(2, dtype="float32"))
    assert {str(v.dtype) for v in f1.variables} == {"torch.float64"}


@pytest.mark.parametrize("name", ["Precision", "Recall"])
def test_top_k_in_float16_matches_keras(name):
    # NEG_INF (-1e10) thresholds must not become -inf in half precision.
    rng = np.random.default_rng(7)
    y_true = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    y_pred = torch.tensor([[0.2, 0.7], [0.9, 0.3], [0.4, 0.6], [0.8, 0.1]])
    weights = torch.tensor(rng.random((4, 2)).astype("float32"))
    ours = getattr(metrics, name)(top_k=1, dtype="float16")
    theirs = getattr(keras.metrics, name)(top_k=1, dtype="float16")
    ours.update_state(y_true, y_pred, sample_weight=weights)
    theirs.update_state(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(float(ours.result()), float(theirs.result()), rtol=1e-5)
    for a, b in zip(ours.variables, theirs.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
