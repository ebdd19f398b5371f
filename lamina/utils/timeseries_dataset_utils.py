"""timeseries_dataset_from_array: sliding windows over a series, in batches."""

import numpy as np

from lamina.utils.dataset_utils import (
    BatchedDataset,
    check_format,
    check_positive_int,
)


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
    format="tf",
):
    """A dataset of windows `data[p : p + sequence_length * sampling_rate :
    sampling_rate]`, one every `sequence_stride` steps.

    Args:
        data: Array (or list) of timesteps, first axis time.
        targets: Targets, `targets[start_index + p]` for the window starting
            at `p`; `None` for windows only.
        sequence_length: Timesteps per window.
        sequence_stride: Steps between window starts. Defaults to 1.
        sampling_rate: Steps between timesteps within a window. Defaults to 1.
        batch_size: Windows per batch; `None` yields single windows.
            Defaults to 128.
        shuffle: Whether to shuffle the windows (again each epoch).
        seed: Seed of the shuffles.
        start_index: First timestep used. Defaults to 0.
        end_index: Timestep where the data stops (exclusive). Defaults to
            `len(data)`.
        format: Keras's choice of result type: `"tf"` (the default) gives
            lamina's `BatchedDataset`; `"grain"` is not supported.

    Returns:
        A `BatchedDataset` (a `lamina.utils.PyDataset`) of `(windows,
        targets)` batches, or of windows when `targets` is None; `fit`
        accepts it directly.

    Example:
    >>> ds = lamina.utils.timeseries_dataset_from_array(
    ...     np.arange(10), np.arange(10), sequence_length=3, batch_size=4)
    >>> x, y = ds[0]
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], [0, 1, 2, 3])
    """
    owner = "timeseries_dataset_from_array"
    check_format(format, owner)
    data = np.asarray(data)
    n = len(data)
    if start_index and not 0 <= start_index < n:
        raise ValueError(
            f"{owner}: `start_index` must be in [0, {n}) for data of length {n}; "
            f"got start_index={start_index!r}."
        )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"{owner}: `end_index` must be above `start_index`; got "
                f"start_index={start_index!r}, end_index={end_index!r}."
            )
        if not 0 < end_index < n:
            raise ValueError(
                f"{owner}: `end_index` must be in (0, {n}) for data of length {n}; "
                f"got end_index={end_index!r}."
            )
    check_positive_int(sequence_length, "sequence_length", owner)
    check_positive_int(sampling_rate, "sampling_rate", owner)
    check_positive_int(sequence_stride, "sequence_stride", owner)
    check_positive_int(batch_size, "batch_size", owner, allow_none=True)
    for name, value in (
        ("sampling_rate", sampling_rate),
        ("sequence_stride", sequence_stride),
    ):
        if value >= n:
            raise ValueError(
                f"{owner}: `{name}` must be below the data length {n}; got "
                f"{name}={value!r}."
            )
    start = start_index or 0
    end = end_index or n
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        # Keras: the window starts are shuffled once with a RandomState(seed).
        np.random.RandomState(seed).shuffle(starts)
    offsets = np.arange(sequence_length) * sampling_rate

    def load(indices):
        positions = starts[indices]
        windows = data[start + positions[:, None] + offsets]
        if targets is None:
            return windows
        return windows, targets[start + positions]

    return BatchedDataset(len(starts), load, batch_size, shuffle=shuffle, seed=seed)
