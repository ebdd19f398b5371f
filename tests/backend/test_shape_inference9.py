"""Symbolic shapes where an unknown size must equal a known one (session 9).

Probing unknown sizes with 2 and 3 cannot fit a computation that contracts or
concatenates an unknown axis against a known one; lamina pins that size to the
known sizes of the inputs in turn. Expected shapes are Keras 3.15.1's."""

import pytest

from lamina import ops
from lamina.backend.keras_tensor import KerasTensor as KT

CASES = {
    "matmul": (lambda: ops.matmul(KT((None, None)), KT((16, 8))), (None, 8)),
    "dot": (lambda: ops.dot(KT((None,)), KT((5,))), ()),
    "inner": (lambda: ops.inner(KT((5, None)), KT((4, 3))), (5, 4)),
    "tensordot": (
        lambda: ops.tensordot(KT((None, 3, 4)), KT((3, 4)), axes=[[0, 1], [1, 0]]),
        (4,),
    ),
    "vstack": (lambda: ops.vstack([KT((None, 3)), KT((None, None))]), (None, 3)),
    "conv": (lambda: ops.conv(KT((2, 10, None)), KT((3, 5, 4))), (2, 8, 4)),
    "get_item": (lambda: ops.get_item(KT((None, 5, 16)), 5), (5, 16)),
    "broadcast": (lambda: ops.add(KT((None, 3)), KT((2, None))), (2, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_unknown_sizes_pinned_to_the_known_ones_they_must_equal(name):
    build, expected = CASES[name]
    assert build().shape == expected


def test_a_real_mismatch_still_raises_after_every_pinning():
    with pytest.raises(ValueError, match="ops.add"):
        ops.add(KT((None, 3)), KT((4,)))
