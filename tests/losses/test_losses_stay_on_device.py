"""Losses must not read tensor values on the host (no .item(), bool(t), ...).

Running them on PyTorch's `meta` device proves it on any machine: meta tensors
have shapes but no data, so any host read raises.
"""

import pytest
import torch

from lamina import losses
from lamina.backend import set_device


@pytest.fixture
def meta_device():
    set_device("meta")
    yield torch.device("meta")
    set_device(None)


def _inputs(kind, device):
    if kind == "sparse":
        return torch.zeros(8, dtype=torch.int64, device=device), torch.zeros(
            8, 5, device=device
        )
    return torch.zeros(8, 5, device=device), torch.zeros(8, 5, device=device)


@pytest.mark.parametrize(
    "cls,kwargs,kind",
    [
        (losses.MeanSquaredError, {}, "dense"),
        (losses.MeanAbsoluteError, {}, "dense"),
        (losses.MeanAbsolutePercentageError, {}, "dense"),
        (losses.MeanSquaredLogarithmicError, {}, "dense"),
        (losses.Huber, {}, "dense"),
        (losses.LogCosh, {}, "dense"),
        (losses.CosineSimilarity, {}, "dense"),
        (losses.KLDivergence, {}, "dense"),
        (losses.Poisson, {}, "dense"),
        (losses.Hinge, {}, "dense"),
        (losses.SquaredHinge, {}, "dense"),
        (losses.CategoricalHinge, {}, "dense"),
        (losses.BinaryCrossentropy, {}, "dense"),
        (
            losses.BinaryCrossentropy,
            {"from_logits": True, "label_smoothing": 0.1},
            "dense",
        ),
        (losses.BinaryFocalCrossentropy, {"apply_class_balancing": True}, "dense"),
        (losses.CategoricalCrossentropy, {}, "dense"),
        (losses.CategoricalCrossentropy, {"from_logits": True}, "dense"),
        (losses.CategoricalFocalCrossentropy, {}, "dense"),
        (losses.SparseCategoricalCrossentropy, {}, "sparse"),
        (
            losses.SparseCategoricalCrossentropy,
            {"from_logits": True, "ignore_class": 0},
            "sparse",
        ),
        (losses.Dice, {}, "dense"),
        (losses.Tversky, {}, "dense"),
    ],
)
@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "mean_with_sample_weight"]
)
def test_loss_runs_without_reading_values_on_the_host(
    meta_device, cls, kwargs, kind, reduction
):
    y_true, y_pred = _inputs(kind, meta_device)
    loss = cls(reduction=reduction, **kwargs)
    out = loss(y_true, y_pred, sample_weight=torch.ones(8, device=meta_device))
    assert out.device.type == "meta"
    assert loss(y_true, y_pred).device.type == "meta"


def test_attached_logits_path_runs_without_host_reads(meta_device):
    logits = torch.zeros(8, 5, device=meta_device)
    y_pred = torch.softmax(logits, -1)
    y_pred._keras_logits = logits
    out = losses.CategoricalCrossentropy()(
        torch.zeros(8, 5, device=meta_device), y_pred
    )
    assert out.device.type == "meta"
