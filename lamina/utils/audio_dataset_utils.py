"""audio_dataset_from_directory: a folder of .wav files (one sub-folder per
class) as batches `fit` reads directly. Files are decoded with Python's `wave`
module (integer PCM), without TensorFlow."""

import math
import wave

import numpy as np

from lamina.utils import dataset_utils

ALLOWED_FORMATS = (".wav",)

# Integer PCM sample width in bytes -> (NumPy dtype, offset, scale to [-1, 1]).
_PCM = {
    1: ("u1", 128.0, 128.0),  # 8-bit WAV samples are unsigned
    2: ("<i2", 0.0, 32768.0),
    3: (None, 0.0, 8388608.0),  # 24-bit: unpacked by hand below
    4: ("<i4", 0.0, 2147483648.0),
}


def audio_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    sampling_rate=None,
    output_sequence_length=None,
    ragged=False,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
):
    """Batches of audio clips (and labels) from the `.wav` files under a folder.

    Args:
        directory: The folder; with `labels="inferred"`, one sub-folder per
            class.
        labels: `"inferred"`, `None`, or a list of int labels, one per file in
            the sorted order of their paths.
        label_mode: `"int"`, `"categorical"`, `"binary"` or `None`.
        class_names: Order (and subset) of the class folders.
        batch_size: Clips per batch; `None` yields single clips. Defaults to
            32.
        sampling_rate: Resample every clip to this many samples per second (a
            positive int); `None` keeps each file's own rate. Resampling is
            band-limited (through the FFT), like Keras's (which needs
            `tensorflow-io`), though the values differ slightly.
        output_sequence_length: Cut or zero-pad every clip to this many
            samples. As in Keras this happens before resampling, so it counts
            samples at the file's rate. `None` pads each batch to its longest
            clip.
        ragged: Whether batches hold clips of their own lengths (a list of
            arrays) instead of one padded array. Not with
            `output_sequence_length`. Defaults to `False`.
        shuffle: Shuffle the files (with `seed`) and, each epoch, the batches.
        seed: Seed of the shuffles; required with `validation_split` and
            `shuffle`.
        validation_split: Fraction of the files held out for validation.
        subset: `"training"`, `"validation"` or `"both"`.
        follow_links: Whether to follow symbolic links to folders.
        verbose: Whether to say how many files were found.

    Returns:
        A `BatchedDataset` (a `lamina.utils.PyDataset`) of `(audio, labels)`
        batches, or of `audio` alone when `label_mode` or `labels` is `None`;
        with `.class_names` and `.file_paths`; or a list of two for
        `subset="both"`. `audio` is float32 in `[-1, 1]` of shape
        `(batch, samples, channels)`. Labels are int32 `(batch,)` for `"int"`,
        float32 `(batch, 1)` for `"binary"` and float32 one-hot
        `(batch, num_classes)` for `"categorical"`.

    Raises:
        ValueError: For bad arguments, a folder without `.wav` files, a file
            that is not integer PCM WAV, or clips with different channel
            counts in one batch.
    """
    owner = "audio_dataset_from_directory"
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(
            f"{owner}: the `labels` argument should be 'inferred', None, or a list/tuple of "
            f"ints (one per file); got labels={labels!r}."
        )
    dataset_utils.check_label_mode(label_mode, labels, None, owner)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    dataset_utils.check_positive_int(batch_size, "batch_size", owner, allow_none=True)
    dataset_utils.check_positive_int(
        output_sequence_length, "output_sequence_length", owner, allow_none=True
    )
    dataset_utils.check_positive_int(
        sampling_rate, "sampling_rate", owner, allow_none=True
    )
    if ragged and output_sequence_length is not None:
        raise ValueError(
            f"{owner}: `ragged=True` keeps each clip's own length, so it does not "
            "go with `output_sequence_length`; got output_sequence_length="
            f"{output_sequence_length!r}. Pass one or the other."
        )
    dataset_utils.check_validation_split_arg(
        validation_split, subset, shuffle, seed, owner
    )
    if seed is None:
        seed = np.random.randint(1e6)
    paths, found, names = dataset_utils.index_directory(
        directory,
        labels,
        ALLOWED_FORMATS,
        class_names=class_names,
        shuffle=shuffle,
        seed=seed,
        follow_links=follow_links,
        verbose=verbose,
        owner=owner,
    )
    dataset_utils.check_label_mode(label_mode, labels, names, owner)

    def read(path):
        audio, rate = _read_wav(path)
        if output_sequence_length is not None:
            audio = _fit_length(audio, output_sequence_length)
        if sampling_rate is not None and rate != sampling_rate:
            audio = _resample(audio, rate, sampling_rate)
        return audio

    def make(subset_name):
        sub_paths, sub_labels = dataset_utils.training_or_validation_split(
            paths, found, validation_split, subset_name, verbose
        )
        if not len(sub_paths):
            which = {"training": "training ", "validation": "validation "}
            raise ValueError(
                f"{owner}: no {which.get(subset_name, '')}audio files found in "
                f"{directory!r}; allowed formats: {ALLOWED_FORMATS}."
            )
        if label_mode is not None:
            sub_labels = dataset_utils.encode_labels(sub_labels, label_mode, len(names))

        def load(indices):
            clips = [read(sub_paths[i]) for i in indices]
            audio = clips if ragged else _pad_batch(clips, sub_paths, indices)
            if label_mode is None:
                return audio
            return audio, sub_labels[indices]

        dataset = dataset_utils.BatchedDataset(
            len(sub_paths), load, batch_size, shuffle=shuffle, seed=seed
        )
        dataset.class_names = names
        dataset.file_paths = list(sub_paths)
        return dataset

    if subset == "both":
        return [make("training"), make("validation")]
    return make(subset)


def _read_wav(path):
    """`(audio, rate)`: float32 `(samples, channels)` in [-1, 1], and the
    samples per second, of an integer PCM WAV file."""
    try:
        with wave.open(str(path), "rb") as f:
            channels, width = f.getnchannels(), f.getsampwidth()
            rate, frames = f.getframerate(), f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(
            f"audio_dataset_from_directory reads integer PCM WAV files (8, 16, "
            f"24 or 32 bits); could not decode {str(path)!r}: {e}. Convert it, "
            "e.g. to 16-bit PCM."
        ) from None
    if width not in _PCM:
        raise ValueError(
            f"audio_dataset_from_directory reads 8, 16, 24 or 32-bit PCM WAV; "
            f"{str(path)!r} has {8 * width}-bit samples."
        )
    dtype, offset, scale = _PCM[width]
    if width == 3:
        raw = np.frombuffer(frames, "u1").reshape(-1, 3).astype("<i4")
        values = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
    else:
        values = np.frombuffer(frames, dtype)
    audio = (values.astype("float64") - offset) / scale
    return audio.astype("float32").reshape(-1, channels), rate


def _fit_length(audio, length: int):
    """`audio` cut or zero-padded at the end to `length` samples."""
    if len(audio) >= length:
        return audio[:length]
    return np.pad(audio, ((0, length - len(audio)), (0, 0)))


def _resample(audio, rate_in: int, rate_out: int):
    """Band-limited resampling along axis 0, by cutting or zero-extending the
    spectrum (the method of `scipy.signal.resample`)."""
    n = len(audio)
    m = math.ceil(n * rate_out / rate_in)
    if n == 0 or m == 0:
        return np.zeros((m, audio.shape[1]), "float32")
    spectrum = np.fft.rfft(audio.astype("float64"), axis=0)
    kept = min(n, m) // 2 + 1
    new = np.zeros((m // 2 + 1, audio.shape[1]), complex)
    new[:kept] = spectrum[:kept]
    # The Nyquist bin stands for two mirrored bins: split it when it stops
    # being the Nyquist bin, fold both halves in when it becomes one.
    if m > n and n % 2 == 0:
        new[n // 2] *= 0.5
    elif m < n and m % 2 == 0:
        new[m // 2] *= 2.0
    return (np.fft.irfft(new, n=m, axis=0) * (m / n)).astype("float32")


def _pad_batch(clips, paths, indices):
    """The clips zero-padded at the end to the longest, as one array."""
    channels = {clip.shape[1] for clip in clips}
    if len(channels) > 1:
        found = {paths[i]: clip.shape[1] for i, clip in zip(indices, clips)}
        raise ValueError(
            "audio_dataset_from_directory cannot batch clips with different "
            f"channel counts: {found}. Convert the files or pass ragged=True."
        )
    longest = max(len(clip) for clip in clips)
    return np.stack([_fit_length(clip, longest) for clip in clips])
