"""update_state and result must not read tensor values on the host.

On PyTorch's `meta` device tensors have no data, so any `.item()`, `bool(t)` or
copy to the host raises: running every metric there proves the per-step path
is free of host syncs on any machine.
"""

import pytest
import torch

from lamina import metrics
from lamina.backend import set_device


@pytest.fixture
def meta_device():
    set_device("meta")
    yield torch.device("meta")
    set_device(None)


METRICS = [
    (metrics.Accuracy, {}, "dense"),
    (metrics.BinaryAccuracy, {}, "dense"),
    (metrics.CategoricalAccuracy, {}, "dense"),
    (metrics.SparseCategoricalAccuracy, {}, "sparse"),
    (metrics.TopKCategoricalAccuracy, {"k": 2}, "dense"),
    (metrics.SparseTopKCategoricalAccuracy, {"k": 2}, "sparse"),
    (metrics.MeanAbsoluteError, {}, "dense"),
    (metrics.MeanSquaredError, {}, "dense"),
    (metrics.RootMeanSquaredError, {}, "dense"),
    (metrics.MeanAbsolutePercentageError, {}, "dense"),
    (metrics.CosineSimilarity, {}, "dense"),
    (metrics.BinaryCrossentropy, {}, "dense"),
    (metrics.CategoricalCrossentropy, {"from_logits": True}, "dense"),
    (metrics.SparseCategoricalCrossentropy, {"ignore_class": 0}, "sparse"),
    (metrics.AUC, {}, "dense"),
    (metrics.AUC, {"curve": "PR"}, "dense"),
    (metrics.AUC, {"multi_label": True, "label_weights": [1, 2, 3, 4, 5]}, "dense"),
    (metrics.AUC, {"thresholds": [0.3, 0.6], "from_logits": True}, "dense"),
    (metrics.Precision, {}, "dense"),
    (metrics.Precision, {"top_k": 2, "class_id": 1}, "dense"),
    (metrics.Recall, {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "dense"),
    (metrics.TruePositives, {}, "dense"),
    (metrics.TrueNegatives, {"thresholds": [0.2, 0.8]}, "dense"),
]


@pytest.mark.parametrize(
    "cls,kwargs,kind",
    METRICS,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(METRICS)],
)
def test_metric_updates_without_reading_values_on_the_host(
    meta_device, cls, kwargs, kind
):
    metric = cls(**kwargs)
    if kind == "sparse":
        y_true = torch.zeros(8, dtype=torch.int64, device=meta_device)
    else:
        y_true = torch.zeros(8, 5, device=meta_device)
    y_pred = torch.zeros(8, 5, device=meta_device)
    metric.update_state(y_true, y_pred)
    metric.update_state(y_true, y_pred, sample_weight=torch.ones(8, device=meta_device))
    assert metric.result().device.type == "meta"
    assert all(v.device.type == "meta" for v in metric.variables)
    metric.reset_state()


def test_mean_and_sum_update_without_host_reads(meta_device):
    for cls in (metrics.Mean, metrics.Sum):
        metric = cls()
        metric.update_state(torch.zeros(8, device=meta_device))
        metric.update_state(
            torch.zeros(8, 3, device=meta_device),
            sample_weight=torch.ones(8, device=meta_device),
        )
        assert metric.result().device.type == "meta"
