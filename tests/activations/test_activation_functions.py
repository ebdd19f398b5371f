import math

import numpy as np
import pytest
import torch

from lamina import activations

X = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 8.0]


def values(t):
    return t.detach().cpu().numpy()


def x():
    return torch.tensor(X)


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("relu", [max(v, 0.0) for v in X]),
        ("relu6", [min(max(v, 0.0), 6.0) for v in X]),
        ("sigmoid", [sig(v) for v in X]),
        ("tanh", [math.tanh(v) for v in X]),
        ("linear", X),
        ("elu", [v if v > 0 else math.exp(v) - 1 for v in X]),
        ("softplus", [math.log1p(math.exp(v)) for v in X]),
        ("softsign", [v / (abs(v) + 1) for v in X]),
        ("silu", [v * sig(v) for v in X]),
        ("swish", [v * sig(v) for v in X]),
        ("leaky_relu", [v if v >= 0 else 0.2 * v for v in X]),
        ("exponential", [math.exp(v) for v in X]),
        ("hard_sigmoid", [min(max(v + 3, 0.0), 6.0) / 6 for v in X]),
        ("hard_silu", [v * min(max(v + 3, 0.0), 6.0) / 6 for v in X]),
        ("hard_swish", [v * min(max(v + 3, 0.0), 6.0) / 6 for v in X]),
        ("mish", [v * math.tanh(math.log1p(math.exp(v))) for v in X]),
        ("gelu", [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in X]),
        ("log_sigmoid", [math.log(sig(v)) for v in X]),
        ("tanh_shrink", [v - math.tanh(v) for v in X]),
        ("hard_tanh", [min(max(v, -1.0), 1.0) for v in X]),
        (
            "soft_shrink",
            [v - 0.5 if v > 0.5 else v + 0.5 if v < -0.5 else 0 for v in X],
        ),
        ("hard_shrink", [v if abs(v) > 0.5 else 0.0 for v in X]),
        (
            "sparse_plus",
            [0 if v <= -1 else (v + 1) ** 2 / 4 if v < 1 else v for v in X],
        ),
        ("sparse_sigmoid", [0 if v <= -1 else 1 if v >= 1 else (v + 1) / 2 for v in X]),
        ("squareplus", [(v + math.sqrt(v * v + 4)) / 2 for v in X]),
        ("celu", [v if v > 0 else math.exp(v) - 1 for v in X]),
    ],
)
def test_elementwise_activation_matches_closed_form(name, expected):
    out = activations.get(name)(x())
    np.testing.assert_allclose(values(out), expected, rtol=1e-5, atol=1e-6)


def test_selu_uses_the_self_normalizing_constants():
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    expected = [scale * (v if v > 0 else alpha * (math.exp(v) - 1)) for v in X]
    np.testing.assert_allclose(values(activations.selu(x())), expected, rtol=1e-5)


def test_gelu_approximate_uses_the_tanh_formula():
    c = math.sqrt(2 / math.pi)
    expected = [0.5 * v * (1 + math.tanh(c * (v + 0.044715 * v**3))) for v in X]
    np.testing.assert_allclose(
        values(activations.gelu(x(), approximate=True)), expected, rtol=1e-5, atol=1e-6
    )


def test_elu_alpha_scales_the_negative_part():
    out = activations.elu(torch.tensor([-1.0, 2.0]), alpha=0.5)
    np.testing.assert_allclose(values(out), [0.5 * (math.exp(-1) - 1), 2.0], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"max_value": 2.0}, [0, 0, 0, 0, 0.5, 1, 2, 2]),
        ({"negative_slope": 0.1}, [-0.3, -0.1, -0.05, 0, 0.5, 1, 3, 8]),
        ({"threshold": 1.0}, [0, 0, 0, 0, 0, 0, 3, 8]),
        (
            {"negative_slope": 0.5, "threshold": 1.0},
            [-2.0, -1.0, -0.75, -0.5, -0.25, 0.0, 3, 8],
        ),
        ({"negative_slope": 0.1, "max_value": 6}, [-0.3, -0.1, -0.05, 0, 0.5, 1, 3, 6]),
        ({"max_value": 6}, [0, 0, 0, 0, 0.5, 1, 3, 6]),
    ],
)
def test_relu_options_follow_keras_rules(kwargs, expected):
    np.testing.assert_allclose(
        values(activations.relu(x(), **kwargs)), expected, rtol=1e-6, atol=1e-7
    )


def test_softmax_rows_sum_to_one_with_known_values():
    out = activations.softmax(torch.tensor([[-1.0, 0.0, 1.0]]))
    np.testing.assert_allclose(
        values(out), [[0.09003057, 0.24472847, 0.66524096]], rtol=1e-6
    )


def test_softmax_over_a_tuple_of_axes_normalizes_jointly():
    inp = torch.arange(12.0).reshape(2, 2, 3)
    out = activations.softmax(inp, axis=(1, 2))
    np.testing.assert_allclose(values(out.sum(dim=(1, 2))), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(
        values(out[0]),
        values(torch.softmax(inp[0].reshape(-1), 0).reshape(2, 3)),
        rtol=1e-5,
    )


def test_log_softmax_equals_log_of_softmax():
    inp = torch.tensor([[1.0, 2.0, 5.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        values(activations.log_softmax(inp, axis=-1)),
        np.log(values(activations.softmax(inp))),
        rtol=1e-5,
    )


def test_softmax_over_size_one_axis_warns():
    with pytest.warns(UserWarning, match="size 1"):
        activations.softmax(torch.ones(4, 1))


@pytest.mark.parametrize("fn", [activations.softmax, activations.sigmoid])
def test_probability_outputs_keep_their_logits(fn):
    logits = torch.tensor([[0.5, -1.0, 2.0]])
    out = fn(logits)
    assert out._keras_logits is logits
    assert out._keras_logits_from == fn.__name__


def test_softmax_over_another_axis_labels_its_logits():
    logits = torch.ones(2, 3, 4)
    assert activations.softmax(logits, axis=2)._keras_logits_from == "softmax"
    assert activations.softmax(logits, axis=1)._keras_logits_from == ("softmax(axis=1)")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch
def test_logits_attribute_survives_torch_compile():
    def probs_and_logits(t):
        out = activations.softmax(t)
        return out, out._keras_logits

    compiled = torch.compile(probs_and_logits, backend="eager", fullgraph=True)
    out, logits = compiled(torch.tensor([[1.0, 2.0]]))
    np.testing.assert_allclose(values(logits), [[1.0, 2.0]])


def test_sparsemax_projects_onto_the_simplex():
    out = activations.sparsemax(torch.tensor([[1.0, 0.5], [3.0, 0.0], [0.1, 0.2]]))
    np.testing.assert_allclose(
        values(out), [[0.75, 0.25], [1.0, 0.0], [0.45, 0.55]], rtol=1e-6
    )


def test_glu_gates_first_half_with_sigmoid_of_second():
    out = activations.glu(torch.tensor([[2.0, 0.0]]))
    np.testing.assert_allclose(values(out), [[1.0]])


def test_glu_rejects_odd_axis():
    with pytest.raises(ValueError, match="even"):
        activations.glu(torch.ones(2, 3))


def test_threshold_replaces_values_at_or_below_cutoff():
    out = activations.threshold(torch.tensor([0.5, 1.0, 2.0]), 1.0, -5.0)
    np.testing.assert_allclose(values(out), [-5.0, -5.0, 2.0])


def test_activations_accept_numpy_and_keep_shape():
    out = activations.relu(np.array([[-1.0, 2.0]]))
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(values(out), [[0.0, 2.0]])


def test_activations_run_on_meta_tensors_for_shape_inference():
    meta = torch.empty(2, 5, device="meta")
    for name in ("relu", "softmax", "gelu", "sparsemax", "log_softmax"):
        assert tuple(activations.get(name)(meta).shape) == (2, 5)


def test_activation_gradients_flow():
    inp = torch.tensor([-1.0, 2.0], requires_grad=True)
    activations.relu(inp).sum().backward()
    np.testing.assert_allclose(values(inp.grad), [0.0, 1.0])
