"""pad_sequences: lists of varying length to one padded 2-D array."""

import numpy as np


def pad_sequences(
    sequences,
    maxlen=None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0.0,
):
    """Pad (or truncate) every sequence to the same length.

    Args:
        sequences: List of sequences (lists or arrays; each item may itself be
            an array, all of the same shape).
        maxlen: Output length. Defaults to the longest sequence.
        dtype: Output dtype; a string dtype holds text. Defaults to `"int32"`.
        padding: `"pre"` or `"post"`: pad before or after. Defaults to `"pre"`.
        truncating: `"pre"` or `"post"`: drop values from the start or end of
            longer sequences. Defaults to `"pre"`.
        value: Padding value. Defaults to 0.

    Returns:
        Array of shape `(len(sequences), maxlen) + item_shape`.

    Example:
    >>> lamina.utils.pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
    [[2, 3], [0, 4]]
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            "pad_sequences expects `sequences` to be a list of sequences; got "
            f"{type(sequences).__name__}."
        )
    for name, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(
                f"pad_sequences expects `{name}` to be 'pre' or 'post'; got "
                f"{name}={given!r}."
            )
    lengths, sample_shape, first = [], (), True
    for i, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise ValueError(
                "pad_sequences expects every entry of `sequences` to be a "
                f"sequence; entry {i} is {seq!r}."
            ) from None
        if first and len(seq):
            sample_shape = np.asarray(seq).shape[1:]
            first = False
    if maxlen is None:
        maxlen = max(lengths, default=0)
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.object_)
    if isinstance(value, str) and not is_text:
        raise ValueError(
            f"pad_sequences: `dtype` {dtype} is not compatible with the text "
            f"padding value={value!r}; pass dtype=object (or a string dtype) to "
            "pad text."
        )
    out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for i, seq in enumerate(sequences):
        if not len(seq) or maxlen == 0:
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences expects every item to have shape {sample_shape} "
                f"(from the first non-empty sequence); sequence {i} has items of "
                f"shape {kept.shape[1:]}."
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept) :] = kept
    return out
