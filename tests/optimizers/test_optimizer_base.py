"""The common Optimizer contract: arguments, learning rate, state, saving, lookup."""

import io
import re

import numpy as np
import pytest
import torch

from lamina import optimizers
from lamina.optimizers import schedules


def _params(*shapes, device=None):
    return [torch.nn.Parameter(torch.ones(s, device=device)) for s in shapes]


def _step(optimizer, params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else torch.as_tensor(g, dtype=torch.float32)
    optimizer.step()


# --------------------------------------------------------------- construction


@pytest.mark.parametrize(
    "cls, name",
    [
        (optimizers.Adam, "adam"),
        (optimizers.AdamW, "adam_w"),
        (optimizers.RMSprop, "rm_sprop"),
        (optimizers.SGD, "sgd"),
        (optimizers.Nadam, "nadam"),
        (optimizers.Adagrad, "adagrad"),
        (optimizers.Lion, "lion"),
    ],
)
def test_default_name_is_snake_case_of_the_class(cls, name):
    assert re.fullmatch(rf"{name}(_\d+)?", cls().name)


def test_lr_is_an_alias_of_learning_rate():
    assert optimizers.Adam(lr=0.01).learning_rate == float(np.float32(0.01))
    assert optimizers.SGD(lr=0.5).get_config()["learning_rate"] == 0.5


def test_lr_and_a_different_learning_rate_together_are_rejected():
    with pytest.raises(ValueError, match="both `learning_rate=0.1` and `lr=0.01`"):
        optimizers.Adam(learning_rate=0.1, lr=0.01)


def test_unknown_keyword_is_rejected_with_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['momentun'\]"):
        optimizers.SGD(momentun=0.9)


def test_legacy_decay_argument_warns_and_is_ignored():
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        opt = optimizers.Adam(decay=1e-6)
    assert "decay" not in opt.get_config()


def test_only_one_clipping_argument_may_be_set():
    with pytest.raises(ValueError, match="(?i)only one of `clipnorm`, `clipvalue`"):
        optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0)


@pytest.mark.parametrize("value", ["0.1", None, [0.1]])
def test_learning_rate_must_be_a_number_schedule_or_callable(value):
    with pytest.raises(ValueError, match="expects `learning_rate` to be a float"):
        optimizers.Adam(learning_rate=value)


def test_integer_learning_rate_is_accepted_as_float():
    assert optimizers.SGD(learning_rate=1).learning_rate == 1.0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: optimizers.AdamW(weight_decay=None), "weight_decay=None"),
        (lambda: optimizers.SGD(momentum=1.5), "momentum=1.5"),
        (lambda: optimizers.Lion(beta_1=0.0), "beta_1=0.0"),
        (
            lambda: optimizers.Adam(gradient_accumulation_steps=1),
            "gradient_accumulation_steps=1",
        ),
        (lambda: optimizers.Adam(use_ema=True, ema_momentum=2.0), "ema_momentum=2.0"),
    ],
)
def test_bad_hyperparameters_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_numeric_clipnorm_is_a_type_error():
    with pytest.raises(TypeError, match="`clipnorm` to be a number"):
        optimizers.SGD(clipnorm="1")


# ------------------------------------------------------------- learning rate


def test_learning_rate_is_a_float32_rounded_python_float_and_settable():
    opt = optimizers.Adam(learning_rate=0.1)
    assert isinstance(opt.learning_rate, float)
    opt.learning_rate = 0.05
    assert opt.learning_rate == float(np.float32(0.05))
    opt.lr = 0.2
    assert opt.lr == float(np.float32(0.2))
    opt.build(_params(2))
    assert float(opt.variables[1]) == pytest.approx(0.2)


def test_schedule_is_evaluated_at_the_current_step():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=schedule)
    params = _params(3)
    opt.build(params)
    _step(opt, params, [np.ones(3)])
    assert opt.learning_rate == pytest.approx(0.05)
    np.testing.assert_allclose(params[0].detach().numpy(), 1 - 0.1)
    _step(opt, params, [np.ones(3)])
    np.testing.assert_allclose(params[0].detach().numpy(), 1 - 0.1 - 0.05)


def test_schedule_driven_optimizer_has_no_learning_rate_variable():
    opt = optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 10))
    opt.build(_params(2, (3, 4)))
    shapes = [tuple(v.shape) for v in opt.variables]
    assert shapes == [(), (2,), (2,), (3, 4), (3, 4)]
    assert opt.variables[0].path.endswith("/iteration")


def test_assigning_a_schedule_drops_the_learning_rate_variable():
    opt = optimizers.Adam(learning_rate=0.1)
    opt.learning_rate = schedules.InverseTimeDecay(0.1, 1, 1.0)
    assert len(opt.variables) == 1


def test_number_cannot_replace_a_schedule():
    opt = optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 10))
    with pytest.raises(TypeError, match="created with a learning rate schedule"):
        opt.learning_rate = 0.01


def test_callable_learning_rate_is_called_each_step():
    rates = iter([0.5, 0.25])
    opt = optimizers.SGD(learning_rate=lambda: next(rates))
    params = _params(1)
    opt.build(params)
    _step(opt, params, [[1.0]])
    _step(opt, params, [[1.0]])
    np.testing.assert_allclose(params[0].detach().numpy(), [0.25])


# -------------------------------------------------------------------- state


def test_iterations_is_an_int32_tensor_counting_steps_and_settable():
    opt = optimizers.SGD()
    params = _params(2)
    opt.build(params)
    for _ in range(3):
        _step(opt, params, [np.ones(2)])
    assert opt.iterations.dtype == torch.int32
    assert int(opt.iterations) == 3
    opt.iterations = 10
    assert int(opt.variables[0]) == 10


def test_variables_order_interleaves_adam_slots_per_weight():
    opt = optimizers.Adam()
    opt.build(_params((3, 2), (2,)))
    paths = [v.path.split("/", 1)[1] for v in opt.variables]
    assert [tuple(v.shape) for v in opt.variables] == [
        (),
        (),
        (3, 2),
        (3, 2),
        (2,),
        (2,),
    ]
    assert paths[:2] == ["iteration", "learning_rate"]
    assert paths[2].endswith("_momentum") and paths[3].endswith("_velocity")


def test_rmsprop_slot_kinds_are_separate_loops():
    opt = optimizers.RMSprop(momentum=0.9, centered=True)
    opt.build(_params((3,), (4,)))
    kinds = [v.path.rsplit("_", 1)[-1] for v in opt.variables[2:]]
    shapes = [tuple(v.shape) for v in opt.variables[2:]]
    assert kinds == [
        "velocity",
        "velocity",
        "momentum",
        "momentum",
        "gradient",
        "gradient",
    ]
    assert shapes == [(3,), (4,)] * 3


def test_sgd_without_momentum_has_no_slots():
    opt = optimizers.SGD()
    opt.build(_params(3))
    assert len(opt.variables) == 2


def test_slot_paths_use_the_weight_path():
    weight = torch.nn.Parameter(torch.ones(2))
    weight.path = "dense/kernel"
    opt = optimizers.Adam(name="adam")
    opt.build([weight])
    assert opt.variables[2].path == "adam/dense_kernel_momentum"


def test_save_and_load_restore_state_so_training_resumes_exactly():
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(3), rng.standard_normal((2, 2))] for _ in range(5)]
    opt_a = optimizers.Nadam(learning_rate=0.01)
    params_a = _params(3, (2, 2))
    opt_a.build(params_a)
    for g in grads[:3]:
        _step(opt_a, params_a, g)
    store = {}
    opt_a.save_own_variables(store)
    assert sorted(store, key=int) == [str(i) for i in range(len(opt_a.variables))]
    assert all(isinstance(v, np.ndarray) for v in store.values())

    opt_b = optimizers.Nadam(learning_rate=0.5)
    params_b = [torch.nn.Parameter(p.detach().clone()) for p in params_a]
    opt_b.build(params_b)
    opt_b.load_own_variables(store)
    assert int(opt_b.iterations) == 3
    assert opt_b.learning_rate == opt_a.learning_rate
    for g in grads[3:]:
        _step(opt_a, params_a, g)
        _step(opt_b, params_b, g)
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_load_with_a_different_variable_count_names_both_counts():
    opt = optimizers.Adam()
    opt.build(_params(3))
    with pytest.raises(
        ValueError, match="it has 4 variables but the saved optimizer has 2"
    ):
        opt.load_own_variables({"0": np.array(1), "1": np.array(0.1)})


def test_load_with_a_wrong_shape_is_rejected():
    opt = optimizers.SGD(momentum=0.5)
    opt.build(_params(3))
    store = {
        "0": np.array(1),
        "1": np.array(0.1, "float32"),
        "2": np.zeros(4, "float32"),
    }
    with pytest.raises(ValueError, match=r"expected shape \(3,\), the file has"):
        opt.load_own_variables(store)


def test_set_weights_assigns_in_variable_order():
    opt = optimizers.SGD(momentum=0.5)
    opt.build(_params(2))
    opt.set_weights([np.array(7), np.array(0.25), np.array([1.0, 2.0])])
    assert int(opt.iterations) == 7 and opt.learning_rate == 0.25
    np.testing.assert_array_equal(opt.variables[2].numpy(), [1.0, 2.0])


# ------------------------------------------------------------ the update path


def test_step_before_build_explains_what_to_do():
    with pytest.raises(ValueError, match=r"Call optimizer.build\("):
        optimizers.Adam().step()


def test_variables_without_gradient_are_skipped_with_a_warning_once():
    opt = optimizers.SGD(learning_rate=0.5)
    params = _params(2, 2)
    params[1].path = "dense/bias"
    opt.build(params)
    with pytest.warns(UserWarning, match=r"Gradients do not exist.*dense/bias"):
        _step(opt, params, [np.ones(2), None])
    _step(opt, params, [np.ones(2), None])  # no second warning (-W error)
    np.testing.assert_allclose(params[0].detach().numpy(), [0.0, 0.0])
    np.testing.assert_allclose(params[1].detach().numpy(), [1.0, 1.0])
    assert int(opt.iterations) == 2


def test_frozen_weights_without_gradient_are_skipped_silently():
    opt = optimizers.SGD(learning_rate=0.5)
    params = _params(2, 2)
    params[1].requires_grad_(False)
    opt.build(params)
    _step(opt, params, [np.ones(2), None])  # no warning (-W error)
    np.testing.assert_allclose(params[1].detach().numpy(), [1.0, 1.0])


def test_save_and_load_through_an_h5py_group():
    h5py = pytest.importorskip("h5py")
    opt = optimizers.Adam(learning_rate=0.01)
    params = _params(3)
    opt.build(params)
    _step(opt, params, [np.ones(3)])
    with h5py.File(io.BytesIO(), "w") as f:
        opt.save_own_variables(f.create_group("optimizer/vars"))
        fresh = optimizers.Adam()
        fresh.build(_params(3))
        fresh.load_own_variables(f["optimizer/vars"])
    assert int(fresh.iterations) == 1
    assert fresh.learning_rate == opt.learning_rate
    for a, b in zip(opt.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_no_gradient_at_all_is_an_error():
    opt = optimizers.SGD()
    params = _params(2)
    opt.build(params)
    with pytest.raises(ValueError, match="(?i)no gradients provided for any variable"):
        _step(opt, params, [None])


def test_apply_gradients_builds_and_accepts_a_subset_in_any_order():
    params = _params(2, 3)
    opt = optimizers.SGD(learning_rate=1.0)
    opt.build(params)
    opt.apply_gradients([(torch.ones(3), params[1])])
    np.testing.assert_allclose(params[1].detach().numpy(), np.zeros(3))
    np.testing.assert_allclose(params[0].detach().numpy(), np.ones(2))
    opt.apply([torch.ones(3), torch.ones(2)], [params[1], params[0]])
    np.testing.assert_allclose(params[0].detach().numpy(), np.zeros(2))
    np.testing.assert_allclose(params[1].detach().numpy(), -np.ones(3))


def test_apply_to_unknown_variable_is_an_error():
    opt = optimizers.SGD()
    opt.build(_params(2))
    with pytest.raises(ValueError, match="built for other variables"):
        opt.apply([torch.ones(2)], _params(2))


def test_apply_without_variables_needs_a_built_optimizer():
    with pytest.raises(ValueError, match="before being built"):
        optimizers.SGD().apply([torch.ones(2)])


def test_step_with_closure_returns_the_loss_like_torch_optim():
    params = _params(2)
    opt = optimizers.SGD(learning_rate=0.25)
    opt.build(params)

    def closure():
        opt.zero_grad()
        loss = (params[0] ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 2.0
    np.testing.assert_allclose(params[0].detach().numpy(), [0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"clipnorm": 2.5}, [1.5, 2.0]),  # norm 5 -> scaled by 0.5
        ({"clipvalue": 1.0}, [1.0, 1.0]),
        ({"global_clipnorm": 2.5}, [1.5, 2.0]),  # only one tensor here
        ({"clipnorm": 10.0}, [3.0, 4.0]),
    ],
)
def test_gradient_clipping(kwargs, expected):
    params = _params(2)
    opt = optimizers.SGD(learning_rate=1.0, **kwargs)
    opt.build(params)
    _step(opt, params, [[3.0, 4.0]])
    np.testing.assert_allclose(1 - params[0].detach().numpy(), expected, rtol=1e-6)


def test_global_clipnorm_scales_all_gradients_together():
    params = _params(1, 1)
    opt = optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0)
    opt.build(params)
    _step(opt, params, [[3.0], [4.0]])
    np.testing.assert_allclose(
        [1 - p.detach().item() for p in params], [0.6, 0.8], rtol=1e-6
    )


def test_weight_decay_is_decoupled_and_uses_the_learning_rate():
    params = _params(2)
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.build(params)
    _step(opt, params, [[1.0, 0.0]])
    np.testing.assert_allclose(
        params[0].detach().numpy(), [0.95 - 0.1, 0.95], rtol=1e-6
    )


def test_exclude_from_weight_decay_by_path_and_by_variable():
    params = _params(1, 1, 1)
    params[0].path, params[1].path, params[2].path = (
        "dense/kernel",
        "dense/bias",
        "norm/gamma",
    )
    opt = optimizers.SGD(learning_rate=1.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[params[2]], var_names=["bias"])
    opt.build(params)
    _step(opt, params, [[0.0], [0.0], [0.0]])
    assert [p.detach().item() for p in params] == [0.5, 1.0, 1.0]


def test_constraint_is_applied_after_the_update():
    weight = torch.nn.Parameter(torch.tensor([0.5, -0.5]))
    weight.constraint = lambda w: torch.clamp(w, min=0.0)
    opt = optimizers.SGD(learning_rate=1.0)
    opt.build([weight])
    _step(opt, [weight], [[1.0, 1.0]])
    np.testing.assert_allclose(weight.detach().numpy(), [0.0, 0.0])


def test_loss_scale_factor_divides_gradients_and_scale_loss_multiplies():
    params = _params(1)
    opt = optimizers.SGD(learning_rate=1.0, loss_scale_factor=4.0)
    opt.build(params)
    _step(opt, params, [[2.0]])
    assert params[0].detach().item() == 0.5
    assert opt.scale_loss(3.0) == 12.0


def test_gradient_accumulation_updates_every_n_steps_with_the_mean():
    params = _params(1)
    opt = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    opt.build(params)
    _step(opt, params, [[1.0]])
    assert params[0].detach().item() == 1.0
    _step(opt, params, [[3.0]])
    assert params[0].detach().item() == -1.0
    assert int(opt.iterations) == 1 and int(opt.variables[0]) == 2
    assert [tuple(v.shape) for v in opt.variables] == [(), (), (1,)]


def test_ema_tracks_weights_and_finalize_copies_the_average():
    params = _params(1)
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    opt.build(params)
    _step(opt, params, [[1.0]])  # w = 0, first average = w
    _step(opt, params, [[1.0]])  # w = -1, average = 0.5 * 0 + 0.5 * -1
    assert opt.variables[2].item() == -0.5
    opt.finalize_variable_values(params)
    assert params[0].detach().item() == -0.5


def test_ema_overwrite_frequency_copies_the_average_into_the_weights():
    params = _params(1)
    opt = optimizers.SGD(
        learning_rate=1.0, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2
    )
    opt.build(params)
    _step(opt, params, [[1.0]])
    _step(opt, params, [[1.0]])
    assert params[0].detach().item() == -0.5


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.Adam(amsgrad=True, weight_decay=0.1, clipnorm=1.0),
        lambda: optimizers.SGD(momentum=0.9, nesterov=True, global_clipnorm=1.0),
        lambda: optimizers.RMSprop(momentum=0.5, centered=True, clipvalue=0.1),
        lambda: optimizers.Nadam(use_ema=True, ema_overwrite_frequency=1),
        lambda: optimizers.Adamax(gradient_accumulation_steps=2),
        lambda: optimizers.Adagrad(loss_scale_factor=2.0),
        lambda: optimizers.Adadelta(),
        lambda: optimizers.Lion(learning_rate=schedules.CosineDecayRestarts(0.1, 3)),
        lambda: optimizers.AdamW(),
    ],
)
def test_step_runs_on_meta_tensors_so_it_never_reads_device_values(make):
    # Meta tensors hold no data: any .item(), float() or .cpu() would raise.
    params = _params((4, 3), (3,), device="meta")
    opt = make()
    opt.build(params)
    for _ in range(3):
        for p in params:
            p.grad = torch.empty_like(p)
        opt.step()
    assert opt.variables[2].device.type == "meta"
    assert int(opt.variables[0]) == 3  # the saved step count, on the CPU


def test_keras_style_update_step_subclass_works():
    class SignSGD(optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def update_step(self, gradient, variable, learning_rate):
            self.assign_sub(variable, learning_rate * torch.sign(gradient))

    params = _params(2)
    opt = SignSGD()
    assert re.fullmatch(r"sign_sgd(_\d+)?", opt.name)
    opt.apply_gradients([(torch.tensor([3.0, -0.2]), params[0])])
    np.testing.assert_allclose(params[0].detach().numpy(), [0.9, 1.1], rtol=1e-6)


# ------------------------------------------------------- config and lookup


def test_get_config_has_keras_keys_and_a_float32_rounded_rate():
    config = optimizers.Adam(learning_rate=0.001, name="adam").get_config()
    assert config == {
        "name": "adam",
        "learning_rate": 0.0010000000474974513,
        "weight_decay": None,
        "clipnorm": None,
        "global_clipnorm": None,
        "clipvalue": None,
        "use_ema": False,
        "ema_momentum": 0.99,
        "ema_overwrite_frequency": None,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-07,
        "amsgrad": False,
    }


@pytest.mark.parametrize(
    "name, cls",
    [
        ("sgd", optimizers.SGD),
        ("rmsprop", optimizers.RMSprop),
        ("adam", optimizers.Adam),
        ("adamw", optimizers.AdamW),
        ("adagrad", optimizers.Adagrad),
        ("adadelta", optimizers.Adadelta),
        ("adamax", optimizers.Adamax),
        ("nadam", optimizers.Nadam),
        ("lion", optimizers.Lion),
        ("Adam", optimizers.Adam),
        ("RMSprop", optimizers.RMSprop),
        ("AdamW", optimizers.AdamW),
    ],
)
def test_get_by_keras_name(name, cls):
    assert type(optimizers.get(name)) is cls


def test_get_passes_instances_and_none_through():
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None


def test_get_unknown_name_suggests_a_close_one():
    with pytest.raises(ValueError, match="Unknown optimizer 'adm'. Did you mean"):
        optimizers.get("adm")


def test_an_unknown_optimizer_name_suggests_the_closest_ones():
    with pytest.raises(ValueError, match="adam"):
        optimizers.get("adamm")


def test_a_zero_learning_rate_keeps_keras_variable_order():
    # list.remove compared tensors by value: learning_rate=0 matched iteration.
    optimizer = optimizers.Adam(learning_rate=0.0)
    iteration, learning_rate = optimizer.variables[:2]
    assert iteration is optimizer.iterations and iteration.dtype == torch.int32
    assert learning_rate.dtype == torch.float32 and learning_rate.item() == 0.0


def test_get_rejects_other_objects_and_classes_with_a_hint():
    with pytest.raises(TypeError, match="got 3 of type int"):
        optimizers.get(3)
    with pytest.raises(TypeError, match=r"Pass an instance, e.g. Adam\(\)"):
        optimizers.get(optimizers.Adam)


def test_serialize_uses_the_keras_namespace_and_round_trips_a_schedule():
    opt = optimizers.SGD(
        learning_rate=schedules.PiecewiseConstantDecay([5], [0.1, 0.01]),
        momentum=0.9,
        name="sgd",
    )
    config = optimizers.serialize(opt)
    assert config["module"] == "keras.optimizers"
    assert config["class_name"] == "SGD"
    assert config["registered_name"] is None
    assert config["config"]["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    rebuilt = optimizers.deserialize(config)
    assert type(rebuilt) is optimizers.SGD
    assert rebuilt.get_config() == opt.get_config()
    assert optimizers.get(config).get_config() == opt.get_config()


def test_deserialize_is_case_insensitive_for_built_ins():
    opt = optimizers.deserialize({"class_name": "adam", "config": {"beta_1": 0.5}})
    assert type(opt) is optimizers.Adam and opt.beta_1 == 0.5
