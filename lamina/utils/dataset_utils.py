"""split_dataset, and what the `*_dataset_from_*` utilities share: batched
datasets that `fit` reads directly, directory indexing and validation splits."""

import math
import os
import sys

import numpy as np
import torch

from lamina.utils.py_dataset import PyDataset


class BatchedDataset(PyDataset):
    """Batches of samples picked by index, reshuffled each epoch when asked.

    The `*_dataset_from_*` utilities return this; `fit`, `evaluate` and
    `predict` accept it directly (it is a `PyDataset`), and iterating over it
    gives NumPy batches.

    Args:
        num_samples: Number of samples.
        load: Function from an int array of sample indices to the batch:
            an array, or a tuple `(x, y)`.
        batch_size: Samples per batch; `None` yields single samples.
        shuffle: Whether to shuffle the sample order, again after each epoch.
        seed: Seed of the shuffles.
    """

    def __init__(self, num_samples, load, batch_size=32, shuffle=False, seed=None):
        super().__init__()
        self._load = load
        self.batch_size = batch_size
        self._shuffle = shuffle
        self._rng = np.random.RandomState(seed)
        self._order = np.arange(num_samples)
        self._passes = 0
        if shuffle:
            self._rng.shuffle(self._order)
        self.class_names = None
        self.file_paths = None

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self._order)
        return math.ceil(len(self._order) / self.batch_size)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"Batch index {index} is out of range ({len(self)}).")
        index %= len(self)
        if self.batch_size is None:
            batch = self._load(self._order[index : index + 1])
            return _first(batch)
        size = self.batch_size
        return self._load(self._order[index * size : (index + 1) * size])

    def __iter__(self):
        # Keras's shuffled datasets (tf.data) reshuffle on every pass; fit()
        # reads batches by index and reshuffles through on_epoch_end instead.
        if self._shuffle and self._passes:
            self._rng.shuffle(self._order)
        self._passes += 1
        yield from super().__iter__()

    def on_epoch_end(self) -> None:
        if self._shuffle:
            self._rng.shuffle(self._order)


def _first(batch):
    if isinstance(batch, tuple):
        return tuple(part[0] for part in batch)
    return batch[0]


def check_format(format, owner: str) -> None:
    """Keras's `format` argument of the dataset builders: `"tf"` (its default)
    means the usual result here, a `BatchedDataset`; `"grain"` is not
    available in lamina."""
    if format == "tf":
        return
    if format == "grain":
        raise ValueError(
            f"{owner}(format='grain') is not supported: lamina does not depend on "
            "grain. Leave `format` at its default; the result is a lamina "
            "BatchedDataset (a PyDataset), which fit() and torch code accept."
        )
    raise ValueError(
        f"{owner}: `format` should be 'tf' (the default) or 'grain'; got "
        f"format={format!r}."
    )


def check_positive_int(value, name: str, owner: str, allow_none: bool = False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"{owner}: `{name}` must be a positive int"
            f"{' or None' if allow_none else ''}; got {name}={value!r}."
        )


def check_validation_split_arg(validation_split, subset, shuffle, seed, owner):
    """Keras's rules for `validation_split` with `subset`."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(
            f"{owner}: `validation_split` must be between 0 and 1; got "
            f"validation_split={validation_split!r}."
        )
    if bool(validation_split) != bool(subset):
        raise ValueError(
            f"{owner}: `subset` and `validation_split` go together (`validation_split` "
            "must be set when `subset` is, and inversely); got "
            f"validation_split={validation_split!r}, subset={subset!r}. Pass "
            "both (e.g. validation_split=0.2, subset='training') or neither."
        )
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(
            f'{owner}: `subset` must be either "training", "validation" or "both"; '
            f"got subset={subset!r}. E.g. subset='training'."
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            f"{owner}: with `validation_split` and `shuffle=True`, you must provide "
            "a `seed`: pass a `seed` so that the training and validation subsets "
            "do not overlap."
        )


def training_or_validation_split(samples, labels, validation_split, subset, verbose):
    """The first `1 - validation_split` of the samples, or the rest."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    if subset == "training":
        _say(verbose, f"Using {len(samples) - num_val} files for training.")
        cut = slice(None, len(samples) - num_val)
    else:
        _say(verbose, f"Using {num_val} files for validation.")
        cut = slice(len(samples) - num_val, None)
    return samples[cut], (None if labels is None else labels[cut])


def _say(verbose, message: str) -> None:
    # Keras reports what it found on stdout (verbose=True); so does lamina.
    if verbose:
        sys.stdout.write(message + "\n")


def index_directory(
    directory,
    labels,
    formats,
    class_names=None,
    shuffle=True,
    seed=None,
    follow_links=False,
    verbose=True,
    owner="index_directory",
):
    """`(file_paths, labels, class_names)` for the files under `directory`.

    With `labels="inferred"`, each sub-folder (sorted, hidden ones skipped) is
    a class; files are listed sorted, then shuffled with `seed` as Keras does.
    """
    if not os.path.isdir(directory):
        raise ValueError(
            f"{owner} expects `directory` to be an existing folder; got "
            f"directory={directory!r}."
        )
    if labels == "inferred":
        subdirs = sorted(
            d
            for d in os.listdir(directory)
            if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
        )
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    f"{owner}: The `class_names` passed did not match the "
                    f"sub-folders of {directory!r} (found {subdirs}); got "
                    f"class_names={list(class_names)}."
                )
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError(
                f'{owner}: You can only pass `class_names` if `labels="inferred"`; got '
                f"labels={'None' if labels is None else 'a list'}."
            )
        subdirs = [""]
    file_paths, found_labels = [], []
    for label, subdir in enumerate(subdirs):
        folder = os.path.join(directory, subdir)
        walk = sorted(os.walk(folder, followlinks=follow_links), key=lambda w: w[0])
        for root, _, files in walk:
            for fname in sorted(files):
                if fname.lower().endswith(formats):
                    file_paths.append(os.path.join(root, fname))
                    found_labels.append(label)
    if labels == "inferred":
        class_names = list(subdirs)
        labels = np.asarray(found_labels, dtype="int32")
    elif labels is not None:
        if len(labels) != len(file_paths):
            raise ValueError(
                f"{owner}: Expected the lengths of `labels` to match the number of "
                f"files in the target directory: {directory!r} holds "
                f"{len(file_paths)} files, got {len(labels)} labels; pass one label "
                "per file, in the sorted order of their paths."
            )
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if labels is None:
        _say(verbose, f"Found {len(file_paths)} files.")
    else:
        _say(
            verbose,
            f"Found {len(file_paths)} files belonging to {len(class_names)} classes.",
        )
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return file_paths, labels, class_names


def encode_labels(labels, label_mode, num_classes):
    """int32 labels as Keras's label modes give them."""
    labels = np.asarray(labels)
    if label_mode == "int":
        return labels.astype("int32")
    if label_mode == "binary":
        return labels.astype("float32")[:, None]
    return np.eye(num_classes, dtype="float32")[labels]  # categorical


def check_label_mode(label_mode, labels, class_names, owner) -> None:
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(
            f"{owner}: the `label_mode` argument must be 'int', 'categorical', "
            f"'binary' or None; got label_mode={label_mode!r}."
        )
    if label_mode == "binary" and class_names is not None and len(class_names) != 2:
        raise ValueError(
            f"{owner}: with label_mode='binary', there must be exactly 2 classes; found "
            f"{len(class_names)}: {class_names}. Use label_mode='int' or "
            "'categorical'."
        )


def _split_sizes(left_size, right_size, total):
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, (int, float)):
            raise TypeError(
                f"split_dataset expects `{name}` to be an int (a count) or a float "
                f"(a fraction); got {name}={size!r} ({type(size).__name__})."
            )
        if (isinstance(size, int) and not 0 < size < total) or (
            isinstance(size, float) and not 0 < size < 1
        ):
            raise ValueError(
                f"split_dataset expects `{name}` to be a fraction in (0, 1) or a "
                f"count in [1, {total}) for {total} samples; got {name}={size!r}."
            )
    if left_size is None and right_size is None:
        raise ValueError(
            "split_dataset needs `left_size` or `right_size` (or both); got "
            "neither. E.g. split_dataset(data, left_size=0.8)."
        )
    left = round(left_size * total) if isinstance(left_size, float) else left_size
    right = round(right_size * total) if isinstance(right_size, float) else right_size
    if left is None:
        left = total - right
    if right is None:
        right = total - left
    if left + right > total or left == 0 or right == 0:
        raise ValueError(
            f"split_dataset: left_size={left_size!r} and right_size={right_size!r} "
            f"give splits of {left} and {right} samples, which do not fit in "
            f"{total} samples (both must be >= 1, their sum <= {total})."
        )
    return int(left), int(right)


def split_dataset(
    dataset,
    left_size=None,
    right_size=None,
    shuffle=False,
    seed=None,
    preferred_backend=None,
):
    """Split a dataset into two `torch.utils.data.Dataset`s (e.g. train/test).

    Args:
        dataset: An array, a list/tuple of arrays with the same first
            dimension, or a `torch.utils.data.Dataset`.
        left_size: Fraction (float in (0, 1)) or count (int) of samples on the
            left. Defaults to the complement of `right_size`.
        right_size: Same for the right. Defaults to the complement of
            `left_size`.
        shuffle: Whether to shuffle the samples before splitting.
        seed: Seed of the shuffle.
        preferred_backend: `None` or `"torch"`: the splits are always torch
            datasets. Other values (`"tensorflow"`, `"jax"`) raise.

    Returns:
        `(left, right)`: `torch.utils.data.Subset`s yielding samples (tuples of
        tensors, as `TensorDataset`); `fit(left, batch_size=...)` batches them.
        Without shuffling, `left` holds the first samples and `right` the last.

    Example:
    >>> left, right = lamina.utils.split_dataset(np.arange(10), left_size=0.8)
    >>> len(left), len(right), int(right[0][0])
    (8, 2, 8)
    """
    if preferred_backend not in (None, "torch"):
        raise ValueError(
            "split_dataset returns torch datasets only, so `preferred_backend` "
            f"must be None or 'torch'; got preferred_backend={preferred_backend!r}."
        )
    if not isinstance(dataset, torch.utils.data.Dataset):
        arrays = dataset if isinstance(dataset, (list, tuple)) else [dataset]
        try:
            tensors = [torch.as_tensor(np.asarray(a)) for a in arrays]
        except (TypeError, ValueError) as e:
            raise TypeError(
                "split_dataset expects an array, a list/tuple of arrays or a torch "
                f"Dataset; got {type(dataset).__name__} ({e})."
            ) from None
        lengths = {len(t) for t in tensors}
        if len(lengths) != 1:
            raise ValueError(
                "split_dataset expects the arrays to have the same number of "
                f"samples; got lengths {[len(t) for t in tensors]}."
            )
        dataset = torch.utils.data.TensorDataset(*tensors)
    total = len(dataset)
    left, right = _split_sizes(left_size, right_size, total)
    if shuffle:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
        order = torch.randperm(total, generator=generator).tolist()
    else:
        order = list(range(total))
    return (
        torch.utils.data.Subset(dataset, order[:left]),
        torch.utils.data.Subset(dataset, order[total - right :]),
    )
