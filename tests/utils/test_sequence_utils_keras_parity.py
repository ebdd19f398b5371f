import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina import utils  # noqa: E402

SEQUENCES = [[1, 2, 3, 4], [5], [], [6, 7]]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 2, 6])
def test_pad_sequences_matches_keras(padding, truncating, maxlen):
    kwargs = {"maxlen": maxlen, "padding": padding, "truncating": truncating}
    ours = utils.pad_sequences(SEQUENCES, value=-1, **kwargs)
    theirs = keras.utils.pad_sequences(SEQUENCES, value=-1, **kwargs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_float_items_match_keras():
    seqs = [np.ones((3, 2)), np.full((1, 2), 2.0)]
    ours = utils.pad_sequences(seqs, dtype="float32", maxlen=2)
    theirs = keras.utils.pad_sequences(seqs, dtype="float32", maxlen=2)
    np.testing.assert_array_equal(ours, theirs)
