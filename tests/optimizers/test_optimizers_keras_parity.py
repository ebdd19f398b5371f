"""Same weights and gradients in, same weights, state and configs out as Keras 3."""

import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina import optimizers  # noqa: E402
from lamina.optimizers import schedules  # noqa: E402

# Keras's torch backend calls np.array(torch_tensor), which NumPy 2 flags with a
# DeprecationWarning under this torch; it is Keras's, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

SHAPES = [(3, 4), (4,), (2, 2, 3)]
NAMES = ["dense_kernel", "dense_bias", "conv_kernel"]
RNG = np.random.default_rng(1234)
INITIAL = [RNG.standard_normal(s).astype("float32") for s in SHAPES]
GRADIENTS = [
    [RNG.standard_normal(s).astype("float32") for s in SHAPES] for _ in range(5)
]


def _np(x):
    x = getattr(x, "value", x)
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _schedule(module):
    return module.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)


# (class name, constructor kwargs; a callable value gets the schedules module)
CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.9, "centered": True}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True}),
    ("Adam", {"weight_decay": 0.1}),
    ("AdamW", {}),
    ("Adagrad", {}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adamax", {}),
    ("Nadam", {}),
    ("Lion", {}),
    ("Adam", {"clipnorm": 0.5}),
    ("Adam", {"clipvalue": 0.3}),
    ("Adam", {"global_clipnorm": 1.0}),
    ("SGD", {"learning_rate": 0.1, "loss_scale_factor": 4.0}),
    ("SGD", {"learning_rate": _schedule, "momentum": 0.5}),
    ("Adam", {"learning_rate": _schedule, "weight_decay": 0.05}),
    ("Adam", {"use_ema": True, "ema_overwrite_frequency": 2}),
    ("Nadam", {"gradient_accumulation_steps": 2}),
]


def _kwargs(kwargs, schedules_module):
    return {k: v(schedules_module) if callable(v) else v for k, v in kwargs.items()}


def _keras_run(name, kwargs, steps):
    opt = getattr(keras.optimizers, name)(
        name="opt", **_kwargs(kwargs, keras.optimizers.schedules)
    )
    variables = [keras.Variable(w, name=n) for w, n in zip(INITIAL, NAMES)]
    for grads in GRADIENTS[:steps]:
        opt.apply_gradients(
            zip([keras.ops.convert_to_tensor(g) for g in grads], variables)
        )
    return opt, [_np(v) for v in variables]


def _lamina_params():
    params = [torch.nn.Parameter(torch.tensor(w)) for w in INITIAL]
    for p, n in zip(params, NAMES):
        p.path = n
    return params


def _lamina_steps(opt, params, gradients):
    for grads in gradients:
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        opt.step()


def _lamina_run(name, kwargs, steps):
    opt = getattr(optimizers, name)(name="opt", **_kwargs(kwargs, schedules))
    params = _lamina_params()
    opt.build(params)
    _lamina_steps(opt, params, GRADIENTS[:steps])
    return opt, [p.detach().numpy() for p in params]


def _case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}" for k in kwargs)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_five_steps_give_the_same_weights_and_state(case):
    name, kwargs = case
    keras_opt, keras_weights = _keras_run(name, kwargs, 5)
    lamina_opt, lamina_weights = _lamina_run(name, kwargs, 5)
    for k, lam in zip(keras_weights, lamina_weights):
        np.testing.assert_allclose(lam, k, rtol=1e-6, atol=1e-7)
    keras_vars = keras_opt.variables
    lamina_vars = lamina_opt.variables
    assert [tuple(v.shape) for v in lamina_vars] == [tuple(v.shape) for v in keras_vars]
    # Keras numbers Nadam's unnamed scalar "variable", "variable_1", ... per session.
    assert [v.path for v in lamina_vars] == [
        re.sub(r"variable_\d+$", "variable", v.path) for v in keras_vars
    ]
    for k, lam in zip(keras_vars, lamina_vars):
        np.testing.assert_allclose(lam.numpy(), _np(k), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_get_config_matches_keras(case):
    name, kwargs = case
    keras_opt = getattr(keras.optimizers, name)(
        name="opt", **_kwargs(kwargs, keras.optimizers.schedules)
    )
    lamina_opt = getattr(optimizers, name)(name="opt", **_kwargs(kwargs, schedules))
    assert lamina_opt.get_config() == keras_opt.get_config()


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[0] != "Lion"][:14], ids=_case_id
)
def test_state_saved_by_keras_resumes_in_lamina(case):
    name, kwargs = case
    keras_opt, keras_weights = _keras_run(name, kwargs, 3)
    store = {}
    keras_opt.save_own_variables(store)
    lamina_opt = getattr(optimizers, name)(name="opt", **_kwargs(kwargs, schedules))
    params = [torch.nn.Parameter(torch.tensor(w)) for w in keras_weights]
    lamina_opt.build(params)
    lamina_opt.load_own_variables(store)
    _lamina_steps(lamina_opt, params, GRADIENTS[3:5])
    _, expected = _keras_run(name, kwargs, 5)
    for k, p in zip(expected, params):
        np.testing.assert_allclose(p.detach().numpy(), k, rtol=1e-6, atol=1e-7)


def test_state_saved_by_lamina_loads_into_keras():
    lamina_opt, lamina_weights = _lamina_run("Nadam", {}, 3)
    store = {}
    lamina_opt.save_own_variables(store)
    keras_opt = keras.optimizers.Nadam(name="opt")
    variables = [keras.Variable(w, name=n) for w, n in zip(lamina_weights, NAMES)]
    keras_opt.build(variables)
    keras_opt.load_own_variables(store)
    assert int(_np(keras_opt.iterations)) == 3
    for grads in GRADIENTS[3:5]:
        keras_opt.apply_gradients(
            zip([keras.ops.convert_to_tensor(g) for g in grads], variables)
        )
    _, expected = _lamina_run("Nadam", {}, 5)
    for v, lam in zip(variables, expected):
        np.testing.assert_allclose(_np(v), lam, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["SGD", "Adam", "Nadam", "RMSprop"])
def test_keras_serialized_optimizer_deserializes_in_lamina(name):
    keras_opt = getattr(keras.optimizers, name)(
        learning_rate=keras.optimizers.schedules.CosineDecay(0.1, 10), name="opt"
    )
    rebuilt = optimizers.deserialize(keras.optimizers.serialize(keras_opt))
    assert type(rebuilt).__name__ == name
    assert rebuilt.get_config() == keras_opt.get_config()


def test_lamina_serialized_optimizer_deserializes_in_keras():
    opt = optimizers.AdamW(learning_rate=0.01, clipnorm=1.0, name="opt")
    keras_opt = keras.optimizers.deserialize(optimizers.serialize(opt))
    assert keras_opt.get_config() == opt.get_config()


SCHEDULE_PAIRS = [
    ("ExponentialDecay", (0.1, 3, 0.7), {}),
    ("ExponentialDecay", (0.1, 3, 0.7), {"staircase": True}),
    ("PiecewiseConstantDecay", ([2, 5], [0.3, 0.2, 0.1]), {}),
    ("PolynomialDecay", (0.1, 6), {"power": 0.5}),
    ("PolynomialDecay", (0.1, 4), {"cycle": True, "end_learning_rate": 0.01}),
    ("InverseTimeDecay", (0.1, 2, 0.3), {}),
    ("InverseTimeDecay", (0.1, 2, 0.3), {"staircase": True}),
    ("CosineDecay", (0.1, 8), {"alpha": 0.2}),
    ("CosineDecay", (0.01, 8), {"warmup_target": 0.1, "warmup_steps": 3}),
    ("CosineDecayRestarts", (0.1, 3), {}),
    ("CosineDecayRestarts", (0.1, 3), {"t_mul": 1.0, "m_mul": 0.8, "alpha": 0.1}),
    ("CosineDecayRestarts", (0.1, 4), {"t_mul": 1.5, "m_mul": 0.5}),
]


@pytest.mark.parametrize(
    "name, args, kwargs",
    SCHEDULE_PAIRS,
    ids=[p[0] + "".join("-" + k for k in p[2]) for p in SCHEDULE_PAIRS],
)
def test_schedules_match_keras(name, args, kwargs):
    keras_schedule = getattr(keras.optimizers.schedules, name)(*args, **kwargs)
    lamina_schedule = getattr(schedules, name)(*args, **kwargs)
    assert lamina_schedule.get_config() == keras_schedule.get_config()
    assert schedules.serialize(lamina_schedule) == keras.optimizers.schedules.serialize(
        keras_schedule
    )
    for step in (0, 1, 2, 3, 5, 6, 8, 11, 13, 21, 40, 100):
        expected = float(_np(keras_schedule(step)))
        assert lamina_schedule(step) == pytest.approx(expected, rel=1e-5, abs=1e-9)
        tensor = lamina_schedule(torch.tensor(step))
        assert tensor.item() == pytest.approx(expected, rel=1e-5, abs=1e-9)
