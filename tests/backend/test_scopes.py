import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops
from lamina.backend.stateless_scope import get_stateless_scope, in_stateless_scope
from lamina.backend.symbolic_scope import in_symbolic_scope

os.environ.setdefault("KERAS_BACKEND", "torch")


def _variable(values):
    return lamina.Variable(torch.tensor(values, dtype=torch.float32), False)


# --- StatelessScope ----------------------------------------------------------


def test_assign_inside_scope_is_recorded_not_applied():
    v = _variable([1.0, 2.0])
    with lamina.StatelessScope() as scope:
        assert in_stateless_scope() and get_stateless_scope() is scope
        v.assign(np.array([5.0, 6.0]))
        assert v.tolist() == [1.0, 2.0]
    assert not in_stateless_scope()
    assert v.tolist() == [1.0, 2.0]
    assert scope.get_current_value(v).tolist() == [5.0, 6.0]


def test_assign_add_and_sub_build_on_the_scope_value():
    v = _variable([1.0, 1.0])
    with lamina.StatelessScope(state_mapping=[(v, torch.tensor([10.0, 20.0]))]) as s:
        v.assign_add(torch.tensor([1.0, 2.0]))
        v.assign_sub(torch.tensor([0.5, 0.5]))
    assert s.get_current_value(v).tolist() == [10.5, 21.5]
    w = _variable([3.0])
    with lamina.StatelessScope() as s2:
        w.assign_add(2.0)  # no mapped value: starts from the variable's own
    assert s2.get_current_value(w).tolist() == [5.0] and w.tolist() == [3.0]


def test_outside_a_scope_assign_writes_the_variable():
    v = _variable([1.0])
    v.assign([4.0])
    v.assign_add(1.0)
    v.assign_sub(0.5)
    assert v.tolist() == [4.5]


def test_state_mapping_values_take_the_variable_dtype():
    v = _variable([0.0, 0.0])
    scope = lamina.StatelessScope(state_mapping=[(v, np.array([1, 2]))])
    value = scope.get_current_value(v)
    assert value.dtype == torch.float32 and value.tolist() == [1.0, 2.0]
    assert scope.get_current_value(_variable([0.0])) is None


def test_nested_scopes_restore_the_outer_one():
    v = _variable([0.0])
    with lamina.StatelessScope() as outer:
        with lamina.StatelessScope() as inner:
            v.assign([1.0])
        assert get_stateless_scope() is outer
        v.assign([2.0])
    assert inner.get_current_value(v).tolist() == [1.0]
    assert outer.get_current_value(v).tolist() == [2.0]


def test_scope_collects_losses_added_to_it():
    scope = lamina.StatelessScope(collect_losses=True)
    scope.add_loss(torch.tensor(1.5))
    assert scope.collect_losses and [float(x) for x in scope.losses] == [1.5]


def test_state_mapping_rejects_non_variables_and_wrong_shapes():
    v = _variable([0.0, 0.0])
    with pytest.raises(ValueError, match="lamina Variable; got Tensor"):
        lamina.StatelessScope(state_mapping=[(torch.zeros(2), torch.ones(2))])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        lamina.StatelessScope(state_mapping=[(v, torch.ones(3))])
    with pytest.raises(ValueError, match="pairs"):
        lamina.StatelessScope(state_mapping=[v])


# --- SymbolicScope -------------------------------------------------------------


def test_symbolic_scope_marks_the_symbolic_stage():
    assert not in_symbolic_scope()
    with lamina.SymbolicScope():
        assert in_symbolic_scope()
        with lamina.SymbolicScope():
            assert in_symbolic_scope()
        assert in_symbolic_scope()
    assert not in_symbolic_scope()


def test_shape_inference_counts_as_symbolic():
    seen = []

    class Probe(layers.Layer):
        def call(self, x):
            seen.append(in_symbolic_scope())
            return x

    layer = Probe()
    layer(lamina.Input((2,)))
    layer(torch.ones(1, 2))
    assert seen[0] is True and seen[-1] is False


# --- Operation -----------------------------------------------------------------


class _Scale(lamina.Operation):
    def __init__(self, factor=2.0, name=None):
        super().__init__(name=name)
        self.factor = factor

    def call(self, x):
        return x * self.factor


class _Split(lamina.Operation):
    def call(self, x):
        return x[..., :1], x[..., 1:]

    def compute_output_spec(self, x):
        return (
            lamina.KerasTensor(x.shape[:-1] + (1,), dtype=x.dtype),
            lamina.KerasTensor(x.shape[:-1] + (x.shape[-1] - 1,), dtype=x.dtype),
        )


def test_operation_computes_eagerly_and_infers_symbolically():
    op = _Scale(3.0)
    assert op(torch.ones(2)).tolist() == [3.0, 3.0]
    out = op(lamina.KerasTensor((None, 4), dtype="float16"))
    assert out.shape == (None, 4) and out.dtype == "float16"
    assert out._keras_history[0] is op


def test_operation_compute_output_spec_is_used_for_symbolic_calls():
    first, rest = _Split()(lamina.Input((5,)))
    assert first.shape == (None, 1) and rest.shape == (None, 4)


def test_operation_names_default_to_snake_case_and_are_checked():
    assert _Scale().name.startswith("__scale")
    assert _Scale(name="mine").name == "mine"
    with pytest.raises(ValueError, match="without '/'"):
        _Scale(name="a/b")


def test_operation_config_round_trip():
    op = _Scale(4.0, name="x4")
    config = op.get_config()
    assert config == {"name": "x4", "factor": 4.0}
    clone = _Scale.from_config(config)
    assert clone.name == "x4" and clone.factor == 4.0
    with pytest.raises(TypeError, match="Could not create _Scale"):
        _Scale.from_config({"unknown": 1})


def test_operation_config_needs_plain_arguments():
    op = _Scale(factor=torch.ones(2))
    with pytest.raises(NotImplementedError, match="get_config"):
        op.get_config()


def test_operation_in_a_functional_model_runs_and_is_not_a_layer():
    inputs = lamina.Input((3,))
    dense = layers.Dense(2, kernel_initializer="ones")
    model = lamina.Model(inputs, dense(_Scale(2.0)(inputs)))
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense"]
    out = model(np.ones((1, 3), "float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(out), [[6.0, 6.0]])


def test_operation_base_call_is_required():
    with pytest.raises(NotImplementedError, match="must implement call"):
        lamina.Operation()(torch.ones(1))


# --- Function ------------------------------------------------------------------


def test_function_on_bare_keras_tensors():
    a, b = lamina.KerasTensor((None, 2)), lamina.KerasTensor((None, 2))
    fn = lamina.Function([a, b], ops.sigmoid(a + b), name="f")
    out = fn([torch.zeros(1, 2), torch.ones(1, 2)])
    np.testing.assert_allclose(
        ops.convert_to_numpy(out), 1 / (1 + np.exp(-np.ones((1, 2))))
    )
    assert fn.name == "f" and fn.inputs == [a, b]
    assert [op.name.split("_")[0] for op in fn.operations] == ["add", "sigmoid"]


def test_function_replays_layers_with_their_weights_and_structures():
    x = lamina.Input((3,))
    dense = layers.Dense(2)
    y = dense(x)
    fn = lamina.Function({"x": x}, {"y": y, "z": ops.relu(y)})
    data = np.random.RandomState(0).rand(4, 3).astype("float32")
    out = fn({"x": data})
    expected = data @ ops.convert_to_numpy(dense.kernel) + ops.convert_to_numpy(
        dense.bias
    )
    np.testing.assert_allclose(ops.convert_to_numpy(out["y"]), expected, atol=1e-6)
    np.testing.assert_allclose(
        ops.convert_to_numpy(out["z"]), np.maximum(expected, 0), atol=1e-6
    )


def test_function_called_on_keras_tensors_gives_keras_tensors():
    a = lamina.KerasTensor((None, 3))
    fn = lamina.Function(a, ops.sum(a, axis=-1))
    assert fn(lamina.KerasTensor((None, 3))).shape == (None,)
    assert fn(lamina.KerasTensor((7, 3))).shape == (7,)


def test_function_rejects_empty_or_non_symbolic_arguments():
    a = lamina.KerasTensor((None, 3))
    with pytest.raises(ValueError, match="at least one KerasTensor in `inputs`"):
        lamina.Function([], a)
    with pytest.raises(ValueError, match="made of KerasTensors"):
        lamina.Function(a, torch.ones(1))
    with pytest.raises(ValueError, match="expects inputs structured as"):
        lamina.Function(a, ops.relu(a))([torch.ones(1, 3), torch.ones(1, 3)])


def test_function_matches_keras_function():
    keras = pytest.importorskip("keras")
    data = np.random.RandomState(2).randn(4, 3).astype("float32")

    def make(lib):
        a = lib.KerasTensor((None, 3))
        return lib.Function(a, lib.ops.softmax(lib.ops.square(a) * 2.0))

    ours = make(lamina)(data)
    theirs = keras.ops.convert_to_numpy(make(keras)(data))
    np.testing.assert_allclose(ops.convert_to_numpy(ours), theirs, rtol=1e-6)


@lamina.saving.register_keras_serializable(package="test_scopes")
class _Shift(lamina.Operation):
    def __init__(self, offset=1.0, name=None):
        super().__init__(name=name)
        self.offset = offset

    def call(self, x):
        return x + self.offset


def test_model_with_an_operation_saves_and_loads(tmp_path):
    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, layers.Dense(2)(_Shift(5.0)(inputs)))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = lamina.saving.load_model(path)
    data = np.ones((2, 3), "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(data)),
        ops.convert_to_numpy(model(data)),
        atol=1e-6,
    )
    shift = [op for op in loaded._operations if isinstance(op, _Shift)]
    assert len(shift) == 1 and shift[0].offset == 5.0
