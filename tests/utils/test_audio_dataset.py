"""`utils.audio_dataset_from_directory`: decoding, padding, labels, splits,
resampling and errors, on small WAV files written with `wave`."""

import wave

import numpy as np
import pytest

from lamina import utils
from lamina.utils.dataset_utils import BatchedDataset


def _write_wav(path, samples, rate=8000, width=2):
    """`samples` (n, channels) in [-1, 1) written as `width`-byte PCM."""
    samples = np.asarray(samples, "float64")
    if width == 1:
        raw = np.round(samples * 128 + 128).astype("u1").tobytes()
    elif width == 2:
        raw = np.round(samples * 32768).astype("<i2").tobytes()
    else:  # 3 bytes
        ints = np.round(samples * 8388608).astype("<i4").reshape(-1, 1)
        raw = ints.view("u1").reshape(-1, 4)[:, :3].tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(samples.shape[1])
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(raw)


def _ramp(n, channels=1, start=0):
    values = (np.arange(n * channels) + start) % 64 - 32
    return (values / 64.0).reshape(n, channels)


@pytest.fixture
def folder(tmp_path):
    _write_wav(tmp_path / "cat" / "a.wav", _ramp(5))
    _write_wav(tmp_path / "cat" / "b.wav", _ramp(3, start=7))
    _write_wav(tmp_path / "dog" / "c.wav", _ramp(4, start=11))
    (tmp_path / "dog" / "notes.txt").write_text("not audio")
    return tmp_path


def test_batches_are_padded_float32_clips_with_int_labels(folder):
    ds = utils.audio_dataset_from_directory(folder, shuffle=False, verbose=False)
    assert isinstance(ds, BatchedDataset) and len(ds) == 1
    assert ds.class_names == ["cat", "dog"]
    audio, labels = ds[0]
    assert audio.dtype == np.float32 and audio.shape == (3, 5, 1)
    np.testing.assert_array_equal(labels, np.array([0, 0, 1], "int32"))
    np.testing.assert_allclose(audio[0], _ramp(5))
    np.testing.assert_allclose(audio[1, :3], _ramp(3, start=7))
    np.testing.assert_array_equal(audio[1, 3:], 0.0)
    np.testing.assert_allclose(audio[2, :4], _ramp(4, start=11))


def test_output_sequence_length_cuts_and_pads_every_clip(folder):
    ds = utils.audio_dataset_from_directory(
        folder, output_sequence_length=4, shuffle=False, batch_size=2, verbose=False
    )
    audio, _ = ds[0]
    assert audio.shape == (2, 4, 1)
    np.testing.assert_allclose(audio[0], _ramp(5)[:4])
    np.testing.assert_array_equal(audio[1, 3], 0.0)
    assert ds[1][0].shape == (1, 4, 1)


def test_ragged_batches_keep_each_length(folder):
    ds = utils.audio_dataset_from_directory(
        folder, ragged=True, shuffle=False, label_mode=None, verbose=False
    )
    clips = ds[0]
    assert [clip.shape for clip in clips] == [(5, 1), (3, 1), (4, 1)]


@pytest.mark.parametrize("width", [1, 2, 3])
def test_decodes_stereo_pcm_of_several_widths(tmp_path, width):
    samples = _ramp(6, channels=2)
    _write_wav(tmp_path / "x" / "s.wav", samples, width=width)
    ds = utils.audio_dataset_from_directory(tmp_path, batch_size=None, verbose=False)
    audio, label = ds[0]
    assert audio.shape == (6, 2) and label == 0
    np.testing.assert_allclose(audio, samples, atol=1 / 128 if width == 1 else 1e-6)


def test_label_modes_and_no_labels(folder):
    kw = dict(shuffle=False, verbose=False)
    ds = utils.audio_dataset_from_directory(folder, label_mode="categorical", **kw)
    _, cat = ds[0]
    np.testing.assert_array_equal(cat, np.eye(2, dtype="float32")[[0, 0, 1]])
    _, binary = utils.audio_dataset_from_directory(folder, label_mode="binary", **kw)[0]
    assert binary.shape == (3, 1) and binary.dtype == np.float32
    audio = utils.audio_dataset_from_directory(folder, labels=None, **kw)[0]
    assert isinstance(audio, np.ndarray) and audio.shape == (3, 5, 1)


def test_validation_split_both_partitions_the_files(folder):
    train, val = utils.audio_dataset_from_directory(
        folder, validation_split=0.34, subset="both", seed=1, verbose=False
    )
    assert len(train.file_paths) == 2 and len(val.file_paths) == 1
    assert not set(train.file_paths) & set(val.file_paths)


def test_sampling_rate_resamples_a_sine_without_distortion(tmp_path):
    t = np.arange(800) / 8000.0
    _write_wav(tmp_path / "x" / "tone.wav", 0.5 * np.sin(2 * np.pi * 500 * t)[:, None])
    ds = utils.audio_dataset_from_directory(
        tmp_path, sampling_rate=16000, batch_size=None, verbose=False
    )
    audio, _ = ds[0]
    t_out = np.arange(1600) / 16000.0
    assert audio.shape == (1600, 1)
    np.testing.assert_allclose(
        audio[:, 0], 0.5 * np.sin(2 * np.pi * 500 * t_out), atol=1e-4
    )


def test_fit_trains_on_the_dataset(folder):
    import lamina

    model = lamina.Sequential(
        [lamina.Input((4, 1)), lamina.layers.Flatten(), lamina.layers.Dense(2)]
    )
    model.compile("sgd", lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds = utils.audio_dataset_from_directory(
        folder, output_sequence_length=4, batch_size=2, seed=0, verbose=False
    )
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sampling_rate": 0}, "sampling_rate"),
        ({"sampling_rate": 16000.0}, "sampling_rate"),
        ({"ragged": True, "output_sequence_length": 3}, "ragged"),
        ({"label_mode": "sparse"}, "label_mode"),
        ({"labels": "folders"}, "labels"),
        ({"validation_split": 0.5}, "subset"),
    ],
)
def test_rejects_bad_arguments(folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.audio_dataset_from_directory(folder, verbose=False, **kwargs)


def test_rejects_a_folder_without_wav_files(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="no audio files found"):
        utils.audio_dataset_from_directory(tmp_path, verbose=False)


def test_rejects_a_file_that_is_not_pcm_wav(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    ds = utils.audio_dataset_from_directory(tmp_path, verbose=False)
    with pytest.raises(ValueError, match="PCM WAV.*bad.wav"):
        ds[0]


def test_rejects_mixed_channel_counts_in_one_batch(tmp_path):
    _write_wav(tmp_path / "a" / "mono.wav", _ramp(3))
    _write_wav(tmp_path / "a" / "stereo.wav", _ramp(3, channels=2))
    ds = utils.audio_dataset_from_directory(tmp_path, verbose=False)
    with pytest.raises(ValueError, match="different channel counts"):
        ds[0]
