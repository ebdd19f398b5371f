import numpy as np
import pytest
import torch

from lamina import metrics
from lamina.backend import get_device


class TruePositiveCount(metrics.Metric):
    """A user metric written the Keras way, with assign_add."""

    def __init__(self, name="tp_count", **kwargs):
        super().__init__(name=name, **kwargs)
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = (torch.as_tensor(y_true) > 0.5) & (torch.as_tensor(y_pred) > 0.5)
        self.count.assign_add(hits.sum().to(self.count.dtype))

    def result(self):
        return self.count.clone()


def test_add_variable_creates_zeroed_state_on_lamina_device():
    metric = TruePositiveCount()
    (state,) = metric.variables
    assert state.device.type == get_device().type
    assert state.dtype == torch.float32 and tuple(state.shape) == ()
    assert state.aggregation == "sum" and float(state) == 0.0


def test_keras_style_subclass_updates_resets_and_calls():
    metric = TruePositiveCount()
    assert float(metric([1, 0, 1], [0.9, 0.9, 0.2])) == 1.0
    assert float(metric([1, 1], [0.9, 0.9])) == 3.0
    state = metric.variables[0]
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert metric.variables[0] is state  # reset happens in place


def test_assign_and_assign_sub_work_in_place():
    metric = TruePositiveCount()
    state = metric.count
    state.assign(5.0)
    state.assign_sub(torch.tensor(2.0))
    assert float(state) == 3.0 and metric.count is state


def test_initializers_are_applied_again_by_reset_state():
    class Product(metrics.Metric):
        def __init__(self):
            super().__init__(name="product")
            self.value = self.add_variable((2,), initializer="ones", aggregation="mean")

    metric = Product()
    metric.value.mul_(3.0)
    metric.reset_state()
    assert metric.value.tolist() == [1.0, 1.0]
    assert metric.value.aggregation == "mean"


def test_state_updates_do_not_track_gradients():
    y_pred = torch.tensor([[0.2, 0.8]], requires_grad=True)
    metric = metrics.CategoricalCrossentropy()
    metric.update_state(torch.tensor([[0.0, 1.0]]), y_pred)
    assert all(not v.requires_grad for v in metric.variables)
    assert not metric.result().requires_grad


def test_result_does_not_alias_the_state():
    metric = metrics.Sum()
    metric.update_state([1.0, 2.0])
    first = metric.result()
    metric.update_state([4.0])
    assert float(first) == 3.0 and float(metric.result()) == 7.0


def test_sub_metrics_are_tracked_for_variables_and_reset():
    class Both(metrics.Metric):
        def __init__(self):
            super().__init__(name="both")
            self.mean = metrics.Mean()
            self.total = metrics.Sum()

        def update_state(self, values):
            self.mean.update_state(values)
            self.total.update_state(values)

        def result(self):
            return self.mean.result() + self.total.result()

    metric = Both()
    assert len(metric.variables) == 3
    metric.update_state([1.0, 3.0])
    assert float(metric.result()) == 6.0
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_add_variable_before_init_explains_the_fix():
    class Broken(metrics.Metric):
        def __init__(self):
            self.v = self.add_variable(())

    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        Broken()


def test_unknown_aggregation_is_rejected():
    class Bad(metrics.Metric):
        def __init__(self):
            super().__init__(name="bad")
            self.add_variable((), aggregation="max")

    with pytest.raises(ValueError, match="aggregation"):
        Bad()


def test_mean_and_sum_closed_form_with_weights():
    mean = metrics.Mean()
    mean.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    assert float(mean.result()) == 2.0
    mean.update_state([[10.0, 20.0]])  # one sample whose mean is 15
    assert float(mean.result()) == pytest.approx((1 + 3 + 15) / 3)
    total = metrics.Sum()
    total.update_state([[1.0, 2.0], [3.0, 4.0]], sample_weight=[1.0, 0.5])
    assert float(total.result()) == pytest.approx(3 + 3.5)


def test_mean_of_nothing_is_zero():
    assert float(metrics.Mean().result()) == 0.0


def test_dtype_sets_state_and_result_dtype():
    metric = metrics.Mean(dtype="float64")
    metric.update_state(np.array([1.0, 2.0], dtype="float32"))
    assert metric.result().dtype == torch.float64 and metric.dtype == "float64"


def test_default_names_follow_keras_and_repeat_with_suffixes():
    assert metrics.CategoricalAccuracy().name == "categorical_accuracy"
    assert metrics.RootMeanSquaredError().name == "root_mean_squared_error"
    assert metrics.LogCoshError().name == "logcosh"
    first, second = metrics.FalsePositives().name, metrics.FalsePositives().name
    assert first.startswith("false_positives") and second != first


@pytest.mark.parametrize(
    "identifier,cls",
    [
        ("mae", metrics.MeanAbsoluteError),
        ("MSE", metrics.MeanSquaredError),
        ("accuracy", metrics.Accuracy),
        ("auc", metrics.AUC),
        ("binary_accuracy", metrics.BinaryAccuracy),
        ("AUC", metrics.AUC),
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
        ("categorical_crossentropy", metrics.CategoricalCrossentropy),
        ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
        ("precision", metrics.Precision),
        ("bce", metrics.BinaryCrossentropy),
    ],
)
def test_get_turns_names_into_fresh_instances(identifier, cls):
    first, second = metrics.get(identifier), metrics.get(identifier)
    assert type(first) is cls and first is not second


def test_get_returns_objects_and_functions_as_they_are():
    metric = metrics.AUC(num_thresholds=10)
    assert metrics.get(metric) is metric
    assert metrics.get(metrics.binary_accuracy) is metrics.binary_accuracy
    assert metrics.get(None) is None
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)


def test_get_rejects_unknown_names_and_other_things():
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'.*'accuracy'"):
        metrics.get("acuracy")
    with pytest.raises(TypeError, match="A metric must be"):
        metrics.get(2.5)


@pytest.mark.parametrize(
    "metric",
    [
        metrics.Mean(name="m"),
        metrics.Sum(),
        metrics.Accuracy(),
        metrics.BinaryAccuracy(threshold=0.7),
        metrics.CategoricalAccuracy(),
        metrics.SparseCategoricalAccuracy(),
        metrics.TopKCategoricalAccuracy(k=3),
        metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True),
        metrics.MeanAbsoluteError(),
        metrics.MeanSquaredError(),
        metrics.RootMeanSquaredError(),
        metrics.MeanAbsolutePercentageError(),
        metrics.MeanSquaredLogarithmicError(),
        metrics.CosineSimilarity(axis=1),
        metrics.LogCoshError(),
        metrics.Hinge(),
        metrics.SquaredHinge(),
        metrics.CategoricalHinge(),
        metrics.KLDivergence(),
        metrics.Poisson(),
        metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        metrics.CategoricalCrossentropy(axis=1),
        metrics.SparseCategoricalCrossentropy(ignore_class=0),
        metrics.AUC(
            curve="PR",
            num_thresholds=20,
            multi_label=True,
            num_labels=3,
            label_weights=[1, 2, 3],
        ),
        metrics.AUC(thresholds=[0.2, 0.6]),
        metrics.Precision(top_k=2, class_id=1),
        metrics.Recall(thresholds=[0.3, 0.5]),
        metrics.TruePositives(thresholds=0.4),
        metrics.FalseNegatives(),
        metrics.TrueNegatives(),
        metrics.FalsePositives(),
        metrics.MeanMetricWrapper(metrics.binary_accuracy, name="acc7", threshold=0.7),
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_metric_round_trips_through_its_config(metric):
    config = metrics.serialize(metric)
    assert config["module"] == "keras.metrics"
    rebuilt = metrics.deserialize(config)
    assert type(rebuilt) is type(metric)
    assert rebuilt.get_config() == metric.get_config()


def test_public_names_are_exported():
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
