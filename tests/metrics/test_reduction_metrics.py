"""Mean with a Python number as the weight (the loss tracker's fast path)."""

import pytest
import torch

from lamina import metrics


def test_mean_of_scalars_weighted_by_python_numbers():
    # The loss tracker's path: a 0-d value weighted by a batch size (int).
    by_number, by_tensor = metrics.Mean(), metrics.Mean()
    for value, weight in [(2.0, 3), (5.0, 1), (-1.0, 4.5)]:
        by_number.update_state(torch.tensor(value), sample_weight=weight)
        by_tensor.update_state(torch.tensor(value), sample_weight=torch.tensor(weight))
    expected = (2.0 * 3 + 5.0 * 1 - 1.0 * 4.5) / (3 + 1 + 4.5)
    assert float(by_number.result()) == pytest.approx(expected)
    assert float(by_number.result()) == float(by_tensor.result())
    assert float(by_number.count) == 8.5
