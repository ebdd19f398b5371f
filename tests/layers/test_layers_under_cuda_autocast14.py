"""Built-in layers under a mixed policy give the same output dtypes when the
ops that CUDA's autocast runs in float32 (softmax, exp, sums, norms, powers...)
do so. The CPU's autocast keeps those ops in 16 bits, so the suite on the CPU
never saw what the H200 showed: UnitNormalization and attention weights in
float32 where Keras returns float16. Here those ops are wrapped to upcast
inside an autocast region, standing in for CUDA."""

import pytest
import torch
import torch.nn.functional as F

import lamina
from tests.layers.test_layers_on_another_device import CASES, _call

# torch's CUDA autocast float32 list (the ops lamina's layers use).
_TORCH = [
    "exp", "expm1", "log", "log1p", "log2", "log10", "rsqrt", "reciprocal",
    "pow", "softmax", "log_softmax", "logsumexp", "cumsum", "cumprod", "prod",
    "sum", "norm", "cdist", "acos", "asin", "cosh", "sinh", "tan", "erfinv",
]  # fmt: skip
_FUNCTIONAL = [
    "softmax", "log_softmax", "softplus", "layer_norm", "group_norm", "normalize",
    "cosine_similarity", "mse_loss", "l1_loss", "kl_div", "nll_loss",
    "binary_cross_entropy_with_logits",
]  # fmt: skip
_TENSOR = [
    "exp", "expm1", "log", "log1p", "rsqrt", "reciprocal", "pow", "__pow__",
    "__rpow__", "__rtruediv__", "softmax", "log_softmax", "logsumexp", "cumsum",
    "cumprod", "prod", "sum", "norm",
]  # fmt: skip
_HALF = (torch.float16, torch.bfloat16)


L = lamina.layers
EXTRA = [
    (lambda: L.RMSNormalization(), (2, 5, 3)),
    (lambda: L.Activation("softplus"), (2, 3)),
    (lambda: L.Activation("exponential"), (2, 3)),
    (lambda: L.Activation("squareplus"), (2, 3)),
    (lambda: L.Activation("sparsemax"), (2, 3)),
    (lambda: L.Dense(3, activation="log_softmax"), (2, 4)),
    (lambda: L.SpectralNormalization(L.Dense(3)), (2, 4)),
    (lambda: L.GroupQueryAttention(2, 2, 1), (2, 4, 3), "two"),
    (lambda: L.Attention(), (2, 4, 3), "list", {"return_attention_scores": True}),
    (
        lambda: L.AdditiveAttention(),
        (2, 4, 3),
        "list",
        {"return_attention_scores": True},
    ),
    (
        lambda: L.MultiHeadAttention(num_heads=2, key_dim=2),
        (2, 4, 3),
        "two",
        {"return_attention_scores": True},
    ),
    (
        lambda: L.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(1, 2)),
        (2, 4, 4, 3),
        "two",
        {"return_attention_scores": True},
    ),
    (
        lambda: L.GroupQueryAttention(2, 2, 1),
        (2, 4, 3),
        "two",
        {"return_attention_scores": True},
    ),
]
ALL = CASES + EXTRA


def _upcasting(fn):
    def upcast(value):
        if isinstance(value, torch.Tensor) and value.dtype in _HALF:
            return value.float()
        return value

    def op(*args, **kwargs):
        if torch.is_autocast_enabled("cpu"):
            args = [upcast(a) for a in args]
            kwargs = {k: upcast(v) for k, v in kwargs.items()}
        return fn(*args, **kwargs)

    return op


@pytest.fixture
def cuda_like_autocast(monkeypatch):
    def switch_on():
        for module, names in (
            (torch, _TORCH),
            (F, _FUNCTIONAL),
            (torch.Tensor, _TENSOR),
        ):
            for name in names:
                monkeypatch.setattr(module, name, _upcasting(getattr(module, name)))

    return switch_on


def _dtypes(out):
    outputs = out if isinstance(out, (list, tuple)) else [out]
    return [t.dtype for t in outputs if isinstance(t, torch.Tensor)]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize(
    "case", ALL, ids=[f"{i}-{c[0]().__class__.__name__}" for i, c in enumerate(ALL)]
)
def test_output_dtypes_do_not_change_where_autocast_upcasts(
    case, policy, cuda_like_autocast
):
    make, shape = case[0], case[1]
    kind = case[2] if len(case) > 2 else "float"
    extra = case[3] if len(case) > 3 else {}
    x = torch.randint(0, 4, shape) if kind == "int" else torch.rand(shape)
    lamina.mixed_precision.set_global_policy(policy)
    layer = make()
    lamina.mixed_precision.set_global_policy(None)
    expected = _dtypes(_call(layer, x, kind, **extra))  # as the CPU computes
    assert expected, "no tensor outputs"
    cuda_like_autocast()
    for training in (False, True):
        kwargs = {"training": training} if layer._call_has_training_arg else {}
        assert _dtypes(_call(layer, x, kind, **kwargs, **extra)) == expected, training
