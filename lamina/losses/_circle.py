"""Circle loss (Sun et al., 2020, https://arxiv.org/abs/2002.10857): metric
learning on L2-normalised embeddings with integer class labels."""

import torch
import torch.nn.functional as F

from lamina.backend import convert_to_tensor
from lamina.losses.loss import LossFunctionWrapper, prediction_tensor


def _labels(labels, device) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        labels = convert_to_tensor(labels, device=device)
    elif labels.device != device:
        labels = labels.to(device)
    return labels.long().reshape(-1, 1)


def _masked_logsumexp(values, mask):
    # Keras fills masked entries with -inf; a row with nothing kept would then
    # be -inf and give NaN gradients. The lowest finite value gives the same
    # loss (exp underflows to 0) with finite gradients.
    lowest = torch.finfo(values.dtype).min
    return torch.logsumexp(torch.where(mask, values, lowest), dim=1)


def circle(
    y_true,
    y_pred,
    ref_labels=None,
    ref_embeddings=None,
    remove_diagonal=True,
    gamma=80,
    margin=0.4,
):
    """Per-sample Circle loss of embeddings against reference embeddings.

    Each sample's cosine distances to references of its own class (positives)
    and of other classes (negatives) are weighted by how far each is from its
    optimum, scaled by `gamma`, and combined as
    `softplus(logsumexp(positive terms) + logsumexp(negative terms))`.

    Args:
        y_true: Integer labels, shape `(batch,)` or `(batch, 1)`.
        y_pred: L2-normalised embeddings, shape `(batch, dim)`.
        ref_labels: Labels of the references. Defaults to `y_true`.
        ref_embeddings: L2-normalised references, shape `(refs, dim)`. Defaults
            to `y_pred`.
        remove_diagonal: Whether a sample is not its own positive (for
            references that are the batch itself). Defaults to `True`.
        gamma: Scale of the similarity terms. Defaults to `80`.
        margin: Relaxation margin. Defaults to `0.4`.

    Returns:
        Losses of shape `(batch,)`. Samples without a positive or a negative
        get 0 and a mask (`_keras_mask`) that leaves them out of averages, as
        in Keras.
    """
    y_pred = prediction_tensor(y_pred)
    y_true = _labels(y_true, y_pred.device)
    if ref_embeddings is None:
        ref_embeddings = y_pred
    else:
        ref_embeddings = convert_to_tensor(ref_embeddings, device=y_pred.device).to(
            y_pred.dtype
        )
    ref_labels = y_true if ref_labels is None else _labels(ref_labels, y_pred.device)

    distances = (1.0 - y_pred @ ref_embeddings.T).clamp_min(0.0)
    positive = y_true == ref_labels.T
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~torch.eye(
            *positive.shape, dtype=torch.bool, device=positive.device
        )

    # The paper's optima and margins in cosine-distance form, as Keras writes
    # them: O_p = margin, O_n = 1 + margin, Delta_p = margin, Delta_n = 1 - margin.
    pos_weights = ((margin + distances) * positive).clamp_min(0.0)
    neg_weights = ((1.0 + margin - distances) * negative).clamp_min(0.0)
    pos_terms = -gamma * pos_weights * (margin - distances)
    neg_terms = gamma * neg_weights * ((1.0 - margin) - distances)
    losses = F.softplus(
        _masked_logsumexp(pos_terms, positive) + _masked_logsumexp(neg_terms, negative)
    )
    losses._keras_mask = losses > 0
    return losses


class Circle(LossFunctionWrapper):
    """Circle loss over a batch of embeddings and their integer labels; every
    other sample in the batch is a reference. See `circle`.

    The model should end in embeddings with no activation, L2-normalised (e.g.
    `Dense(64)` then `UnitNormalization()`).

    Args:
        gamma: Scale of the similarity terms. Defaults to `80.0`.
        margin: Relaxation margin. Defaults to `0.4`.
        remove_diagonal: Whether a sample is not its own positive. Defaults to
            `True`.
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"` (over the
            samples with a positive and a negative).
        name: Defaults to `"circle"`.
        dtype: Defaults to `floatx()`.
    """

    def __init__(
        self,
        gamma=80.0,
        margin=0.4,
        remove_diagonal=True,
        reduction="sum_over_batch_size",
        name="circle",
        dtype=None,
    ):
        super().__init__(
            circle,
            name=name,
            reduction=reduction,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal
