"""A layer called on a list, tuple or dict of float tensors computes in its
compute dtype, as Keras casts every floating input (KerasRS's DotInteraction
under a bfloat16 policy); other dtypes and masks are kept."""

import numpy as np
import pytest
import torch

import lamina
from lamina import ops


class Stack(lamina.layers.Layer):
    def call(self, xs):
        if isinstance(xs, dict):
            xs = [xs[k] for k in sorted(xs)]
        return ops.stack(xs, axis=1)


class Dtypes(lamina.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, xs):
        self.seen = [x.dtype for x in xs]
        self.masks = [getattr(x, "_keras_mask", None) for x in xs]
        return xs[0]


ONES = np.ones((2, 3), "float32")


@pytest.mark.parametrize(
    "policy, dtype",
    [
        ("bfloat16", torch.bfloat16),
        ("mixed_bfloat16", torch.bfloat16),
        ("float16", torch.float16),
        ("float64", torch.float64),
    ],
)
@pytest.mark.parametrize("container", [list, tuple, "dict"])
def test_every_float_input_of_a_container_takes_the_compute_dtype(
    policy, dtype, container
):
    if container == "dict":
        inputs = {"a": ONES, "b": torch.ones(2, 3)}
    else:
        inputs = container([ONES, torch.ones(2, 3)])
    assert Stack(dtype=policy)(inputs).dtype == dtype


def test_int_inputs_and_masks_are_kept():
    layer = Dtypes(dtype="bfloat16")
    # On lamina's device, where the layer takes the mask as is.
    device = lamina.backend.get_device()
    x = torch.ones(2, 3, device=device)
    mask = torch.tensor([True, False], device=device)
    x._keras_mask = mask
    layer([x, torch.ones(2, 3, dtype=torch.int64, device=device)])
    assert layer.seen == [torch.bfloat16, torch.int64]
    assert layer.masks[0] is mask


def test_without_autocast_a_list_keeps_its_dtypes():
    layer = Dtypes(dtype="bfloat16", autocast=False)
    layer([torch.ones(2, 3), torch.ones(2, 3, dtype=torch.float64)])
    assert layer.seen == [torch.float32, torch.float64]
