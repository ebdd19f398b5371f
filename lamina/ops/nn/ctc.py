"""CTC ops of `keras.ops.nn`: `ctc_loss` and `ctc_decode`."""

import math

import torch
import torch.nn.functional as F

from lamina.backend.shape_inference import inferring
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
    if target.device.type == "cpu" and not torch.compiler.is_compiling():
        # torch's CPU kernel reads out of bounds on such labels (garbage, or a
        # crash in backward); on a GPU the check would cost a host sync.
        _check_labels(target, target_length, output.shape[-1])
    log_probs = torch.log_softmax(output.transpose(0, 1), dim=-1)
    return F.ctc_loss(
        log_probs,
        target.to(torch.int64),
        output_length,
        target_length,
        blank=mask_index,
        reduction="none",
    )


def _check_labels(target, target_length, num_classes) -> None:
    used = target[
        torch.arange(target.shape[1], device=target.device) < target_length[:, None]
    ]
    if used.numel() and (used.min() < 0 or used.max() >= num_classes):
        raise ValueError(
            f"ops.ctc_loss expects labels in [0, {num_classes}) (the last axis "
            f"of `output`) within each `target_length`; got labels from "
            f"{int(used.min())} to {int(used.max())}. Padding past a label's "
            "length may hold any value."
        )


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"ops.ctc_decode expects `{name}` to be a positive int; got "
            f"{name}={value!r}."
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

    `strategy="greedy"` takes the best class per step, merges repeats (if
    `merge_repeated`) and drops `mask_index` (the blank). `"beam_search"`
    runs a CTC prefix beam search over the log-softmax of `inputs`, keeping
    the `beam_width` most probable label prefixes at every step; it always
    collapses repeats not separated by a blank, as CTC defines, so
    `merge_repeated` is ignored there (as in Keras).

    Args:
        inputs: Unnormalised scores (logits) `(batch, max_time, num_classes)`.
        sequence_lengths: `(batch,)` number of valid steps of each example.
        strategy: `"greedy"` or `"beam_search"`. Defaults to `"greedy"`.
        beam_width: Prefixes kept per step by beam search. Defaults to 100.
        top_paths: Number of best decodings beam search returns. Defaults to 1.
        merge_repeated: Whether greedy decoding merges repeated labels.
            Defaults to `True`.
        mask_index: The blank class; `None` means the last class. Defaults
            to 0.

    Returns:
        A tuple `(decoded, scores)`. `decoded` holds int32 labels padded with
        -1, of shape `(1, batch, max_time)` for greedy decoding and
        `(top_paths, batch, max_time)` for beam search (best first). `scores`
        is `(batch, 1)`, the negated sum of the chosen scores, for greedy
        decoding and `(batch, top_paths)` log-probabilities for beam search;
        paths beyond the number of distinct decodings are all -1 with score
        `-inf`.

    Raises:
        ValueError: For an unknown `strategy`, `inputs` not of rank 3, a
            `beam_width` or `top_paths` that is not a positive int, or, with
            beam search, a `mask_index` that is not a class index or
            `sequence_lengths` outside `[0, max_time]`.
    """
    if strategy not in ("greedy", "beam_search"):
        raise ValueError(
            "ops.ctc_decode expects strategy='greedy' or 'beam_search'. Invalid "
            f"strategy: got strategy={strategy!r}."
        )
    inputs = _at_least_float32(to_tensor(inputs))
    if inputs.ndim != 3:
        raise ValueError(
            "ops.ctc_decode expects `inputs` of rank 3 (batch, time, classes); "
            f"got shape {tuple(inputs.shape)}."
        )
    lengths = to_tensor(sequence_lengths, device=inputs.device).to(torch.int64)
    if mask_index is None:
        mask_index = inputs.shape[-1] - 1
    if strategy == "beam_search":
        _check_positive_int(beam_width, "beam_width")
        _check_positive_int(top_paths, "top_paths")
        return _beam_search_decode(inputs, lengths, beam_width, top_paths, mask_index)
    return _greedy_decode(inputs, lengths, merge_repeated, mask_index)


def _greedy_decode(inputs, lengths, merge_repeated, mask_index):
    max_time = inputs.shape[1]
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


def _beam_search_decode(inputs, lengths, beam_width, top_paths, mask_index):
    batch, max_time, num_classes = inputs.shape
    if inferring() or inputs.device.type == "meta":  # shapes only, no values
        return (
            inputs.new_empty((top_paths, batch, max_time), dtype=torch.int32),
            inputs.new_empty((batch, top_paths)),
        )
    if isinstance(mask_index, bool) or not 0 <= mask_index < num_classes:
        raise ValueError(
            "ops.ctc_decode(strategy='beam_search') expects `mask_index` to be a "
            f"class index in [0, {num_classes}) or None; got mask_index="
            f"{mask_index!r}."
        )
    host_lengths = lengths.tolist()
    if any(n < 0 or n > max_time for n in host_lengths):
        raise ValueError(
            "ops.ctc_decode(strategy='beam_search') expects `sequence_lengths` "
            f"between 0 and max_time={max_time}; got {host_lengths}."
        )
    decoded = torch.full(
        (top_paths, batch, max_time), -1, dtype=torch.int32, device=inputs.device
    )
    scores = torch.full(
        (batch, top_paths), -math.inf, dtype=inputs.dtype, device=inputs.device
    )
    with torch.no_grad():
        log_probs = torch.log_softmax(inputs, dim=-1)
        for b, length in enumerate(host_lengths):
            # Keras: the first step is always decoded, even for length 0.
            paths, totals = _prefix_beam_search(
                log_probs[b, : max(length, 1)], beam_width, mask_index, max_time
            )
            # Keras reports impossible prefixes (log-probability -inf) as -1.
            order = torch.argsort(totals, descending=True, stable=True)[:top_paths]
            order = order[totals[order] > -math.inf]
            decoded[: len(order), b] = paths[order].to(torch.int32)
            scores[b, : len(order)] = totals[order]
    return decoded, scores


def _prefix_beam_search(log_probs, beam_width, blank, width):
    """The surviving prefixes `(k, max_time)` (-1 padded) and their log-probs.

    Every prefix carries two log-probabilities: of the alignments so far that
    end in a blank (`end_blank`) and of those that end in its last label
    (`end_label`); a label repeated after a blank starts a new symbol, one
    repeated directly extends the old one (Graves et al., 2006).
    """
    steps, num_classes = log_probs.shape
    device, dtype = log_probs.device, log_probs.dtype
    labels = torch.tensor(
        [c for c in range(num_classes) if c != blank], dtype=torch.int64, device=device
    )
    # Position of each class in `labels` (the blank maps to nothing useful).
    column = torch.cumsum(torch.ones(num_classes, dtype=torch.int64), 0) - 1
    column[blank + 1 :] -= 1
    column = column.to(device)
    neg_inf = torch.tensor(-math.inf, dtype=dtype, device=device)
    paths = torch.full((1, width), -1, dtype=torch.int64, device=device)
    sizes = torch.zeros(1, dtype=torch.int64, device=device)
    end_blank = torch.zeros(1, dtype=dtype, device=device)
    end_label = neg_inf.reshape(1)
    for t in range(steps):
        x = log_probs[t]
        k = paths.shape[0]
        rows = torch.arange(k, device=device)
        total = torch.logaddexp(end_blank, end_label)
        has_last = sizes > 0
        last = torch.where(has_last, paths[rows, (sizes - 1).clamp(min=0)], blank)
        # 1. Candidates that keep their prefix: a blank, or the last label again.
        stay_blank = total + x[blank]
        stay_label = torch.where(has_last, end_label + x[last], neg_inf)
        # 2. Candidates that append a label; a repeat must follow a blank.
        source = torch.where(
            labels[None, :] == last[:, None], end_blank[:, None], total[:, None]
        )
        grow = source + x[labels][None, :]
        # 3. An appended prefix that is already in the beam is the same
        #    prefix: fold its probability in and drop the duplicate.
        parents = paths.clone()
        parents[rows[has_last], sizes[has_last] - 1] = -1
        same = (parents[:, None, :] == paths[None, :, :]).all(-1) & has_last[:, None]
        child, parent = same.nonzero(as_tuple=True)
        col = column[last[child]]
        stay_label[child] = torch.logaddexp(stay_label[child], grow[parent, col])
        keep = torch.ones_like(grow, dtype=torch.bool)
        keep[parent, col] = False
        # 4. The `beam_width` most probable candidates survive.
        grow_from, grow_col = keep.nonzero(as_tuple=True)
        cand_blank = torch.cat([stay_blank, neg_inf.expand(len(grow_from))])
        cand_label = torch.cat([stay_label, grow[grow_from, grow_col]])
        cand_total = torch.logaddexp(cand_blank, cand_label)
        best = torch.argsort(cand_total, descending=True, stable=True)[:beam_width]
        from_row = torch.cat([rows, grow_from])[best]
        new_label = torch.cat([torch.full_like(rows, -1), labels[grow_col]])[best]
        paths = paths[from_row]
        sizes = sizes[from_row]
        grown = new_label >= 0
        paths[grown.nonzero(as_tuple=True)[0], sizes[grown]] = new_label[grown]
        sizes = sizes + grown
        end_blank, end_label = cand_blank[best], cand_label[best]
    return paths, torch.logaddexp(end_blank, end_label)


__all__ = ["ctc_decode", "ctc_loss"]
