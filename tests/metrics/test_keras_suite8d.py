"""Metrics and losses behaving as Keras 3's own unit tests expect."""

import copy
import os
import pickle

import numpy as np
import pytest

import lamina
from lamina import losses, metrics

os.environ.setdefault("KERAS_BACKEND", "torch")


def test_a_metric_pickles_with_its_state():
    metric = metrics.MeanSquaredError()
    metric.update_state([1.0, 2.0], [3.0, 2.0])
    clone = pickle.loads(pickle.dumps(metric))
    assert isinstance(clone, metrics.MeanSquaredError)
    np.testing.assert_allclose(float(clone.result()), 2.0)
    assert clone.variables[0].path == metric.variables[0].path
    # the copy's state is its own, and its `assign_add` is bound to it
    total, count = (float(v) for v in clone.variables)
    clone.variables[0].assign_add(6.0)
    np.testing.assert_allclose(float(clone.result()), (total + 6.0) / count)
    np.testing.assert_allclose(float(metric.result()), 2.0)


def test_a_deep_copied_metric_updates_only_itself():
    metric = metrics.Mean()
    metric.update_state([2.0, 4.0])
    clone = copy.deepcopy(metric)
    clone.variables[0].assign(0.0)
    np.testing.assert_allclose(float(clone.result()), 0.0)
    np.testing.assert_allclose(float(metric.result()), 3.0)


def test_a_compiled_and_trained_model_pickles():
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    model.compile("adam", "mse", metrics=["mae"])
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    model.fit(x, y, verbose=0)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(
        clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    logs = clone.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae"}


def test_sub_metrics_in_lists_and_dicts_are_tracked_and_reset():
    metric = metrics.Mean()
    metric.parts = [metrics.Mean(), {"b": metrics.Sum()}]
    assert len(metric.variables) == 2 + 2 + 1
    metric.parts[0].update_state([5.0])
    metric.parts[1]["b"].update_state([5.0])
    metric.reset_state()
    assert float(metric.parts[0].result()) == 0.0
    assert float(metric.parts[1]["b"].result()) == 0.0


def test_the_same_sub_metric_twice_is_tracked_once():
    metric = metrics.Mean()
    shared = metrics.Mean()
    metric.parts = [shared, shared]
    metric.again = shared
    assert len(metric.variables) == 4


def test_fbeta_with_an_unknown_number_of_classes_raises_a_value_error():
    fbeta = metrics.FBetaScore(beta=1.0)
    with pytest.raises(ValueError, match="output_dim fully defined"):
        fbeta._build((2, None), (2, None))


def test_mean_iou_float_weights_warn_about_type_casting():
    metric = metrics.MeanIoU(num_classes=3)
    with pytest.warns(UserWarning, match=r"weight.*float.*int.*casting"):
        metric([0, 1, 1, 0], [0, 1, 1, 1], sample_weight=np.array([0.2, 0.3, 0.4, 0.1]))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: losses.Hinge(reduction="abc"), "Invalid value for argument"),
        (lambda: metrics.AUC(curve="bad"), "Invalid AUC curve value"),
        (lambda: metrics.AUC(num_thresholds=1), "must be an integer > 1"),
        (lambda: metrics.PrecisionAtRecall(-1), "must be in the range"),
        (lambda: metrics.FBetaScore(beta=0.0), "It should be > 0"),
        (lambda: metrics.R2Score(class_aggregation="x"), "`class_aggregation`"),
        (lambda: metrics.Precision(thresholds=[-1, 2]), r"must be in \[0, 1\]"),
    ],
)
def test_bad_arguments_use_keras_key_phrases(make, phrase):
    with pytest.raises(ValueError, match=phrase):
        make()
