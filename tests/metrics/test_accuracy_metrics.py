import numpy as np
import pytest
import torch

from lamina import metrics


def test_accuracy_counts_exact_matches_across_label_shapes():
    metric = metrics.Accuracy()
    metric.update_state([[1], [2], [3], [4]], [0, 2, 3, 4])
    assert float(metric.result()) == 0.75


def test_binary_accuracy_thresholds_predictions():
    metric = metrics.BinaryAccuracy()
    metric.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert float(metric.result()) == 0.75
    strict = metrics.BinaryAccuracy(threshold=0.99)
    strict.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert float(strict.result()) == 0.75  # 0.98 misses, 0.6 now counts as 0


def test_binary_accuracy_accepts_flat_labels_against_column_outputs():
    values = metrics.binary_accuracy(np.array([1.0, 0.0]), np.array([[0.7], [0.7]]))
    assert tuple(values.shape) == (2, 1) and values[:, 0].tolist() == [1.0, 0.0]


def test_categorical_accuracy_with_sample_weights():
    metric = metrics.CategoricalAccuracy()
    metric.update_state(
        [[0, 0, 1], [0, 1, 0]],
        [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        sample_weight=[0.7, 0.3],
    )
    assert float(metric.result()) == pytest.approx(0.3)


@pytest.mark.parametrize("labels", [[2, 1], [[2], [1]]])
def test_sparse_categorical_accuracy_handles_flat_and_column_labels(labels):
    values = metrics.sparse_categorical_accuracy(
        labels, [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]
    )
    assert tuple(values.shape) == (2,) and values.tolist() == [0.0, 1.0]


def test_sparse_categorical_accuracy_on_sequences():
    y_pred = torch.zeros(2, 3, 4)
    y_pred[..., 1] = 1.0
    y_true = torch.tensor([[1, 1, 0], [2, 1, 1]])
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) == pytest.approx(4 / 6)


def test_top_k_accuracies():
    y_pred = [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    top = metrics.TopKCategoricalAccuracy(k=1)
    top.update_state([[0, 0, 1], [0, 1, 0]], y_pred)
    assert float(top.result()) == 0.5
    sparse = metrics.SparseTopKCategoricalAccuracy(k=2)
    sparse.update_state([[2], [2]], y_pred)
    assert float(sparse.result()) == 0.5
    # k larger than the number of classes: everything is a hit.
    assert metrics.sparse_top_k_categorical_accuracy(
        [0], [[0.2, 0.8]], k=5
    ).tolist() == [1.0]


def test_top_k_counts_ties_at_the_kth_score_as_hits():
    values = metrics.sparse_top_k_categorical_accuracy([2], [[0.5, 0.5, 0.5]], k=1)
    assert values.tolist() == [1.0]


def test_sparse_top_k_from_sorted_ids():
    ids = [[3, 1, 0, 2], [0, 2, 1, 3]]
    values = metrics.sparse_top_k_categorical_accuracy(
        [1, 3], ids, k=2, from_sorted_ids=True
    )
    assert values.tolist() == [1.0, 0.0]


def test_regression_metrics_closed_form():
    y_true, y_pred = [[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]
    assert float(metrics.MeanAbsoluteError()(y_true, y_pred)) == 0.5
    assert float(metrics.MeanSquaredError()(y_true, y_pred)) == 0.5
    assert float(metrics.RootMeanSquaredError()(y_true, y_pred)) == pytest.approx(
        0.5**0.5
    )
    assert float(
        metrics.CosineSimilarity()([[0.0, 1.0]], [[0.0, 3.0]])
    ) == pytest.approx(1.0)


def test_root_mean_squared_error_weights_samples():
    metric = metrics.RootMeanSquaredError()
    metric.update_state([[0.0], [0.0]], [[2.0], [4.0]], sample_weight=[3.0, 1.0])
    assert float(metric.result()) == pytest.approx(((3 * 4 + 16) / 4) ** 0.5)


def test_crossentropy_metrics_average_per_sample_losses():
    metric = metrics.SparseCategoricalCrossentropy(from_logits=True)
    metric.update_state([0, 1], torch.zeros(2, 4))
    assert float(metric.result()) == pytest.approx(np.log(4.0))
    masked = metrics.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)
    masked.update_state([0, 1], torch.zeros(2, 4), sample_weight=[1.0, 1.0])
    # Keras applies the ignore_class mask to the weights: only sample 0 counts.
    assert float(masked.result()) == pytest.approx(np.log(4.0))


def test_mean_metric_wrapper_wraps_any_function():
    def absolute_gap(y_true, y_pred):
        return (torch.as_tensor(y_pred) - torch.as_tensor(y_true)).abs().mean(-1)

    metric = metrics.MeanMetricWrapper(absolute_gap, name="gap")
    metric.update_state(torch.zeros(2, 2), torch.ones(2, 2))
    metric.update_state(torch.zeros(2, 2), torch.full((2, 2), 3.0))
    assert metric.name == "gap" and float(metric.result()) == 2.0


def test_binary_crossentropy_metric_takes_flat_labels_for_column_outputs():
    metric = metrics.BinaryCrossentropy()
    metric.update_state(np.array([1.0, 0.0]), np.array([[0.8], [0.4]]))
    assert float(metric.result()) == pytest.approx(
        -(np.log(0.8) + np.log(0.6)) / 2, rel=1e-5
    )
