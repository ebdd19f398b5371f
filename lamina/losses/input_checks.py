"""One-time checks of label and output shapes against the loss that will compare
them. The trainer runs `check_loss_inputs` on the first batch only; the losses
themselves stay free of Python-side checks on the per-step path.
"""

import warnings

from lamina.losses._hinge import categorical_hinge, hinge, squared_hinge
from lamina.losses.focal import (
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
)
from lamina.losses.loss import LossFunctionWrapper
from lamina.losses.probabilistic import (
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from lamina.losses.regression import (
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)

_ONE_HOT = (categorical_crossentropy, categorical_focal_crossentropy, categorical_hinge)
_BINARY = (binary_crossentropy, binary_focal_crossentropy)
_ELEMENTWISE = (
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    huber,
    log_cosh,
    cosine_similarity,
    kl_divergence,
    poisson,
    hinge,
    squared_hinge,
) + _BINARY


def _as_shape(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _compatible(a, b):
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def _looks_sparse(y_true_shape, y_pred_shape):
    """Integer labels `(batch,)` or `(batch, 1)` against outputs `(batch, C>1)`."""
    if len(y_pred_shape) < 2 or y_pred_shape[-1] in (None, 1):
        return False
    head = y_pred_shape[:-1]
    if len(y_true_shape) == len(head):
        return _compatible(y_true_shape, head)
    return (
        len(y_true_shape) == len(y_pred_shape)
        and y_true_shape[-1] == 1
        and _compatible(y_true_shape[:-1], head)
    )


def _same_rank(y_true_shape, y_pred_shape):
    # The shape counterpart of squeeze_or_expand_to_same_rank.
    t, p = list(y_true_shape), list(y_pred_shape)
    if len(t) == len(p) + 1 and t[-1] == 1:
        if len(p) == 1:
            p.append(1)
        else:
            t.pop()
    elif len(p) == len(t) + 1 and p[-1] == 1:
        if len(t) == 1:
            t.append(1)
        else:
            p.pop()
    return tuple(t), tuple(p)


def _resolve(loss):
    if isinstance(loss, str):
        from lamina import losses

        loss = losses.get(loss)
    if isinstance(loss, LossFunctionWrapper):
        return loss.fn
    return loss


def check_loss_inputs(loss, y_true_shape, y_pred_shape) -> None:
    """Raise a ValueError that explains the fix when labels cannot suit `loss`.

    Call it once, on the first batch (shapes may hold `None` for unknown sizes).
    Catches one-hot labels given to `sparse_categorical_crossentropy`, integer
    labels given to `categorical_crossentropy` or `binary_crossentropy`, and
    labels whose shape differs from the outputs for element-wise losses. Custom
    losses are not checked.

    Args:
        loss: A loss name, function or `Loss` object.
        y_true_shape: Shape of the labels of one batch.
        y_pred_shape: Shape of the model outputs for that batch.

    Raises:
        ValueError: The shapes cannot work with this loss.
    """
    fn = _resolve(loss)
    t, p = _as_shape(y_true_shape), _as_shape(y_pred_shape)
    if fn in _ONE_HOT:
        name = fn.__name__
        if _looks_sparse(t, p):
            raise ValueError(
                f"{name} expects one-hot labels of shape (batch, C) = {p}; got "
                f"labels of shape {t}, which look like integer class ids. Use "
                "sparse_categorical_crossentropy (it takes integer labels), or "
                f"convert them with lamina.utils.to_categorical(y, {p[-1]})."
            )
        if len(p) >= 1 and p[-1] == 1:
            warnings.warn(
                f"{name} expects y_pred of shape (batch, num_classes) with "
                f"num_classes > 1; got y_pred.shape={p}, so the loss is always 0. "
                "For two classes with one output unit use binary_crossentropy.",
                UserWarning,
                stacklevel=2,
            )
        if not _compatible(t, p):
            raise ValueError(
                f"{name} expects labels of the same shape as the outputs; got "
                f"y_true.shape={t} and y_pred.shape={p}. Give one-hot labels of "
                f"shape {p}, or change the size of the last layer."
            )
        return
    if fn is sparse_categorical_crossentropy:
        head = p[:-1]
        if (
            len(t) == len(p)
            and len(p) >= 2
            and t[-1] not in (None, 1)
            and _compatible(t, p)
        ):
            raise ValueError(
                "sparse_categorical_crossentropy expects integer class labels of "
                f"shape {head} or {head + (1,)}; got labels of shape {t}, which "
                "look one-hot. Use categorical_crossentropy (it takes one-hot "
                "labels), or convert them with np.argmax(y, axis=-1)."
            )
        if not (_compatible(t, head) or _compatible(t, head + (1,))):
            raise ValueError(
                "sparse_categorical_crossentropy expects integer class labels of "
                f"shape {head} for outputs of shape {p}; got y_true.shape={t} and "
                f"y_pred.shape={p}. Check that labels and outputs have the same "
                "batch size and that the last layer has one unit per class."
            )
        return
    if fn in _ELEMENTWISE:
        name = fn.__name__
        if fn in _BINARY and _looks_sparse(t, p):
            raise ValueError(
                f"{name} expects 0/1 targets of the shape of y_pred {p}; got "
                f"labels of shape {t}, which look like integer class ids. For "
                "one class per sample use sparse_categorical_crossentropy with a "
                "softmax output."
            )
        same_t, same_p = _same_rank(t, p)
        if not _compatible(same_t, same_p):
            raise ValueError(
                f"{name} compares labels and outputs element by element, so their "
                f"shapes must match; got y_true.shape={t} and y_pred.shape={p}. "
                "Change the number of units of the last layer, or reshape the "
                "labels."
            )
