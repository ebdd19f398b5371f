"""What the suite's second CUDA run (H200, torch 2.11) changed in lamina, checked
here on the CPU or the meta device (the CUDA side runs where a GPU is present)."""

import numpy as np
import pytest
import torch
from torch.torch_version import TorchVersion

import lamina
from lamina import layers, ops
from lamina.backend import convert_to_tensor
from lamina.backend.tensors import host_to_device
from lamina.trainers import trainer_utils


def test_a_list_of_tensors_is_stacked_without_numpy():
    out = convert_to_tensor([torch.ones(2), torch.zeros(2)], dtype="float32")
    assert out.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    mixed = convert_to_tensor([torch.tensor(1), 2])
    assert mixed.tolist() == [1, 2] and mixed.dtype == torch.int64


def test_a_list_of_tensors_of_different_shapes_names_them():
    with pytest.raises(
        ValueError, match=r"expected equal shapes, got \[\(2,\), \(3,\)\]"
    ):
        convert_to_tensor([torch.ones(2), torch.zeros(3)])


def test_host_to_device_on_the_cpu_keeps_the_tensor():
    tensor = torch.arange(3.0)
    assert host_to_device(tensor, torch.device("cpu")) is tensor
    assert host_to_device(tensor, "cpu", torch.float64).dtype == torch.float64


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_integer_einsum_keeps_keras_dtypes_off_the_cpu(device):
    # CUDA has no integer batched products; off the CPU (meta stands in for
    # CUDA here) einsum computes in float64 and returns the integer dtype.
    a = torch.arange(6, dtype=torch.int8, device=device).reshape(2, 3)
    b = torch.arange(6, dtype=torch.int32, device=device).reshape(3, 2)
    assert ops.einsum("ij,jk->ik", a, a.T).dtype == torch.int32
    out = ops.einsum("ij,jk->ik", b.T, b)
    assert out.dtype == torch.int32 and out.device.type == device
    if device == "cpu":
        assert out.tolist() == (b.T.double() @ b.double()).long().tolist()


def test_bilinear_upsampling_of_channels_last_has_the_channels_first_gradient():
    x = np.random.default_rng(0).random((2, 3, 3, 4)).astype("float32")
    last = torch.tensor(x, requires_grad=True)
    first = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    up_last = layers.UpSampling2D(2, interpolation="bilinear")(last)
    up_first = layers.UpSampling2D(
        2, interpolation="bilinear", data_format="channels_first"
    )(first)
    (up_last**2).sum().backward()
    (up_first**2).sum().backward()
    np.testing.assert_allclose(
        ops.convert_to_numpy(last.grad),
        ops.convert_to_numpy(first.grad).transpose(0, 2, 3, 1),
        rtol=1e-6,
    )


class _OnDevice:
    def __init__(self, device):
        self.device = torch.device(device)

    def _device(self):
        return self.device


@pytest.mark.parametrize(
    "version, device, reorders",
    [("2.11.0", "cuda", False), ("2.13.0", "cuda", True), ("2.11.0", "cpu", True)],
)
def test_loop_reordering_is_off_only_for_gpus_before_torch_2_13(
    monkeypatch, version, device, reorders
):
    seen = {}

    def fake_compile(fn, options=None):
        seen["options"] = options or {}
        return fn

    monkeypatch.setattr(torch, "__version__", TorchVersion(version))
    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(trainer_utils, "_cpp_wrapper_pays", lambda model: False)
    trainer_utils.compile_batch_dynamic(lambda x: x, model=_OnDevice(device))
    assert ("loop_ordering_after_fusion" not in seen["options"]) == reorders
    if not reorders:
        assert seen["options"]["loop_ordering_after_fusion"] is False


def test_the_model_device_rule_sees_lamina_models():
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    assert trainer_utils._on_gpu(model) == (model._device().type == "cuda")
    model.to("meta")  # a lamina model off the CPU but not on a GPU
    assert not trainer_utils._on_gpu(model)
    assert trainer_utils._on_gpu(_OnDevice("cuda"))
    assert not trainer_utils._on_gpu(None)


def test_nested_lists_of_tensors_are_stacked_level_by_level():
    boxes = [[torch.tensor(1.0), 2.0], [3.0, torch.tensor(4.0)]]
    assert convert_to_tensor(boxes).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_bfloat16_numpy_arrays_go_to_lamina_s_device():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    values = np.array([1.5, 2.5], dtype=ml_dtypes.bfloat16)
    lamina.backend.set_device("meta")  # stands in for CUDA: no CPU tensor may stay
    try:
        out = ops.add(values, 1)
    finally:
        lamina.backend.set_device(None)
    assert out.device.type == "meta" and out.dtype == torch.bfloat16


def _float32_like_cuda_autocast(fn):
    # CUDA's autocast runs softmax, exp, softplus ... in float32 whatever the
    # input; the CPU's does not, so the tests stand that in by wrapping the op.
    return lambda *args, **kwargs: fn(
        *[a.float() if isinstance(a, torch.Tensor) else a for a in args], **kwargs
    )


@pytest.mark.parametrize(
    "name, call",
    [
        ("softmax", lambda x: lamina.activations.softmax(x)),
        ("log_softmax", lambda x: lamina.activations.log_softmax(x)),
        ("softmax over two axes", lambda x: lamina.activations.softmax(x, (0, 1))),
        ("exponential", lambda x: lamina.activations.exponential(x)),
        ("softplus", lambda x: lamina.activations.softplus(x)),
        ("ops.softmax", lambda x: ops.softmax(x)),
        ("Softmax layer", lambda x: layers.Softmax(dtype=x.dtype)(x)),
    ],
)
def test_activations_keep_a_half_input_s_dtype_where_the_op_upcasts(
    monkeypatch, name, call
):
    F = torch.nn.functional
    for module, attr in [
        (F, "softmax"),
        (F, "log_softmax"),
        (F, "softplus"),
        (torch, "softmax"),
        (torch, "exp"),
        (torch, "logsumexp"),
    ]:
        monkeypatch.setattr(
            module, attr, _float32_like_cuda_autocast(getattr(module, attr))
        )
    x = torch.randn(2, 5).to(torch.float16)
    out = call(x)
    assert out.dtype == torch.float16, name
    expected = call(x.float()).to(torch.float16)
    torch.testing.assert_close(out, expected)


def test_attention_scores_keep_their_dtype_where_softmax_upcasts(monkeypatch):
    monkeypatch.setattr(torch, "softmax", _float32_like_cuda_autocast(torch.softmax))
    q = torch.randn(2, 3, 4).to(torch.float16)
    for layer in (
        layers.Attention(dtype="float16"),
        layers.AdditiveAttention(dtype="float16"),
    ):
        out, scores = layer([q, q], return_attention_scores=True)
        assert out.dtype == scores.dtype == torch.float16, type(layer).__name__
    for layer in (
        layers.MultiHeadAttention(2, 2, dtype="float16"),
        layers.GroupQueryAttention(2, 2, 1, dtype="float16"),
    ):
        out, scores = layer(q, q, return_attention_scores=True)
        assert out.dtype == scores.dtype == torch.float16, type(layer).__name__
