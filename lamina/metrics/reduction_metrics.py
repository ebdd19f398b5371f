"""Sum, Mean, and MeanMetricWrapper (the running, weighted mean of a function
of `y_true` and `y_pred`), with Keras 3's sample-weight rules."""

import torch

from lamina.backend import convert_to_tensor
from lamina.losses.loss import apply_mask, squeeze_or_expand_to_same_rank
from lamina.metrics.metric import Metric


def _as_tensor(x, dtype, device=None):
    if isinstance(x, torch.Tensor):
        return x if x.dtype == dtype else x.to(dtype)
    return convert_to_tensor(x, dtype=dtype, device=device)


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """One (weighted) value per sample, and the matching per-sample weights.

    As Keras: weights and values first get equal ranks where a trailing axis of
    size 1 differs; values are reduced with `reduce_fn` down to the weights'
    rank, weighted, and then reduced to shape `(batch,)`.
    """
    mask = getattr(values, "_keras_mask", None)
    values = _as_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = _as_tensor(sample_weight, dtype, values.device)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, dtype, "sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.dim(), values.dim()
        if values_ndim > weight_ndim:
            values = reduce_fn(values, dim=tuple(range(weight_ndim, values_ndim)))
        sample_weight = sample_weight.broadcast_to(values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, dim=tuple(range(1, weight_ndim)))
    if values.dim() > 1:
        values = reduce_fn(values, dim=tuple(range(1, values.dim())))
    return values, sample_weight


class Sum(Metric):
    """Running (weighted) sum of the values given to `update_state`.

    Args:
        name: Defaults to `"sum"`.
        dtype: Defaults to `floatx()`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.Sum()
    >>> m.update_state([1.0, 3.0, 5.0]); float(m.result())
    9.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", dtype=self.dtype, name="total")

    def update_state(self, values, sample_weight=None):
        with torch.no_grad():
            values, _ = reduce_to_samplewise_values(
                values, sample_weight, torch.sum, self._torch_dtype
            )
            self.total.add_(values.sum())

    def result(self):
        return self.total.clone()


class Mean(Metric):
    """Running (weighted) mean of the values given to `update_state`.

    Args:
        name: Defaults to `"mean"`.
        dtype: Defaults to `floatx()`.

    With `sample_weight`, the result is `sum(w * x) / sum(w)`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.Mean()
    >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    >>> float(m.result())
    2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", dtype=self.dtype, name="total")
        self.count = self.add_variable((), "zeros", dtype=self.dtype, name="count")

    def update_state(self, values, sample_weight=None):
        with torch.no_grad():
            self._accumulate(values, sample_weight)

    def _accumulate(self, values, sample_weight):
        if (
            isinstance(sample_weight, (int, float, torch.SymInt, torch.SymFloat))
            and not isinstance(sample_weight, bool)
            and isinstance(values, torch.Tensor)
            and values.dim() == 0
        ):
            # One value with a number as its weight (the loss tracker's batch
            # size): no tensor is made from the number, so nothing is copied
            # to the device (on CUDA such a copy waits for the GPU).
            self.total.add_(values.to(self.total.dtype) * sample_weight)
            self.count.add_(sample_weight)
            return
        values, sample_weight = reduce_to_samplewise_values(
            values, sample_weight, torch.mean, self._torch_dtype
        )
        self.total.add_(values.sum())
        if sample_weight is not None:
            self.count.add_(sample_weight.sum())
        elif values.dim() >= 1:
            self.count.add_(values.shape[0])  # a Python int: no host sync
        else:
            self.count.add_(1)

    def result(self):
        count = self.count
        return torch.where(
            count == 0,
            torch.zeros_like(count),
            self.total / torch.where(count == 0, torch.ones_like(count), count),
        )


class MeanMetricWrapper(Mean):
    """Running mean of `fn(y_true, y_pred, **kwargs)` over all samples seen.

    Args:
        fn: A function returning one value per sample, e.g.
            `lamina.metrics.binary_accuracy` or any loss function.
        name: Defaults to `"mean_metric_wrapper"`.
        dtype: Defaults to `floatx()`.
        **kwargs: Passed to `fn` on every update (e.g. `threshold=0.7`).

    Example:
    >>> from lamina import metrics
    >>> m = metrics.MeanMetricWrapper(metrics.binary_accuracy, threshold=0.7)
    >>> float(m([[1.0], [0.0]], [[0.6], [0.2]]))
    0.5
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        from lamina import losses

        # A wrapped loss is minimised (callbacks read this to pick a mode).
        if fn in losses.ALL_OBJECTS or type(fn) in losses.ALL_OBJECTS:
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            mask = getattr(y_pred, "_keras_mask", None)
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
            if mask is not None:
                if sample_weight is not None:
                    sample_weight = _as_tensor(
                        sample_weight, self._torch_dtype, values.device
                    )
                sample_weight = apply_mask(
                    sample_weight, mask, self._torch_dtype, "sum"
                )
            self._accumulate(values, sample_weight)

    def get_config(self):
        from lamina.saving import serialize_keras_object

        return {
            **super().get_config(),
            "fn": serialize_keras_object(self._fn),
            **serialize_keras_object(self._fn_kwargs),
        }

    @classmethod
    def from_config(cls, config):
        if "fn" in config:
            from lamina import metrics
            from lamina.saving import deserialize_keras_object

            config = dict(config)
            config["fn"] = deserialize_keras_object(
                config["fn"], module_objects=metrics.FUNCTIONS_DICT, kind="metric"
            )
        return cls(**config)
