import inspect
import math

import numpy as np
import pytest
import torch

import lamina.ops
from lamina import ops
from lamina.ops import operation


def values(t):
    return t.detach().cpu().numpy()


def test_erf_erfinv_rsqrt_logsumexp():
    x = np.array([-0.5, 0.0, 0.9], "float32")
    np.testing.assert_allclose(values(ops.erf(x)), [math.erf(v) for v in x], rtol=1e-6)
    np.testing.assert_allclose(values(ops.erf(ops.erfinv(x))), x, atol=1e-6)
    np.testing.assert_allclose(values(ops.rsqrt(np.array([4, 16]))), [0.5, 0.25])
    big = np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]], "float32")
    np.testing.assert_allclose(
        values(ops.logsumexp(big, axis=1)), [1000 + np.log(2), np.log(4)], rtol=1e-6
    )
    np.testing.assert_allclose(
        values(ops.logsumexp(big[1:], keepdims=True)), [[np.log(4)]], rtol=1e-6
    )


def test_top_k_and_in_top_k():
    x = np.array([[1.0, 5.0, 3.0, 4.0], [9.0, 0.0, 1.0, 2.0]], "float32")
    top_values, top_indices = ops.top_k(x, 2)
    assert top_indices.dtype == torch.int32
    np.testing.assert_array_equal(values(top_values), [[5, 4], [9, 2]])
    np.testing.assert_array_equal(values(top_indices), [[1, 3], [0, 3]])
    hits = ops.in_top_k(np.array([3, 2]), x, 2)
    np.testing.assert_array_equal(values(hits), [True, False])
    ties = ops.in_top_k(np.array([1]), np.array([[1.0, 1.0, 1.0]], "float32"), 1)
    np.testing.assert_array_equal(values(ties), [True])
    with pytest.raises(ValueError, match=r"ops.top_k expects 0 <= k <= .* got k=5"):
        ops.top_k(x, 5)


def test_segment_sum_drops_out_of_range_ids():
    data = np.arange(10, dtype="float32").reshape(5, 2)
    out = ops.segment_sum(data, np.array([0, 0, 2, -1, 2]))
    np.testing.assert_array_equal(values(out), [[2, 4], [0, 0], [12, 14]])
    out = ops.segment_sum(data, np.array([0, 1, 1, 5, 1]), num_segments=2)
    np.testing.assert_array_equal(values(out), [[0, 1], [14, 17]])


def test_norm_vector_and_matrix():
    x = np.array([[3.0, -4.0], [1.0, 2.0]], "float32")
    np.testing.assert_allclose(values(ops.norm(x)), np.linalg.norm(x), rtol=1e-6)
    np.testing.assert_allclose(values(ops.norm(x, ord=1, axis=-1)), [7, 3], rtol=1e-6)
    np.testing.assert_allclose(
        values(ops.norm(x, ord="fro", axis=(0, 1))), np.linalg.norm(x, "fro"), rtol=1e-6
    )
    np.testing.assert_allclose(
        values(ops.norm(x, ord=np.inf, axis=(0, 1))),
        np.linalg.norm(x, np.inf),
        rtol=1e-6,
    )
    assert ops.norm(np.array([3, 4])).dtype == torch.float32


def test_core_ops():
    x = ops.convert_to_tensor([1, 2])
    assert x.dtype == torch.int32
    assert ops.convert_to_tensor(np.ones(2)).dtype == torch.float32
    assert (
        ops.convert_to_tensor(torch.ones(2, dtype=torch.float64)).dtype == torch.float64
    )
    assert ops.convert_to_tensor([1, 2], dtype="float16").dtype == torch.float16
    assert ops.cast([1.7, -1.7], "int32").tolist() == [1, -1]
    assert ops.shape(np.zeros((2, 3))) == (2, 3)
    assert ops.shape(torch.zeros(4, 1)) == (4, 1)
    assert ops.dtype(torch.zeros(1, dtype=torch.bfloat16)) == "bfloat16"
    assert ops.is_tensor(torch.nn.Parameter(torch.zeros(1)))
    assert not ops.is_tensor(np.zeros(1))
    np.testing.assert_array_equal(ops.convert_to_numpy(torch.ones(2)), [1.0, 1.0])
    w = torch.ones(2, requires_grad=True)
    assert not ops.stop_gradient(w * 2).requires_grad
    with pytest.raises(ValueError, match="no sparse or ragged tensors"):
        ops.convert_to_tensor([1], sparse=True)


def test_every_public_op_goes_through_the_dispatch_point():
    # `vectorize` makes a function (as in Keras) and `image` is a submodule.
    for name in sorted(set(lamina.ops.__all__) - {"vectorize", "image"}):
        fn = getattr(lamina.ops, name)
        assert operation.is_op(fn), name
        assert fn.__name__ == name
        assert inspect.signature(fn) == inspect.signature(fn.__wrapped__)


def test_symbolic_handler_intercepts_calls_and_declines_with_notimplemented():
    class Symbol:
        pass

    calls = []

    def handler(fn, args, kwargs):
        calls.append((fn.__name__, args, kwargs))
        if any(isinstance(a, Symbol) for a in args):
            return "symbolic result"
        return NotImplemented

    installed = operation.get_symbolic_handler()  # the functional API's
    operation.set_symbolic_handler(handler)
    try:
        assert ops.add(Symbol(), 1) == "symbolic result"
        assert ops.sum(np.array([1, 2]), axis=0).tolist() == 3
        assert calls[0][0] == "add"
        assert calls[1] == ("sum", calls[1][1], {"axis": 0})
        operation.set_symbolic_handler(None)
        assert operation.get_symbolic_handler() is None
        with pytest.raises(TypeError, match="expects a callable"):
            operation.set_symbolic_handler(3)
    finally:
        # Later tests build functional models through the installed handler.
        operation.set_symbolic_handler(installed)


def test_ops_namespace_matches_keras_names():
    expected = {
        "abs",
        "add",
        "all",
        "any",
        "arange",
        "argmax",
        "argsort",
        "average",
        "binary_crossentropy",
        "cast",
        "categorical_crossentropy",
        "clip",
        "concatenate",
        "convert_to_numpy",
        "convert_to_tensor",
        "count_nonzero",
        "cumsum",
        "diag",
        "dot",
        "einsum",
        "erf",
        "erfinv",
        "eye",
        "full",
        "in_top_k",
        "linspace",
        "logsumexp",
        "matmul",
        "meshgrid",
        "moments",
        "nan_to_num",
        "norm",
        "normalize",
        "one_hot",
        "pad",
        "rsqrt",
        "segment_sum",
        "shape",
        "softmax",
        "sparse_categorical_crossentropy",
        "stop_gradient",
        "take_along_axis",
        "tensordot",
        "top_k",
        "where",
    }
    assert expected <= set(lamina.ops.__all__)
    assert ops.numpy.add is ops.add and ops.nn.softmax is ops.softmax
    assert ops.math.top_k is ops.top_k and ops.linalg.norm is ops.norm
