"""`ops.ctc_decode(strategy="beam_search")`: values, shapes and errors, with
Keras 3 (torch backend) as the reference where it is installed."""

import itertools
import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import ops  # noqa: E402

pytestmark = pytest.mark.usefixtures("values_on_cpu")


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _collapse(alignment, blank):
    labels, previous = [], None
    for c in alignment:
        if c != blank and c != previous:
            labels.append(c)
        previous = c
    return tuple(labels)


def _exact_label_probs(x, length, blank):
    """log P(labels) for every labelling, by summing over all alignments."""
    log_probs = _log_softmax(x)[:length]
    totals = {}
    for alignment in itertools.product(range(x.shape[-1]), repeat=length):
        score = sum(log_probs[t, c] for t, c in enumerate(alignment))
        key = _collapse(alignment, blank)
        totals[key] = np.logaddexp(totals.get(key, -np.inf), score)
    return totals


def test_wide_beam_finds_the_exact_most_probable_labellings():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2, 4, 3)) * 2).astype("float32")
    lengths = np.array([4, 3], "int32")
    paths, scores = ops.ctc_decode(
        x, lengths, strategy="beam_search", beam_width=50, top_paths=3
    )
    assert paths.shape == (3, 2, 4) and paths.dtype == torch.int32
    assert scores.shape == (2, 3) and scores.dtype == torch.float32
    for b in range(2):
        exact = _exact_label_probs(x[b], int(lengths[b]), blank=0)
        best = sorted(exact.items(), key=lambda kv: -kv[1])[:3]
        for k, (labels, log_p) in enumerate(best):
            got = paths[k, b].numpy()
            assert tuple(got[got >= 0]) == labels
            assert (got[len(labels) :] == -1).all()
            assert scores[b, k].item() == pytest.approx(log_p, rel=1e-5)


def test_repeats_need_a_blank_between_them():
    # Steps strongly "1", blank, "1": the labelling is (1, 1), not (1,).
    x = np.full((1, 3, 3), -10.0, "float32")
    x[0, [0, 2], 1] = 10.0
    x[0, 1, 0] = 10.0
    paths, _ = ops.ctc_decode(x, [3], strategy="beam_search", beam_width=4)
    np.testing.assert_array_equal(paths[0, 0].numpy(), [1, 1, -1])
    # Without the blank the repeat collapses, and merge_repeated is ignored.
    x[0, 1] = x[0, 0]
    paths, _ = ops.ctc_decode(
        x, [3], strategy="beam_search", beam_width=4, merge_repeated=False
    )
    np.testing.assert_array_equal(paths[0, 0].numpy(), [1, -1, -1])


def test_mask_index_none_means_the_last_class():
    x = np.full((1, 2, 3), -10.0, "float32")
    x[0, 0, 0] = x[0, 1, 2] = 10.0
    paths, _ = ops.ctc_decode(x, [2], strategy="beam_search", mask_index=None)
    np.testing.assert_array_equal(paths[0, 0].numpy(), [0, -1])


def test_paths_beyond_the_possible_ones_are_minus_one_with_minus_inf():
    x = np.zeros((1, 1, 2), "float32")  # one step, blank or "1"
    paths, scores = ops.ctc_decode(x, [1], strategy="beam_search", top_paths=4)
    assert sorted(paths[:2, 0, 0].tolist()) == [-1, 1]
    np.testing.assert_allclose(scores[0, :2].numpy(), [math.log(0.5)] * 2)
    assert (paths[2:].numpy() == -1).all()
    assert np.isneginf(scores[0, 2:].numpy()).all()


def test_symbolic_inputs_give_keras_shapes():
    x = lamina.Input(shape=(7, 5))
    lengths = lamina.Input(shape=(), dtype="int32")
    paths, scores = ops.ctc_decode(x, lengths, strategy="beam_search", top_paths=2)
    assert paths.shape == (2, None, 7) and paths.dtype == "int32"
    assert scores.shape == (None, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategy": "beam"}, "strategy="),
        ({"strategy": "beam_search", "beam_width": 0}, "beam_width"),
        ({"strategy": "beam_search", "top_paths": 1.5}, "top_paths"),
        ({"strategy": "beam_search", "mask_index": 4}, "mask_index"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ops.ctc_decode(np.zeros((1, 3, 4), "float32"), [3], **kwargs)


def test_rejects_lengths_longer_than_the_inputs():
    with pytest.raises(ValueError, match="sequence_lengths.*max_time=3"):
        ops.ctc_decode(np.zeros((1, 3, 4), "float32"), [5], strategy="beam_search")


def test_matches_keras_on_random_inputs():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    for trial in range(12):
        batch, steps, classes = rng.integers(1, 4), rng.integers(1, 10), 2 + trial % 5
        x = (rng.normal(size=(batch, steps, classes)) * 2).astype("float32")
        lengths = rng.integers(0, steps + 1, size=batch).astype("int32")
        kwargs = dict(
            strategy="beam_search",
            beam_width=int(rng.integers(1, 8)),
            top_paths=int(rng.integers(1, 6)),
            mask_index=None if trial % 3 == 0 else int(rng.integers(0, classes)),
        )
        want_paths, want_scores = keras.ops.ctc_decode(x, lengths, **kwargs)
        got_paths, got_scores = ops.ctc_decode(x, lengths, **kwargs)
        np.testing.assert_array_equal(
            got_paths.numpy(), keras.ops.convert_to_numpy(want_paths)
        )
        np.testing.assert_allclose(
            got_scores.numpy(), keras.ops.convert_to_numpy(want_scores), rtol=1e-5
        )
