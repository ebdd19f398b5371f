"""Ftrl, Lamb, Adafactor, Muon, ScheduleFreeAdamW and LossScaleOptimizer against
Keras 3: same weights and gradients in, same weights, state and configs out."""

import doctest
import importlib
import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402
from lamina import optimizers  # noqa: E402
from lamina.optimizers import schedules  # noqa: E402
from tests.optimizers.test_optimizers_keras_parity import (  # noqa: E402
    GRADIENTS,
    INITIAL,
    NAMES,
    _case_id,
    _keras_run,
    _kwargs,
    _lamina_params,
    _lamina_run,
    _lamina_steps,
    _np,
    _schedule,
)

pytestmark = [
    pytest.mark.usefixtures("values_on_cpu"),  # values read with .numpy()
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]

# INITIAL / GRADIENTS hold a 2-D (3, 4), a 1-D (4,) and a 3-D (2, 2, 3) weight.
CASES = [
    ("Ftrl", {"learning_rate": 0.1}),
    (
        "Ftrl",
        {
            "learning_rate": 0.1,
            "l1_regularization_strength": 0.3,
            "l2_regularization_strength": 0.2,
            "l2_shrinkage_regularization_strength": 0.1,
            "beta": 0.5,
        },
    ),
    ("Ftrl", {"learning_rate": _schedule, "learning_rate_power": 0.0}),
    ("Ftrl", {"learning_rate": 0.1, "weight_decay": 0.05, "clipnorm": 0.5}),
    ("Lamb", {"learning_rate": 0.05}),
    ("Lamb", {"learning_rate": 0.05, "weight_decay": 0.1, "clipnorm": 0.5}),
    ("Lamb", {"learning_rate": _schedule, "global_clipnorm": 1.0}),
    ("Adafactor", {"learning_rate": 0.05}),
    ("Adafactor", {"learning_rate": 0.5, "clip_threshold": 0.5}),
    ("Adafactor", {"learning_rate": _schedule, "weight_decay": 0.1}),
    ("Adafactor", {"learning_rate": 0.05, "clipvalue": 0.3}),
    ("Muon", {"learning_rate": 0.05}),
    ("Muon", {"learning_rate": 0.05, "nesterov": False, "rms_rate": None}),
    (
        "Muon",
        {"learning_rate": _schedule, "weight_decay": None, "adam_lr_ratio": 0.5},
    ),
    ("Muon", {"learning_rate": 0.05, "exclude_layers": ["dense"], "clipnorm": 0.5}),
    ("Muon", {"learning_rate": 0.05, "adam_weight_decay": None, "ns_steps": 3}),
]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_five_steps_give_the_same_weights_and_state(case):
    name, kwargs = case
    keras_opt, keras_weights = _keras_run(name, kwargs, 5)
    lamina_opt, lamina_weights = _lamina_run(name, kwargs, 5)
    for k, lam in zip(keras_weights, lamina_weights):
        np.testing.assert_allclose(lam, k, rtol=1e-5, atol=1e-6)
    keras_vars, lamina_vars = keras_opt.variables, lamina_opt.variables
    assert [tuple(v.shape) for v in lamina_vars] == [tuple(v.shape) for v in keras_vars]
    assert [v.path for v in lamina_vars] == [v.path for v in keras_vars]
    for k, lam in zip(keras_vars, lamina_vars):
        np.testing.assert_allclose(lam.cpu().numpy(), _np(k), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_get_config_matches_keras(case):
    name, kwargs = case
    keras_opt = getattr(keras.optimizers, name)(
        name="opt", **_kwargs(kwargs, keras.optimizers.schedules)
    )
    lamina_opt = getattr(optimizers, name)(name="opt", **_kwargs(kwargs, schedules))
    assert lamina_opt.get_config() == keras_opt.get_config()


@pytest.mark.parametrize("name", ["Ftrl", "Lamb", "Adafactor", "Muon"])
def test_state_saved_by_keras_resumes_in_lamina(name):
    kwargs = {"learning_rate": 0.05}
    keras_opt, keras_weights = _keras_run(name, kwargs, 3)
    store = {}
    keras_opt.save_own_variables(store)
    lamina_opt = getattr(optimizers, name)(name="opt", **kwargs)
    params = _lamina_params()
    with torch.no_grad():
        for p, w in zip(params, keras_weights):
            p.copy_(torch.tensor(w))
    lamina_opt.build(params)
    lamina_opt.load_own_variables(store)
    _lamina_steps(lamina_opt, params, GRADIENTS[3:5])
    _, expected = _keras_run(name, kwargs, 5)
    for k, p in zip(expected, params):
        np.testing.assert_allclose(p.detach().numpy(), k, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_state_saved_by_lamina_resumes_in_keras(name):
    kwargs = {"learning_rate": 0.05}
    lamina_opt, lamina_weights = _lamina_run(name, kwargs, 3)
    store = {}
    lamina_opt.save_own_variables(store)
    keras_opt = getattr(keras.optimizers, name)(name="opt", **kwargs)
    variables = [keras.Variable(w, name=n) for w, n in zip(lamina_weights, NAMES)]
    keras_opt.build(variables)
    keras_opt.load_own_variables(store)
    assert int(_np(keras_opt.iterations)) == 3
    for grads in GRADIENTS[3:5]:
        keras_opt.apply_gradients(
            zip([keras.ops.convert_to_tensor(g) for g in grads], variables)
        )
    _, expected = _lamina_run(name, kwargs, 5)
    for v, lam in zip(variables, expected):
        np.testing.assert_allclose(_np(v), lam, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["Ftrl", "Lamb", "Adafactor", "Muon"])
@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_steps_without_a_gradient_for_some_weights_match_keras(name):
    keras_opt = getattr(keras.optimizers, name)(learning_rate=0.05, name="opt")
    keras_vars = [keras.Variable(w, name=n) for w, n in zip(INITIAL, NAMES)]
    lamina_opt = getattr(optimizers, name)(learning_rate=0.05, name="opt")
    params = _lamina_params()
    for step, grads in enumerate(GRADIENTS):
        grads = [None if step % 2 and i == 0 else g for i, g in enumerate(grads)]
        keras_opt.apply(
            [None if g is None else keras.ops.convert_to_tensor(g) for g in grads],
            keras_vars,
        )
        lamina_opt.apply(
            [None if g is None else torch.tensor(g) for g in grads], params
        )
    for k, p in zip(keras_vars, params):
        np.testing.assert_allclose(p.detach().numpy(), _np(k), rtol=1e-5, atol=1e-6)
    for k, lam in zip(keras_opt.variables, lamina_opt.variables):
        np.testing.assert_allclose(lam.numpy(), _np(k), rtol=1e-5, atol=1e-6)


def test_muon_sends_embeddings_and_excluded_layers_to_adamw():
    opt = optimizers.Muon()
    shapes_paths = [
        ((4, 3), "dense/kernel"),
        ((10, 4), "embedding/embeddings"),
        ((4, 3), "head/kernel"),
        ((3,), "dense/bias"),
    ]
    params = []
    for shape, path in shapes_paths:
        p = torch.nn.Parameter(torch.zeros(shape))
        p.path = path
        params.append(p)
    opt.exclude_layers = ["head"]
    opt.build(params)
    assert [v is not None for v in opt.adam_velocities] == [False, True, True, True]
    # Keras's order: each weight's momentum, then its velocity if AdamW.
    assert [v.path for v in opt.variables[2:5]] == [
        "muon/dense_kernel_momentum",
        "muon/embedding_embeddings_momentum",
        "muon/embedding_embeddings_velocity",
    ]


def test_muon_orthogonalizes_like_keras_for_tall_and_wide_matrices():
    rng = np.random.default_rng(3)
    keras_opt, lamina_opt = keras.optimizers.Muon(), optimizers.Muon()
    for shape in [(5, 3), (3, 5), (2, 4, 3)]:
        x = rng.standard_normal(shape).astype("float32")
        expected = _np(keras_opt.zeropower_via_newtonschulz5(keras.ops.array(x), 5))
        got = lamina_opt.zeropower_via_newtonschulz5(torch.tensor(x), 5)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        lamina_opt.zeropower_via_newtonschulz5(torch.ones(3), 5)


def _schedule_free_reference(kwargs, steps):
    """Keras's ScheduleFreeAdamW.update_step in NumPy float32, with `momentum_old`
    read before the update (the JAX/TensorFlow/NumPy backends' behaviour)."""
    f = np.float32
    lr, b1, b2 = f(kwargs.get("learning_rate", 0.0025)), f(0.9), f(0.999)
    eps, warmup = f(1e-8), kwargs.get("warmup_steps", 0)
    ys = [w.copy() for w in INITIAL]
    zs = [w.copy() for w in INITIAL]
    vs = [np.zeros_like(w) for w in INITIAL]
    for t, grads in enumerate(GRADIENTS[:steps], start=1):
        step_lr = lr * min(f(t) / f(warmup), f(1)) if warmup else lr
        for y, z, v, g in zip(ys, zs, vs, grads):
            z_old = z.copy()
            v += (g * g - v) * (f(1) - b2)
            z -= step_lr * g / (np.sqrt(v / (f(1) - b2 ** f(t))) + eps)
            w = f(1) / f(t)
            x = (f(1) - w) * ((y - (f(1) - b1) * z_old) / b1) + w * z
            y[...] = (f(1) - b1) * z + b1 * x
    return ys, zs, vs


@pytest.mark.parametrize("kwargs", [{"learning_rate": 0.1}, {"warmup_steps": 3}])
def test_schedule_free_adamw_follows_the_keras_update_rule(kwargs):
    lamina_opt, weights = _lamina_run("ScheduleFreeAdamW", kwargs, 5)
    ys, zs, vs = _schedule_free_reference(kwargs, 5)
    for got, expected in zip(weights, ys):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    slots = lamina_opt.variables[2:]
    for k, expected in enumerate(zip(zs, vs)):
        for slot, value in zip(slots[2 * k : 2 * k + 2], expected):
            np.testing.assert_allclose(slot.numpy(), value, rtol=1e-5, atol=1e-6)


def test_schedule_free_adamw_state_layout_and_config_match_keras():
    keras_opt, _ = _keras_run("ScheduleFreeAdamW", {"warmup_steps": 2}, 1)
    lamina_opt, _ = _lamina_run("ScheduleFreeAdamW", {"warmup_steps": 2}, 1)
    assert [v.path for v in lamina_opt.variables] == [
        v.path for v in keras_opt.variables
    ]
    assert lamina_opt.get_config() == keras_opt.get_config()
    # One step (t = 1) makes y = z, the same in either reading of z_old.
    for k, lam in zip(keras_opt.variables[2:], lamina_opt.variables[2:]):
        np.testing.assert_allclose(lam.numpy(), _np(k), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "name", ["ftrl", "Lamb", "adafactor", "muon", "schedulefreeadamw"]
)
def test_string_names_resolve(name):
    opt = optimizers.get(name)
    assert type(opt).__name__.lower() == name.lower()


@pytest.mark.parametrize("name", ["Ftrl", "Adafactor", "Muon", "ScheduleFreeAdamW"])
def test_keras_serialized_optimizer_deserializes_in_lamina(name):
    keras_opt = getattr(keras.optimizers, name)(learning_rate=0.01, name="opt")
    rebuilt = optimizers.deserialize(keras.optimizers.serialize(keras_opt))
    assert type(rebuilt).__name__ == name
    assert rebuilt.get_config() == keras_opt.get_config()


@pytest.mark.parametrize("name", ["LossScaleOptimizer", "multioptimizer"])
def test_wrapper_names_alone_ask_for_an_instance(name):
    with pytest.raises(ValueError, match="wraps other optimizers.*pass an instance"):
        optimizers.get(name)


def test_ftrl_rejects_bad_arguments():
    with pytest.raises(ValueError, match="learning_rate_power.*negative or zero"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        optimizers.Ftrl(l1_regularization_strength=-1.0)


# ------------------------------------------------------------ LossScaleOptimizer


def _scale_pair(initial_scale=8.0, dynamic_growth_steps=2):
    k = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(learning_rate=0.05, name="adam"),
        initial_scale=initial_scale,
        dynamic_growth_steps=dynamic_growth_steps,
        name="lso",
    )
    lam = optimizers.LossScaleOptimizer(
        optimizers.Adam(learning_rate=0.05, name="adam"),
        initial_scale=initial_scale,
        dynamic_growth_steps=dynamic_growth_steps,
        name="lso",
    )
    return k, lam


def _scaled_gradients(scale):
    steps = [[g * scale for g in grads] for grads in GRADIENTS[:5]]
    steps[2] = [g.copy() for g in steps[2]]
    steps[2][1][0] = np.inf  # a step to skip
    return steps


def test_loss_scale_optimizer_matches_keras_through_growth_and_a_skipped_step():
    keras_opt, lamina_opt = _scale_pair()
    keras_vars = [keras.Variable(w, name=n) for w, n in zip(INITIAL, NAMES)]
    params = _lamina_params()
    scale = 8.0
    for grads in _scaled_gradients(1.0):
        keras_loss = keras_opt.scale_loss(keras.ops.convert_to_tensor(1.0))
        lamina_loss = lamina_opt.scale_loss(torch.tensor(1.0))
        assert float(_np(keras_loss)) == float(lamina_loss) == scale
        scaled = [g * np.float32(scale) for g in grads]
        keras_opt.apply([keras.ops.convert_to_tensor(g) for g in scaled], keras_vars)
        lamina_opt.apply([torch.tensor(g) for g in scaled], params)
        scale = float(_np(keras_opt.dynamic_scale))
        assert float(lamina_opt.dynamic_scale) == scale
    for k, p in zip(keras_vars, params):
        np.testing.assert_allclose(p.detach().numpy(), _np(k), rtol=1e-6, atol=1e-7)
    assert int(lamina_opt.iterations) == int(_np(keras_opt.iterations)) == 4
    keras_state, lamina_state = keras_opt.variables, lamina_opt.variables
    # Keras builds the inner slots inside the wrapper's name scope when apply()
    # builds them ("lso/adam/..."); the paths are not saved, only the order.
    assert [v.path for v in lamina_state] == [
        re.sub("^lso/adam/", "adam/", v.path) for v in keras_state
    ]
    for k, lam in zip(keras_state, lamina_state):
        np.testing.assert_allclose(lam.cpu().numpy(), _np(k), rtol=1e-6, atol=1e-7)


def test_loss_scale_optimizer_step_unscales_grads_in_place_and_skips_nonfinite():
    opt = optimizers.LossScaleOptimizer(optimizers.SGD(0.5), initial_scale=4.0)
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt.build([w])
    opt.scale_loss((w * torch.tensor([1.0, 2.0])).sum()).backward()  # 4 * loss
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 1.0])
    opt.scale_loss(w.sum()).backward()
    w.grad = torch.tensor([np.nan, 1.0])
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 1.0])
    assert float(opt.dynamic_scale) == 2.0 and int(opt.step_counter) == 0
    assert int(opt.iterations) == 1
    w.grad = torch.tensor([1.0, 1.0])  # backward of a loss never scaled
    with pytest.raises(ValueError, match="without scale_loss"):
        opt.step()


def test_loss_scale_optimizer_apply_leaves_the_callers_gradients_alone():
    opt = optimizers.LossScaleOptimizer(optimizers.SGD(1.0), initial_scale=2.0)
    w = torch.nn.Parameter(torch.tensor([1.0]))
    grad = torch.tensor([2.0])
    opt.apply([grad], [w])
    assert grad.item() == 2.0 and w.item() == 0.0


def test_loss_scale_optimizer_state_loads_both_ways():
    keras_opt, lamina_opt = _scale_pair(initial_scale=64.0, dynamic_growth_steps=10)
    keras_vars = [keras.Variable(w, name=n) for w, n in zip(INITIAL, NAMES)]
    for grads in GRADIENTS[:3]:
        keras_opt.apply([keras.ops.convert_to_tensor(g) for g in grads], keras_vars)
    store = {}
    keras_opt.save_own_variables(store)
    params = _lamina_params()
    lamina_opt.build(params)
    lamina_opt.load_own_variables(store)
    assert int(lamina_opt.step_counter) == 3 and int(lamina_opt.iterations) == 3
    assert lamina_opt.inner_optimizer._step_count == 3
    back = {}
    lamina_opt.save_own_variables(back)
    fresh, _ = _scale_pair(initial_scale=1.0, dynamic_growth_steps=10)
    fresh.build([keras.Variable(w, name=n) for w, n in zip(INITIAL, NAMES)])
    fresh.load_own_variables(back)
    for k, lam in zip(keras_opt.variables, fresh.variables):
        np.testing.assert_allclose(_np(lam), _np(k))


def test_loss_scale_optimizer_config_round_trips_with_keras():
    keras_opt, lamina_opt = _scale_pair(initial_scale=1024.0)
    keras_config, lamina_config = keras_opt.get_config(), lamina_opt.get_config()
    assert (
        keras_config["inner_optimizer"]["config"]
        == (lamina_config["inner_optimizer"]["config"])
    )
    for key in ("name", "initial_scale", "dynamic_growth_steps"):
        assert lamina_config[key] == keras_config[key]
    rebuilt = optimizers.deserialize(keras.optimizers.serialize(keras_opt))
    assert isinstance(rebuilt, optimizers.LossScaleOptimizer)
    assert isinstance(rebuilt.inner_optimizer, optimizers.Adam)
    assert rebuilt.get_config() == lamina_config
    in_keras = keras.optimizers.deserialize(optimizers.serialize(lamina_opt))
    assert (
        in_keras.get_config()["inner_optimizer"]["config"]
        == (lamina_config["inner_optimizer"]["config"])
    )


def test_loss_scale_optimizer_is_exported_by_mixed_precision():
    assert lamina.mixed_precision.LossScaleOptimizer is optimizers.LossScaleOptimizer


def test_loss_scale_optimizer_rejects_arguments_for_the_inner_optimizer():
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic=False"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), dynamic=False)
    with pytest.raises(TypeError, match="inner_optimizer.*Optimizer"):
        optimizers.LossScaleOptimizer("adam")


# ------------------------------------------------------------------ fit, compiled


def _classifier(optimizer, jit_compile=False, one_weight=False):
    lamina.utils.set_random_seed(0)
    head = lamina.layers.Dense(
        3, activation="softmax", use_bias=not one_weight, name="head"
    )
    hidden = [] if one_weight else [lamina.layers.Dense(8, activation="relu")]
    model = lamina.Sequential([lamina.Input((6,)), *hidden, head])
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    return model


def _data():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((48, 6)).astype("float32"),
        rng.integers(0, 3, 48).astype("int64"),
    )


@pytest.mark.parametrize(
    "name", ["ftrl", "lamb", "adafactor", "muon", "schedulefreeadamw"]
)
def test_fit_lowers_the_loss(name):
    optimizer = optimizers.get(name)
    optimizer.learning_rate = 0.05
    model = _classifier(optimizer)
    x, y = _data()
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


COMPILED = {
    "ftrl": lambda: optimizers.Ftrl(0.1, l1_regularization_strength=0.01, beta=0.1),
    "lamb": lambda: optimizers.Lamb(schedules.ExponentialDecay(0.05, 3, 0.5)),
    "adafactor": lambda: optimizers.Adafactor(0.05, weight_decay=0.01),
    "muon": lambda: optimizers.Muon(0.05, exclude_layers=["head"], clipnorm=1.0),
    "schedule_free": lambda: optimizers.ScheduleFreeAdamW(0.01, warmup_steps=2),
    # One weight: one-tensor foreach lists, which inductor's C++ wrapper
    # crashed on (torch 2.13, CPU).
    "lamb-one-weight": lambda: optimizers.Lamb(0.05),
    "adafactor-one-weight": lambda: optimizers.Adafactor(0.05),
}


@pytest.mark.parametrize("name", list(COMPILED))
def test_compiled_whole_step_matches_eager(name):
    try:
        torch.compile(lambda t: t + 1)(torch.ones(1))
    except Exception as error:  # noqa: BLE001 - any failure means "unavailable"
        pytest.skip(f"torch.compile is unavailable here ({type(error).__name__})")
    x, y = _data()
    one_weight = name.endswith("one-weight")
    eager = _classifier(COMPILED[name](), one_weight=one_weight)
    jit = _classifier(COMPILED[name](), jit_compile=True, one_weight=one_weight)
    jit.set_weights(eager.get_weights())
    kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    history_eager = eager.fit(x, y, **kwargs).history
    history_jit = jit.fit(x, y, **kwargs).history
    assert jit._whole_step.ready, jit._whole_step.reason
    for a, b in zip(eager.get_weights(), jit.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(eager.optimizer.variables, jit.optimizer.variables):
        np.testing.assert_allclose(
            a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(
        history_eager["loss"], history_jit["loss"], rtol=1e-5, atol=1e-7
    )


def test_loss_scale_optimizer_keeps_the_train_step_eager():
    assert not optimizers.LossScaleOptimizer(
        optimizers.Adam()
    )._compiled_update_supported()


@pytest.mark.parametrize(
    "module_name",
    [
        "lamina.optimizers.ftrl",
        "lamina.optimizers.lamb",
        "lamina.optimizers.adafactor",
        "lamina.optimizers.muon",
        "lamina.optimizers.schedule_free_adamw",
        "lamina.optimizers.loss_scale_optimizer",
        "lamina.optimizers.multi_optimizer",
    ],
)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS, extraglobs={"lamina": lamina}
    )
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------ MultiOptimizer, OptimizerMap


def _multi(module):
    table = module.OptimizerMap(
        module.Adam(learning_rate=0.05, name="adam"),
        {"dense_b.*": module.SGD(0.1, momentum=0.9, name="sgd")},
    )
    table["conv_kernel"] = module.Lamb(learning_rate=0.05, name="lamb")
    return module.MultiOptimizer(table, name="multi")


def test_multi_optimizer_matches_keras():
    keras_opt, lamina_opt = _multi(keras.optimizers), _multi(optimizers)
    keras_vars = [keras.Variable(w, name=n) for w, n in zip(INITIAL, NAMES)]
    params = _lamina_params()
    for grads in GRADIENTS[:3]:
        keras_opt.apply([keras.ops.convert_to_tensor(g) for g in grads], keras_vars)
        lamina_opt.apply([torch.tensor(g) for g in grads], params)
    for k, p in zip(keras_vars, params):
        np.testing.assert_allclose(p.detach().numpy(), _np(k), rtol=1e-6, atol=1e-7)
    assert [type(o).__name__ for o in lamina_opt.optimizers] == ["SGD", "Lamb", "Adam"]
    keras_state, lamina_state = keras_opt.variables, lamina_opt.variables
    assert [v.path for v in lamina_state] == [v.path for v in keras_state]
    for k, lam in zip(keras_state, lamina_state):
        np.testing.assert_allclose(lam.cpu().numpy(), _np(k), rtol=1e-6, atol=1e-7)
    assert int(lamina_opt.iterations) == 3
    with pytest.raises(AttributeError, match="no learning rate of its own"):
        _ = lamina_opt.learning_rate


def test_multi_optimizer_state_and_config_cross_with_keras():
    keras_opt, lamina_opt = _multi(keras.optimizers), _multi(optimizers)
    keras_vars = [keras.Variable(w, name=n) for w, n in zip(INITIAL, NAMES)]
    for grads in GRADIENTS[:2]:
        keras_opt.apply([keras.ops.convert_to_tensor(g) for g in grads], keras_vars)
    store = {}
    keras_opt.save_own_variables(store)
    lamina_opt.build(_lamina_params())
    lamina_opt.load_own_variables(store)
    assert [o._step_count for o in lamina_opt.optimizers] == [2, 2, 2]
    rebuilt = optimizers.deserialize(keras.optimizers.serialize(keras_opt))
    assert isinstance(rebuilt, optimizers.MultiOptimizer)
    assert rebuilt.get_config() == lamina_opt.get_config()
    in_keras = keras.optimizers.deserialize(optimizers.serialize(lamina_opt))
    assert [type(o).__name__ for o in in_keras.optimizers] == ["SGD", "Lamb", "Adam"]


def test_optimizer_map_lookup_rules():
    table = optimizers.OptimizerMap(optimizers.SGD(name="default"))
    table["encoder/.*"] = optimizers.SGD(name="encoder")
    table["encoder/.*/kernel"] = optimizers.SGD(name="kernels")
    table["encoder/dense/kernel"] = optimizers.SGD(name="exact")
    assert table["encoder/dense/kernel"].name == "exact"  # exact key first
    assert table["encoder/dense/bias"].name == "encoder"
    assert table["decoder/dense"].name == "default"
    with pytest.raises(ValueError, match="Multiple optimizers"):
        table["encoder/conv/kernel"]
    with pytest.raises(ValueError, match="already exists"):
        table["encoder/.*"] = optimizers.SGD()
    with pytest.raises(ValueError, match="cannot be a LossScaleOptimizer"):
        table["x"] = optimizers.LossScaleOptimizer(optimizers.SGD())


def test_multi_optimizer_with_a_callable_trains_a_model():
    def choose(variable):
        return sgd if variable.path.startswith("sequential/head/") else adam

    sgd, adam = optimizers.SGD(0.1), optimizers.Adam(0.01)
    model = _classifier(optimizers.MultiOptimizer(choose))
    head_kernel = model.layers[-1].kernel.detach().clone()
    x, y = _data()
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert int(sgd.iterations) == int(adam.iterations) == 18
    assert model.optimizer.optimizers == [adam, sgd]  # in order of first use
    assert not torch.equal(head_kernel, model.layers[-1].kernel.detach())


# ------------------------------------------------------------ weights files


def _wrapped(module, kind):
    if kind == "loss_scale":
        return module.LossScaleOptimizer(module.Adam(), initial_scale=64.0)
    return module.MultiOptimizer(
        module.OptimizerMap(module.Adam(), {".*bias": module.SGD(momentum=0.5)})
    )


@pytest.mark.parametrize("kind", ["loss_scale", "multi"])
def test_wrapper_state_in_weights_files_loads_both_ways(kind, tmp_path):
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    keras_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    keras_model.compile(optimizer=_wrapped(keras.optimizers, kind), loss="mse")
    keras_model.fit(x, y, epochs=3, verbose=0)
    keras_model.save_weights(tmp_path / "keras.weights.h5")
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    model.compile(optimizer=_wrapped(optimizers, kind), loss="mse")
    model.optimizer.build(model.trainable_weights)
    model.load_weights(tmp_path / "keras.weights.h5")
    keras_state = keras_model.optimizer.variables
    assert len(model.optimizer.variables) == len(keras_state)
    for k, lam in zip(keras_state, model.optimizer.variables):
        np.testing.assert_allclose(lam.cpu().numpy(), _np(k))
    model.save_weights(tmp_path / "lamina.weights.h5")
    back = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    back.compile(optimizer=_wrapped(keras.optimizers, kind), loss="mse")
    back.optimizer.build(back.trainable_weights)
    back.load_weights(tmp_path / "lamina.weights.h5")
    for k, again in zip(keras_state, back.optimizer.variables):
        np.testing.assert_allclose(_np(again), _np(k))


def test_every_keras_optimizer_name_is_exported():
    # `keras.optimizers.legacy` only raises errors pointing at Keras 2.
    names = {n for n in dir(keras.optimizers) if not n.startswith("_")} - {"legacy"}
    assert names <= set(optimizers.__all__)
    mixed = {n for n in dir(keras.mixed_precision) if not n.startswith("_")}
    assert mixed <= set(lamina.mixed_precision.__all__)
