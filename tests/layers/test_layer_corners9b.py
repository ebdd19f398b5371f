"""Layer corners as Keras: a plain float policy set on a built layer, and which
`call` arguments receive masks when a call has more than one tensor argument."""

import os

import numpy as np
import pytest
import torch

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")

X = np.random.RandomState(0).randn(2, 3).astype("float32")


def _keras():
    return pytest.importorskip("keras")


def _to_numpy(keras, y):
    return keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))


# --- a float policy set on a built layer -------------------------------------------


@pytest.mark.parametrize("policy", ["float16", "bfloat16"])
def test_low_precision_policy_on_a_built_dense_still_calls(policy):
    keras = _keras()
    weights = [
        np.random.RandomState(1).randn(3, 4).astype("float32"),
        np.random.RandomState(2).randn(4).astype("float32"),
    ]
    outputs = []
    for lib in (lamina, keras):
        layer = lib.layers.Dense(4)
        layer.build((None, 3))
        layer.set_weights(weights)
        layer.dtype_policy = policy
        assert (layer.dtype, layer.compute_dtype) == (policy, policy)
        # As in Keras, the weights keep the dtype they were built with.
        assert lib.backend.standardize_dtype(layer.kernel.dtype) == "float32"
        outputs.append(layer(X))
        assert layer(lib.Input((3,))).dtype == policy
    ours, theirs = outputs
    # lamina computes in the compute dtype (as its symbolic output says); Keras's
    # eager matmul promotes back to float32.
    assert ours.dtype == lamina.backend.to_torch_dtype(policy)
    tol = 2e-2 if policy == "bfloat16" else 2e-3
    np.testing.assert_allclose(
        _to_numpy(lamina, ours), _to_numpy(keras, theirs), rtol=tol, atol=tol
    )


def test_policy_change_flags_mixed_compute_once():
    layer = lamina.layers.LayerNormalization()
    layer.build((None, 3))
    assert not layer._mixed
    layer.dtype_policy = "float16"
    assert layer._mixed  # float32 weights under a float16 compute dtype
    out = layer(X)
    assert out.dtype == torch.float16
    layer.dtype_policy = "float32"
    assert not layer._mixed
    # A layer built after the change makes float16 weights: nothing to cast.
    fresh = lamina.layers.Dense(2)
    fresh.dtype_policy = "float16"
    fresh.build((None, 3))
    fresh.dtype_policy = "float16"
    assert not fresh._mixed and fresh.kernel.dtype == torch.float16


def test_policy_on_a_functional_model_leaves_its_layers_alone():
    # Keras: only the model's input cast changes; its float32 layers compute in
    # float32 again, so the output stays float32.
    keras = _keras()
    for lib in (lamina, keras):
        inputs = lib.Input((3,))
        model = lib.Model(inputs, lib.layers.Dense(2)(lib.layers.Dense(4)(inputs)))
        model.dtype_policy = "float16"
        assert lib.backend.standardize_dtype(model(X).dtype) == "float32"
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, lamina.layers.Dense(2)(inputs))
    model.dtype_policy = "float16"
    assert not model._mixed


# --- masks for calls with several tensor arguments ---------------------------------


def _recording_layers(lib, seen):
    class Two(lib.layers.Layer):
        def call(self, a, b=None, mask=None):
            seen.append(mask)
            return a

    class Pair(lib.layers.Layer):
        def call(self, x1, x2, x1_mask=None, x2_mask=None):
            seen.append((x1_mask, x2_mask))
            return x2

    return Two, Pair


def _masked(lib):
    x = np.ones((2, 3, 4), "float32")
    x[:, 2] = 0
    return lib.layers.Masking()(x)


@pytest.mark.filterwarnings("ignore:Layer .* was passed an input with a mask")
@pytest.mark.parametrize(
    "case", ["single", "two_positional", "keyword_tensor", "keyword_array"]
)
def test_mask_filled_only_for_one_tensor_argument(case):
    keras = _keras()
    results = []
    for lib in (lamina, keras):
        seen = []
        two, _ = _recording_layers(lib, seen)
        m = _masked(lib)
        other = np.ones((2, 3, 4), "float32")
        if case == "single":
            two()(m)
        elif case == "two_positional":
            two()(m, lib.ops.convert_to_tensor(other))
        elif case == "keyword_tensor":
            two()(m, b=lib.ops.convert_to_tensor(other))
        else:
            two()(m, b=other)
        results.append(seen[0] is not None)
    assert results[0] == results[1] == (case == "single")


@pytest.mark.filterwarnings("ignore:Layer .* was passed an input with a mask")
def test_symbolic_call_with_two_tensors_fills_no_mask():
    seen = []
    two, _ = _recording_layers(lamina, seen)
    a = lamina.layers.Masking()(lamina.Input((3, 4)))
    two()(a, lamina.Input((3, 4)))
    assert seen and all(m is None for m in seen)
    seen.clear()
    two()(a)  # one tensor: the symbolic mask is filled
    assert seen and all(m is not None for m in seen)


@pytest.mark.filterwarnings("ignore:Layer .* was passed an input with a mask")
@pytest.mark.parametrize("container", [tuple, list])
def test_argument_mask_keeps_the_container_kind(container):
    keras = _keras()
    kinds = []
    for lib in (lamina, keras):
        seen = []
        _, pair = _recording_layers(lib, seen)
        m = _masked(lib)
        pair()(container([m, m]), m)
        x1_mask, x2_mask = seen[0]
        assert x2_mask is not None and len(x1_mask) == 2
        kinds.append(type(x1_mask))
    assert kinds[0] is kinds[1] is container
    seen = []
    _, pair = _recording_layers(lamina, seen)
    a = lamina.layers.Masking()(lamina.Input((3, 4)))
    pair()(container([a, a]), a)
    assert all(type(masks[0]) is container for masks in seen)
