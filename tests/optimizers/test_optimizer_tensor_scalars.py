"""The optimizer update split into host numbers and tensor math, as a compiled train
step runs it: `_host_step_scalars()` -> `_apply_tensors(..., 0-d tensors)` ->
`_finish_update()` must match eager `apply`, and compile into one graph."""

import numpy as np
import pytest
import torch

from lamina import constraints, optimizers
from lamina.optimizers import schedules

SHAPES = [(3, 4), (4,), (4, 2)]
STEPS = 5


def _factory(cls, **defaults):
    """`cls(**defaults)`, with the test's arguments taking precedence."""
    return lambda **kwargs: cls(**{**defaults, **kwargs})


BUILT_INS = {
    "sgd": _factory(optimizers.SGD, learning_rate=0.1),
    "sgd_momentum": _factory(optimizers.SGD, learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": _factory(
        optimizers.SGD, learning_rate=0.1, momentum=0.9, nesterov=True
    ),
    "rmsprop": _factory(optimizers.RMSprop, learning_rate=0.01),
    "rmsprop_centered_momentum": _factory(
        optimizers.RMSprop, learning_rate=0.01, momentum=0.5, centered=True
    ),
    "adam": _factory(optimizers.Adam, learning_rate=0.01),
    "adam_amsgrad": _factory(optimizers.Adam, learning_rate=0.01, amsgrad=True),
    "adamw": _factory(optimizers.AdamW, learning_rate=0.01, weight_decay=0.05),
    "adamax": _factory(optimizers.Adamax, learning_rate=0.01),
    "nadam": _factory(optimizers.Nadam, learning_rate=0.01),
    "adagrad": _factory(optimizers.Adagrad, learning_rate=0.1),
    "adadelta": _factory(optimizers.Adadelta, learning_rate=1.0),
    "lion": _factory(optimizers.Lion, learning_rate=0.01),
}

OPTIONS = {
    "plain": {},
    "weight_decay": {"weight_decay": 0.1},
    "clipnorm": {"clipnorm": 0.5},
    "global_clipnorm": {"global_clipnorm": 0.5},
    "clipvalue": {"clipvalue": 0.2},
    "loss_scale": {"loss_scale_factor": 8.0},
    "schedule": {
        "learning_rate": schedules.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.5)
    },
}


def _variables(constrained=False):
    generator = torch.Generator().manual_seed(1)
    variables = [
        torch.nn.Parameter(torch.randn(shape, generator=generator)) for shape in SHAPES
    ]
    if constrained:
        variables[1].constraint = constraints.NonNeg()
    return variables


def _gradients(step):
    generator = torch.Generator().manual_seed(100 + step)
    return [torch.randn(shape, generator=generator) for shape in SHAPES]


def _pair(make, kwargs, constrained=False):
    """Two identically configured optimizers, each built on its own weights."""
    eager, split = make(**kwargs), make(**kwargs)
    eager_vars, split_vars = _variables(constrained), _variables(constrained)
    eager.build(eager_vars)
    split.build(split_vars)
    return eager, eager_vars, split, split_vars


def _as_tensors(scalars):
    return tuple(torch.tensor(s) for s in scalars)


def _assert_same_state(eager, eager_vars, split, split_vars):
    for a, b in zip(eager_vars, split_vars):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=1e-6)
    eager_state, split_state = eager.variables, split.variables
    assert len(eager_state) == len(split_state)
    for a, b in zip(eager_state, split_state):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-6)


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_split_update_with_tensor_scalars_matches_eager_apply(name, option):
    eager, eager_vars, split, split_vars = _pair(BUILT_INS[name], OPTIONS[option])
    for step in range(STEPS):
        eager.apply(_gradients(step))
        scalars = split._host_step_scalars()
        assert all(isinstance(s, float) for s in scalars)
        with torch.no_grad():
            split._apply_tensors(
                _gradients(step), split_vars, None, _as_tensors(scalars)
            )
        split._finish_update()
    assert int(split.iterations) == STEPS
    _assert_same_state(eager, eager_vars, split, split_vars)
    # Not a trivial pass: the weights moved.
    moved = _variables()
    assert any(not torch.allclose(a, b) for a, b in zip(split_vars, moved)), (
        "the optimizer did not change the weights"
    )


def test_split_update_applies_constraints_and_skips_excluded_decay():
    make = BUILT_INS["adamw"]
    eager, eager_vars, split, split_vars = _pair(make, {}, constrained=True)
    eager.exclude_from_weight_decay(var_list=[eager_vars[0]])
    split.exclude_from_weight_decay(var_list=[split_vars[0]])
    for step in range(STEPS):
        eager.apply(_gradients(step))
        scalars = _as_tensors(split._host_step_scalars())
        with torch.no_grad():
            split._apply_tensors(_gradients(step), split_vars, None, scalars)
        split._finish_update()
    _assert_same_state(eager, eager_vars, split, split_vars)
    assert bool((split_vars[1] >= 0).all())


def test_nadam_host_scalars_advance_the_momentum_product_once_per_update():
    opt = optimizers.Nadam(learning_rate=0.01)
    opt.build(_variables())
    first = opt._host_step_scalars()
    opt._finish_update()
    second = opt._host_step_scalars()
    u1 = np.float32(0.9) * (1 - np.float32(0.5) * np.float32(0.96))
    u2 = np.float32(0.9) * (1 - np.float32(0.5) * np.float32(0.96) ** 2)
    # (lr, u_next, 1 - P*u_next, 1 - u_t, 1 - P, 1 - b2**t)
    np.testing.assert_allclose(first[3], 1 - u1, rtol=1e-6)
    np.testing.assert_allclose(second[4], 1 - u1 * u2, rtol=1e-6)
    np.testing.assert_allclose(opt._u_product_value, u1 * u2, rtol=1e-6)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("adam", {"weight_decay": 0.1, "global_clipnorm": 1.0}),
        (
            "nadam",
            {
                "learning_rate": schedules.ExponentialDecay(
                    0.05, decay_steps=1, decay_rate=0.5
                )
            },
        ),
    ],
)
def test_compiled_apply_tensors_matches_eager_and_compiles_once(name, kwargs):
    torch._dynamo.reset()
    eager, eager_vars, split, split_vars = _pair(BUILT_INS[name], kwargs)

    def update(grads, scalars):
        with torch.no_grad():
            split._apply_tensors(grads, split_vars, None, scalars)

    compiled = torch.compile(update, fullgraph=True, backend="aot_eager")
    graphs_before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    with torch._dynamo.config.patch(error_on_recompile=True):
        for step in range(STEPS):
            eager.apply(_gradients(step))
            compiled(_gradients(step), _as_tensors(split._host_step_scalars()))
            split._finish_update()
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"] - graphs_before
    assert graphs == 1
    _assert_same_state(eager, eager_vars, split, split_vars)


class _UpdateStepSGD(optimizers.Optimizer):
    """A user optimizer written the Keras way, one variable at a time."""

    def update_step(self, gradient, variable, learning_rate):
        self.assign_sub(variable, gradient * learning_rate)


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_compiled_update_supported_for_built_ins(name):
    assert BUILT_INS[name]()._compiled_update_supported() is True


def test_compiled_update_supported_for_subclass_of_a_built_in():
    class MyAdam(optimizers.Adam):
        pass

    assert MyAdam()._compiled_update_supported() is True


@pytest.mark.parametrize(
    "kwargs",
    [{"gradient_accumulation_steps": 2}, {"use_ema": True}],
    ids=["accumulation", "ema"],
)
def test_compiled_update_not_supported_with_host_decided_steps(kwargs):
    assert optimizers.Adam(**kwargs)._compiled_update_supported() is False


def test_compiled_update_not_supported_for_update_step_subclass():
    opt = _UpdateStepSGD(learning_rate=0.1)
    assert opt._compiled_update_supported() is False
    # It still trains eagerly through the same split pieces.
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt.apply([torch.tensor([1.0, -1.0])], [w])
    np.testing.assert_allclose(w.detach().numpy(), [0.9, 2.1], rtol=1e-6)
