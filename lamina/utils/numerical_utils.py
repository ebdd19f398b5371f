"""Label and array helpers: `to_categorical` and `normalize`, as in `keras.utils`."""

import numpy as np
import torch

from lamina import ops


def to_categorical(x, num_classes=None):
    """Integer class labels as one-hot rows: label `k` becomes a row with a 1 at
    position `k`.

    Args:
        x: Class labels in `[0, num_classes)`: a list, NumPy array or tensor. A
            trailing axis of size 1 (labels shaped `(n, 1)`) is dropped.
        num_classes: Number of classes. Defaults to `max(x) + 1`.

    Returns:
        A float64 NumPy array of shape `x.shape + (num_classes,)`, as Keras
        returns; for a torch tensor `x`, a floatx tensor on its device.

    Example:
    >>> lamina.utils.to_categorical([0, 2], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    if isinstance(x, torch.Tensor):
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.squeeze(-1)
        if num_classes is None:
            num_classes = int(x.max()) + 1 if x.numel() else 0
        return ops.one_hot(x, num_classes)
    labels = np.asarray(x)
    if labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0):
        raise ValueError(
            "to_categorical expects integer class labels; got non-integer values "
            f"such as {labels[np.mod(labels, 1) != 0].flat[0]!r}. Pass class "
            "indices 0, 1, 2, ..."
        )
    labels = labels.astype("int64")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(
            f"to_categorical expects labels in [0, {num_classes}) for "
            f"num_classes={num_classes}; got label {int(bad)}. Raise num_classes "
            "or map the labels to 0..num_classes-1 first."
        )
    categorical = np.zeros((labels.size, num_classes))
    categorical[np.arange(labels.size), labels] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis`; zero vectors stay zero.

    NumPy arrays give NumPy arrays (computed in NumPy, as Keras does); anything
    else goes through `lamina.ops.normalize` and gives a tensor.

    Example:
    >>> lamina.utils.normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    if isinstance(x, np.ndarray):
        if axis is None:
            norm = np.linalg.norm(x.reshape(-1), order)
            return x / (norm if norm != 0 else 1)
        # keepdims (rather than Keras's expand_dims on the last axis) keeps the
        # norm aligned with `x` for every axis, axis=0 included.
        norm = np.linalg.norm(x, order, axis, keepdims=True)
        norm[norm == 0] = 1
        return x / norm
    return ops.normalize(x, axis=axis, order=order)
