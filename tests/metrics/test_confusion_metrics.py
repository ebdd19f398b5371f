import numpy as np
import pytest
import torch

from lamina import metrics


def test_precision_and_recall_at_the_default_threshold():
    y_true, y_pred = [0, 1, 1, 1], [1, 0, 1, 1]
    assert float(metrics.Precision()(y_true, y_pred)) == pytest.approx(2 / 3)
    assert float(metrics.Recall()(y_true, y_pred)) == pytest.approx(2 / 3)


def test_precision_with_weights_and_several_thresholds():
    metric = metrics.Precision(thresholds=[0.3, 0.7])
    metric.update_state([0, 1, 1, 0], [0.5, 0.8, 0.4, 0.9], sample_weight=[1, 2, 3, 4])
    # t=0.3: positives 0.5(neg,1) 0.8(pos,2) 0.4(pos,3) 0.9(neg,4) -> 5/10
    # t=0.7: 0.8(pos,2) 0.9(neg,4) -> 2/6
    np.testing.assert_allclose(metric.result().cpu().numpy(), [0.5, 2 / 6], rtol=1e-6)


def test_precision_top_k_and_class_id():
    y_true = [[0, 0, 1, 1]]
    y_pred = [[0.9, 0.8, 0.7, 0.5]]
    top2 = metrics.Precision(top_k=2)
    assert float(top2(y_true, y_pred)) == 0.0  # the top two are both negatives
    cls = metrics.Recall(class_id=2)
    assert float(cls(y_true, y_pred)) == 1.0


def test_confusion_counts():
    y_true, y_pred = [0, 1, 0, 0], [0, 0, 1, 1]
    assert float(metrics.TruePositives()(y_true, y_pred)) == 0.0
    assert float(metrics.FalsePositives()(y_true, y_pred)) == 2.0
    assert float(metrics.TrueNegatives()(y_true, y_pred)) == 1.0
    assert float(metrics.FalseNegatives()(y_true, y_pred)) == 1.0
    several = metrics.FalsePositives(thresholds=[0.0, 1.0])
    np.testing.assert_allclose(
        several(y_true, [0, 0.5, 1, 1]).cpu().numpy(), [2.0, 0.0]
    )


def test_auc_is_one_for_a_perfect_ranking_and_half_for_a_constant_one():
    y_true = [0, 0, 1, 1]
    assert float(metrics.AUC()(y_true, [0.1, 0.2, 0.8, 0.9])) == pytest.approx(1.0)
    assert float(metrics.AUC()(y_true, [0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)


def test_auc_closed_form_with_three_thresholds():
    # Thresholds [-eps, 0.5, 1 + eps]. At 0.5: tp=1 (0.9), fp=0 -> (fpr 0, tpr .5).
    # Trapezoids between (1, 1), (0, 0.5), (0, 0): area 0.75.
    metric = metrics.AUC(num_thresholds=3)
    assert float(metric([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])) == pytest.approx(0.75)


def test_auc_from_logits_equals_auc_of_sigmoid():
    y_true = np.array([0, 1, 1, 0, 1], dtype="float32")
    logits = np.array([-2.0, 0.5, 3.0, 1.0, -0.3], dtype="float32")
    with_logits = metrics.AUC(from_logits=True)(y_true, logits)
    plain = metrics.AUC()(y_true, torch.sigmoid(torch.tensor(logits)))
    assert float(with_logits) == pytest.approx(float(plain))


def test_multi_label_auc_averages_the_label_curves():
    y_true = np.array([[0, 1], [1, 0], [1, 1], [0, 0]], dtype="float32")
    y_pred = np.array([[0.1, 0.9], [0.8, 0.3], [0.7, 0.6], [0.2, 0.1]], dtype="float32")
    metric = metrics.AUC(multi_label=True)
    assert float(metric(y_true, y_pred)) == pytest.approx(1.0)
    assert tuple(metric.true_positives.shape) == (200, 2)
    weighted = metrics.AUC(multi_label=True, label_weights=[1.0, 0.0])
    assert float(weighted(y_true, y_pred)) == pytest.approx(1.0)


def test_auc_scores_outside_zero_one_are_clipped_and_nan_ignored():
    metric = metrics.AUC()
    metric.update_state([1, 0], [1.5, -0.5])
    assert float(metric.result()) == pytest.approx(1.0)
    metric.update_state([1.0], [float("nan")])
    assert np.isfinite(float(metric.result()))


def test_auc_reset_and_thresholds():
    metric = metrics.AUC(num_thresholds=5)
    assert metric.thresholds[1:-1] == pytest.approx([0.25, 0.5, 0.75])
    metric.update_state([0, 1], [0.2, 0.8])
    metric.reset_state()
    assert float(metric.true_positives.sum()) == 0.0
    explicit = metrics.AUC(thresholds=[0.7, 0.3])
    assert explicit.num_thresholds == 4
    assert explicit.get_config()["thresholds"] == pytest.approx([0.3, 0.7])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"curve": "XYZ"}, "curve"),
        ({"summation_method": "sideways"}, "summation_method"),
        ({"num_thresholds": 1}, "num_thresholds"),
        ({"num_labels": 3}, "multi_label"),
    ],
)
def test_auc_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.AUC(**kwargs)


def test_thresholds_outside_zero_one_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])


def test_class_id_needs_two_dimensional_predictions():
    with pytest.raises(ValueError, match="class_id"):
        metrics.Recall(class_id=1).update_state([1, 0], [0.3, 0.9])
