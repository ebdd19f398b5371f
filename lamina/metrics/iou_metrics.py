"""Intersection-over-union metrics (IoU, BinaryIoU, MeanIoU, OneHotIoU,
OneHotMeanIoU) from a running confusion matrix kept on the device, with
Keras 3's rules for ignored and out-of-range classes."""

import warnings

import torch

from lamina.backend import config as _config
from lamina.backend import convert_to_tensor
from lamina.metrics.metric import Metric


def _check_num_classes(cls_name, num_classes):
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 1
    ):
        raise ValueError(
            f"{cls_name} expects `num_classes` to be a positive int; got "
            f"num_classes={num_classes!r}."
        )


class _IoUBase(Metric):
    """Shared state: a `(num_classes, num_classes)` confusion matrix whose rows
    are true classes and whose columns are predicted classes."""

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        _check_num_classes(self.__class__.__name__, num_classes)
        # Keras: integer counts by default ("int" is int32 on its torch backend).
        super().__init__(name=name, dtype=dtype or "int32")
        self._direction = "up"
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(
            (num_classes, num_classes), dtype=self.dtype, name="total_confusion_matrix"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        device = self.total_cm.device
        if not self.sparse_y_true:
            y_true = convert_to_tensor(y_true, device=device).argmax(dim=self.axis)
        if not self.sparse_y_pred:
            y_pred = convert_to_tensor(y_pred, device=device).argmax(dim=self.axis)
        # Class ids are cast to the metric's dtype first, as Keras does: with
        # the default int32 a label of 1.7 is class 1.
        y_true = convert_to_tensor(y_true, dtype=self.dtype, device=device)
        y_pred = convert_to_tensor(y_pred, dtype=self.dtype, device=device)
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        if sample_weight is None:
            weight = torch.ones_like(y_true)
        else:
            weight_dtype = getattr(sample_weight, "dtype", None)
            if "float" in str(weight_dtype) and "int" in self.dtype:
                warnings.warn(
                    f"{self.__class__.__name__} '{self.name}' got sample weights "
                    f"of a float dtype but counts in {self.dtype}, so the weights "
                    "are truncated to integers by type casting. Pass integer "
                    "weights, or create the "
                    "metric with dtype='float32'.",
                    stacklevel=2,
                )
            weight = convert_to_tensor(sample_weight, dtype=self.dtype, device=device)
            weight = weight.reshape(-1)
            if weight.numel() not in (1, y_true.numel()):
                raise ValueError(
                    f"{self.__class__.__name__} '{self.name}' expects one sample "
                    f"weight per label ({y_true.numel()} here, after flattening) "
                    f"or a single weight; got {weight.numel()} weights."
                )
            weight = weight.broadcast_to(y_true.shape)
        with torch.no_grad():
            # Pairs with a class outside [0, num_classes), or the ignored true
            # class, count with weight 0 (no host check, so no sync).
            n = self.num_classes
            valid = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
            if self.ignore_class is not None:
                valid = valid & (y_true != self.ignore_class)
            weight = torch.where(valid, weight, torch.zeros_like(weight))
            index = y_true.long() * n + y_pred.long()
            index = torch.where(valid, index, torch.zeros_like(index))
            self.total_cm.view(-1).index_add_(0, index, weight.to(self.total_cm.dtype))

    def reset_state(self):
        self.total_cm.zero_()


class IoU(_IoUBase):
    """Intersection over union, `tp / (tp + fp + fn)`, averaged over chosen
    classes.

    Args:
        num_classes: Number of classes; the confusion matrix is
            `(num_classes, num_classes)`.
        target_class_ids: Ids of the classes whose IoU is averaged. Classes
            absent from both labels and predictions are left out of the mean.
        name: Defaults to `"io_u"`.
        dtype: Dtype of the counts. Defaults to `"int32"` (float sample weights
            are then truncated, with a warning).
        ignore_class: A true class id whose samples are not counted (e.g. a
            "void" label). Defaults to `None`.
        sparse_y_true: Labels are class ids; `False` means scores or one-hot
            vectors along `axis`. Defaults to `True`.
        sparse_y_pred: Predictions are class ids; `False` means scores along
            `axis`. Defaults to `True`.
        axis: The class axis of non-sparse inputs. Defaults to `-1`.

    The result is a float32 scalar.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.IoU(num_classes=2, target_class_ids=[0])
    >>> round(float(m([0, 0, 1, 1], [0, 1, 0, 1])), 4)
    0.3333
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(
            num_classes=num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )
        ids = list(target_class_ids)
        if not ids or min(ids) < 0 or max(ids) >= num_classes:
            raise ValueError(
                f"{self.__class__.__name__} expects `target_class_ids` to be a "
                f"non-empty list of class ids in [0, {num_classes}); got "
                f"target_class_ids={target_class_ids!r}."
            )
        self.target_class_ids = ids
        self._target_index = torch.tensor(ids, device=self.total_cm.device)

    def result(self):
        cm = self.total_cm
        true_positives = cm.diagonal()
        # Row sum + column sum counts each hit twice.
        union = cm.sum(dim=0) + cm.sum(dim=1) - true_positives
        union = union[self._target_index].to(torch.float32)
        true_positives = true_positives[self._target_index].to(torch.float32)
        present = union > 1e-9
        iou = true_positives / (union + _config.epsilon())
        iou = torch.where(present, iou, torch.zeros_like(iou))
        # Keras sums over `axis` here, which fails for any axis but -1 on this
        # 1-D vector; summing it whole gives the same value where Keras works.
        return iou.sum() / (present.sum() + _config.epsilon())

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class BinaryIoU(IoU):
    """IoU of two classes, with scores turned into class 1 at `threshold`.

    Args:
        target_class_ids: Which of the classes 0 and 1 to average over.
            Defaults to `(0, 1)`.
        threshold: A score `>= threshold` is class 1, else class 0. Defaults
            to `0.5`.
        name: Defaults to `"binary_io_u"`.
        dtype: Dtype of the counts. Defaults to `"int32"`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.BinaryIoU(target_class_ids=[1])
    >>> round(float(m([0, 1, 1, 1], [0.2, 0.7, 0.4, 0.9])), 4)
    0.6667
    """

    def __init__(
        self, target_class_ids=(0, 1), threshold: float = 0.5, name=None, dtype=None
    ):
        super().__init__(
            num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype
        )
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        device = self.total_cm.device
        y_true = convert_to_tensor(y_true, dtype=self.dtype, device=device)
        y_pred = convert_to_tensor(y_pred, dtype="float32", device=device)
        y_pred = (y_pred >= self.threshold).to(y_true.dtype)
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
            "name": self.name,
            "dtype": self.dtype,
        }


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes (present ones).

    Args:
        num_classes: Number of classes.
        name: Defaults to `"mean_io_u"`.
        dtype: Dtype of the counts. Defaults to `"int32"`.
        ignore_class: A true class id that is not counted. Defaults to `None`.
        sparse_y_true: Labels are class ids. Defaults to `True`.
        sparse_y_pred: Predictions are class ids. Defaults to `True`.
        axis: The class axis of non-sparse inputs. Defaults to `-1`.

    Example:
    >>> from lamina import metrics
    >>> m = metrics.MeanIoU(num_classes=2)
    >>> round(float(m([0, 0, 1, 1], [0, 1, 0, 1])), 4)
    0.3333
    """

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        _check_num_classes(self.__class__.__name__, num_classes)
        super().__init__(
            num_classes=num_classes,
            target_class_ids=list(range(num_classes)),
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "name": self.name,
            "dtype": self.dtype,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class OneHotIoU(IoU):
    """`IoU` for one-hot labels and score predictions (argmax along `axis`).

    Args:
        num_classes: Number of classes.
        target_class_ids: Ids of the classes whose IoU is averaged.
        name: Defaults to `"one_hot_io_u"`.
        dtype: Dtype of the counts. Defaults to `"int32"`.
        ignore_class: A true class id that is not counted. Defaults to `None`.
        sparse_y_pred: Predictions are already class ids. Defaults to `False`.
        axis: The class axis. Defaults to `-1`.
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ):
        super().__init__(
            num_classes=num_classes,
            target_class_ids=target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]  # always False here, not an argument
        return config


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` for one-hot labels and score predictions.

    Args:
        num_classes: Number of classes.
        name: Defaults to `"one_hot_mean_io_u"`.
        dtype: Dtype of the counts. Defaults to `"int32"`.
        ignore_class: A true class id that is not counted. Defaults to `None`.
        sparse_y_pred: Predictions are already class ids. Defaults to `False`.
        axis: The class axis. Defaults to `-1`.
    """

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ):
        super().__init__(
            num_classes=num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]  # always False here, not an argument
        return config
