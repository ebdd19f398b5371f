"""CTC: Connectionist Temporal Classification loss, for unaligned sequence labels
(speech, handwriting): `ctc` and the `CTC` loss class."""

import torch
import torch.nn.functional as F

from lamina.backend import convert_to_tensor
from lamina.losses.loss import LossFunctionWrapper, prediction_tensor

# Keras: class 0 is the blank, and it also pads the label rows.
_BLANK = 0


def ctc(y_true, y_pred):
    """Per-sample CTC loss: `-log p(labels | y_pred)`, summed over alignments.

    Args:
        y_true: Integer labels of shape `(batch, max_label_length)`, padded with
            `0`. Class `0` is the CTC blank, so real classes start at 1; a row's
            label length is its number of non-zero entries.
        y_pred: Unnormalised logits of shape `(batch, time, num_classes)` (no
            softmax: the loss applies a log-softmax itself). Every sample uses
            all `time` steps.

    Returns:
        A float32 tensor of shape `(batch,)`; `inf` where a label cannot be
        aligned to `time` steps, as in Keras.

    Raises:
        ValueError: `y_true` is not rank 2 or `y_pred` is not rank 3.

    Example:
    >>> import numpy as np
    >>> from lamina import losses
    >>> tuple(losses.ctc(np.array([[1, 2]]), np.zeros((1, 4, 3))).shape)
    (1,)
    """
    y_pred = prediction_tensor(y_pred)
    if not isinstance(y_true, torch.Tensor):
        y_true = convert_to_tensor(y_true, device=y_pred.device)
    elif y_true.device != y_pred.device:
        y_true = y_true.to(y_pred.device)
    if y_true.dim() != 2:
        raise ValueError(
            "ctc expects y_true of shape (batch_size, max_length): integer labels "
            f"padded with 0; got y_true.shape={tuple(y_true.shape)}."
        )
    if y_pred.dim() != 3:
        raise ValueError(
            "ctc expects y_pred of shape (batch_size, max_length, num_classes): "
            f"logits for every time step; got y_pred.shape={tuple(y_pred.shape)}."
        )
    targets = y_true.long()
    batch, steps, _ = y_pred.shape
    label_lengths = (targets != _BLANK).sum(dim=-1)
    input_lengths = torch.full((batch,), steps, dtype=torch.long, device=y_pred.device)
    # Keras computes CTC in (at least) float32, whatever y_pred's dtype.
    log_probs = F.log_softmax(y_pred.float(), dim=-1).transpose(0, 1)
    return F.ctc_loss(
        log_probs,
        targets,
        input_lengths,
        label_lengths,
        blank=_BLANK,
        reduction="none",
    )


class CTC(LossFunctionWrapper):
    """CTC loss between padded integer labels and per-step logits. See `ctc`.

    Args:
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"ctc"`.
        dtype: Defaults to `floatx()`.

    Example:
    >>> import numpy as np
    >>> from lamina import losses
    >>> loss = losses.CTC()(np.array([[1, 1]]), np.zeros((1, 3, 2)))
    >>> round(float(loss), 4)  # -log(1/8): "1 blank 1" is the only alignment
    2.0794
    """

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)
