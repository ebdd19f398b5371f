"""The activations' inference fast paths (softmax over a small last axis as
separate kernels; relu / tanh in place on fresh layer outputs) give torch's
values and leave training's autograd path alone."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lamina import activations
from lamina.activations import activations as impl


@pytest.mark.parametrize("classes", [2, 3, 5, 10, 15])
def test_small_axis_softmax_matches_torch_to_float32_rounding(classes):
    x = torch.randn(4096, classes, generator=torch.Generator().manual_seed(0)) * 5
    with torch.inference_mode():
        fast = impl._small_axis_softmax(x, -1)
        out = activations.softmax(x)
    assert fast is not None
    expected = F.softmax(x, dim=-1)
    np.testing.assert_allclose(fast.numpy(), expected.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(out.numpy(), fast.numpy())
    np.testing.assert_allclose(out.sum(-1).numpy(), 1.0, rtol=1e-6)


def test_small_axis_softmax_handles_infinities_and_nan_as_torch_does():
    inf, nan = float("inf"), float("nan")
    rows = torch.tensor(
        [[inf, 1.0, 2.0], [-inf, -inf, -inf], [nan, 1.0, 2.0], [-inf, 0.0, 1.0]]
    )
    x = rows.repeat(512, 1)  # large enough for the fast path
    with torch.no_grad():
        fast = impl._small_axis_softmax(x, -1)
    assert fast is not None
    np.testing.assert_allclose(
        fast.numpy(), F.softmax(x, dim=-1).numpy(), rtol=0, atol=3e-7
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.randn(4, 10),  # too small to gain
        lambda: torch.randn(1024, 16),  # axis as long as a SIMD register
        lambda: torch.randn(1024, 10, dtype=torch.float64),
        lambda: torch.randn(1024, 10, requires_grad=True),  # training
    ],
)
def test_small_axis_softmax_steps_aside_where_torch_is_as_fast_or_grad_is_needed(
    make,
):
    x = make()
    if impl._SIMD_FLOATS < 16 and x.shape[-1] == 16:
        pytest.skip("this CPU's SIMD register holds fewer than 16 floats")
    assert impl._small_axis_softmax(x, -1) is None


def test_softmax_in_training_keeps_torchs_backward_and_its_logits():
    x = torch.randn(1024, 10, requires_grad=True)
    out = activations.softmax(x)
    assert out.grad_fn.name() == "SoftmaxBackward0"
    assert out._keras_logits is x
    assert out._keras_logits_from == "softmax"


def test_inference_softmax_still_remembers_its_logits():
    x = torch.randn(1024, 10)
    with torch.inference_mode():
        out = activations.softmax(x)
    assert out._keras_logits is x
    assert out._keras_logits_from == "softmax"


@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_activate_fresh_runs_in_place_only_without_grad(name):
    activation = activations.get(name)
    x = torch.randn(64, 8)
    expected = activation(x.clone())
    with torch.no_grad():
        fresh = x.clone()
        out = impl._activate_fresh(activation, fresh)
    assert out.data_ptr() == fresh.data_ptr()
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    tracked = x.clone().requires_grad_()
    out = impl._activate_fresh(activation, tracked)
    assert out.data_ptr() != tracked.data_ptr()
    out.sum().backward()
    assert tracked.grad is not None


def test_activate_fresh_leaves_other_activations_to_themselves():
    x = torch.randn(4, 3)
    with torch.no_grad():
        out = impl._activate_fresh(activations.sigmoid, x)
    assert out.data_ptr() != x.data_ptr()
    assert out._keras_logits is x
