"""CTC ops of `keras.ops.nn`: `ctc_loss` and (greedy) `ctc_decode`."""

import torch
import torch.nn.functional as F

from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.operation import op


def _at_least_float32(x: Tensor) -> Tensor:
    if x.dtype in (torch.float64,):
        return x
    return x.to(torch.float32)


@op
def ctc_loss(target, output, target_length, output_length, mask_index: int = 0):
    """Connectionist temporal classification loss, one value per example.

    Args:
        target: Integer labels `(batch, max_label_length)`, padded.
        output: Logits `(batch, max_time, num_classes)` (log-softmax is taken).
        target_length: `(batch,)` true label lengths.
        output_length: `(batch,)` true output lengths.
        mask_index: The blank class. Defaults to 0.
    """
    output = _at_least_float32(to_tensor(output))
    target = to_tensor(target, device=output.device)
    if output.ndim != 3 or target.ndim != 2:
        raise ValueError(
            "ops.ctc_loss expects `output` of rank 3 (batch, time, classes) and "
            f"`target` of rank 2 (batch, label_length); got output.shape="
            f"{tuple(output.shape)}, target.shape={tuple(target.shape)}."
        )
    target_length = to_tensor(target_length, device=output.device).to(torch.int64)
    output_length = to_tensor(output_length, device=output.device).to(torch.int64)
    log_probs = torch.log_softmax(output.transpose(0, 1), dim=-1)
    return F.ctc_loss(
        log_probs,
        target.to(torch.int64),
        output_length,
        target_length,
        blank=mask_index,
        reduction="none",
    )


@op
def ctc_decode(
    inputs,
    sequence_lengths,
    strategy: str = "greedy",
    beam_width: int = 100,
    top_paths: int = 1,
    merge_repeated: bool = True,
    mask_index: int = 0,
):
    """Decodes `(batch, max_time, num_classes)` scores into label sequences.

    Greedy decoding takes the best class per step, merges repeats (if
    `merge_repeated`) and drops `mask_index` (the blank). Returns
    `(decoded, scores)`: int32 labels `(1, batch, max_time)` padded with -1,
    and `(batch, 1)` negated sums of the chosen scores, as Keras.
    `strategy="beam_search"` is not implemented in lamina.
    """
    if strategy == "beam_search":
        raise NotImplementedError(
            "ops.ctc_decode(strategy='beam_search') is not implemented in lamina; "
            "use strategy='greedy'."
        )
    if strategy != "greedy":
        raise ValueError(
            "ops.ctc_decode expects strategy='greedy' or 'beam_search'; got "
            f"strategy={strategy!r}."
        )
    inputs = _at_least_float32(to_tensor(inputs))
    if inputs.ndim != 3:
        raise ValueError(
            "ops.ctc_decode expects `inputs` of rank 3 (batch, time, classes); "
            f"got shape {tuple(inputs.shape)}."
        )
    lengths = to_tensor(sequence_lengths, device=inputs.device).to(torch.int64)
    batch, max_time, num_classes = inputs.shape
    if mask_index is None:
        mask_index = num_classes - 1
    scores, labels = torch.max(inputs, dim=-1)
    labels = labels.to(torch.int32)
    beyond = torch.arange(max_time, device=inputs.device) >= lengths[:, None]
    labels = torch.where(beyond, mask_index, labels)
    scores = torch.where(beyond, 0.0, scores)
    if merge_repeated:
        repeat = F.pad(labels[:, 1:] == labels[:, :-1], (1, 0))
        labels = torch.where(repeat, mask_index, labels)
    blank = labels == mask_index
    labels = torch.where(blank, -1, labels)
    # Kept labels first, in order; the -1 padding after them (stable sort).
    order = torch.argsort(blank.to(torch.int8), dim=-1, stable=True)
    labels = torch.take_along_dim(labels, order, dim=-1)
    return labels.unsqueeze(0), -torch.sum(scores, dim=1, keepdim=True)


__all__ = ["ctc_decode", "ctc_loss"]
