"""text_dataset_from_directory: a folder of .txt files (one sub-folder per
class) as batches of strings and labels."""

import numpy as np

from lamina.utils import dataset_utils


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    format="tf",
    verbose=True,
):
    """Batches of texts (and labels) from the `.txt` files under a folder.

    Args:
        directory: The folder; with `labels="inferred"`, one sub-folder per
            class.
        labels: `"inferred"`, `None`, or a list of int labels, one per file in
            the sorted order of their paths.
        label_mode: `"int"`, `"categorical"`, `"binary"` or `None`.
        class_names: Order (and subset) of the class folders.
        batch_size: Texts per batch; `None` yields single texts. Defaults to 32.
        max_length: Keep at most this many characters of each text.
        shuffle: Shuffle the files (with `seed`) and, each epoch, the batches.
        seed: Seed of the shuffles; required with `validation_split` and
            `shuffle`.
        validation_split: Fraction of the files held out for validation.
        subset: `"training"`, `"validation"` or `"both"`.
        follow_links: Whether to follow symbolic links to folders.
        format: Keras's choice of result type: `"tf"` (the default) gives
            lamina's `BatchedDataset`; `"grain"` is not supported.
        verbose: Whether to say how many files were found.

    Returns:
        A `BatchedDataset` (a `lamina.utils.PyDataset`) of `(texts, labels)`
        batches, texts a NumPy array of `str`; with `.class_names` and
        `.file_paths`; or a list of two for `subset="both"`. Models reading
        strings need a text layer (e.g. `TextVectorization`) first.
    """
    owner = "text_dataset_from_directory"
    dataset_utils.check_format(format, owner)
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(
            f"{owner}: the `labels` argument should be 'inferred', None, or a list/tuple of "
            f"ints; got labels={labels!r}."
        )
    if labels is None:
        label_mode = None
    dataset_utils.check_label_mode(label_mode, labels, None, owner)
    if label_mode is None:
        labels = None  # Keras: no labels means every file, loose ones too
    dataset_utils.check_positive_int(batch_size, "batch_size", owner, allow_none=True)
    dataset_utils.check_positive_int(max_length, "max_length", owner, allow_none=True)
    dataset_utils.check_validation_split_arg(
        validation_split, subset, shuffle, seed, owner
    )
    if seed is None:
        seed = np.random.randint(1e6)
    paths, found, names = dataset_utils.index_directory(
        directory,
        labels,
        (".txt",),
        class_names=class_names,
        shuffle=shuffle,
        seed=seed,
        follow_links=follow_links,
        verbose=verbose,
        owner=owner,
    )
    dataset_utils.check_label_mode(label_mode, labels, names, owner)
    if not paths:
        raise ValueError(
            f"{owner} found no text files in {directory!r} (allowed format: .txt)."
        )

    def make(subset_name):
        sub_paths, sub_labels = dataset_utils.training_or_validation_split(
            paths, found, validation_split, subset_name, verbose
        )
        if label_mode is not None:
            sub_labels = dataset_utils.encode_labels(sub_labels, label_mode, len(names))

        def read(path):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            return text[:max_length] if max_length is not None else text

        def load(indices):
            texts = np.array([read(sub_paths[i]) for i in indices], dtype=object)
            texts = texts.astype(str) if len(texts) else np.array([], dtype=str)
            if label_mode is None:
                return texts
            return texts, sub_labels[indices]

        dataset = dataset_utils.BatchedDataset(
            len(sub_paths), load, batch_size, shuffle=shuffle, seed=seed
        )
        dataset.class_names = names
        dataset.file_paths = list(sub_paths)
        return dataset

    if subset == "both":
        return [make("training"), make("validation")]
    return make(subset)
