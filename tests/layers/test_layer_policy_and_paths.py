"""Functional models' `path`, setting `dtype_policy` on a layer holding a
`DTypePolicyMap`, `Layer.quantization_mode`, and `add_loss` inside a
`StatelessScope`, compared with Keras 3."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

os.environ.setdefault("KERAS_BACKEND", "torch")

X = np.ones((2, 3), "float32")


@pytest.fixture(autouse=True)
def _fresh_names():
    lamina.utils.clear_session()
    yield
    lamina.utils.clear_session()


def _keras():
    keras = pytest.importorskip("keras")
    keras.utils.clear_session()
    return keras


# --- functional models' path ---------------------------------------------------


def _functional(lib, name=None):
    inputs = lib.Input((3,))
    return lib.Model(inputs, lib.layers.Dense(2)(inputs), name=name)


@pytest.mark.parametrize("name", [None, "encoder"])
def test_functional_model_path_is_its_name_like_keras(name):
    keras = _keras()
    ours, theirs = _functional(lamina, name), _functional(keras, name)
    assert ours.path == ours.name
    assert ours.path == theirs.path


def test_nested_functional_model_keeps_its_path():
    keras = _keras()
    paths = []
    for lib in (lamina, keras):
        inner = _functional(lib, "inner")
        inputs = lib.Input((3,))
        outer = lib.Model(inputs, inner(inputs), name="outer")
        outer(X)
        paths.append((outer.path, inner.path, inner.layers[-1].kernel.path))
    assert paths[0] == paths[1] == ("outer", "inner", "dense/kernel")


def test_unbuilt_layer_still_has_no_path():
    assert layers.Dense(2).path is None


# --- dtype_policy on a layer holding a DTypePolicyMap --------------------------


def _mapped_dense(lib):
    policies = lib.dtype_policies.DTypePolicyMap("float16")
    policies["dense"] = "float32"
    dense = lib.layers.Dense(2, dtype=policies, name="dense")
    dense.build((None, 3))
    return policies, dense


def test_setting_a_policy_writes_it_into_the_map():
    policies, dense = _mapped_dense(lamina)
    dense.dtype_policy = "mixed_bfloat16"
    assert isinstance(dense.dtype_policy, lamina.dtype_policies.DTypePolicyMap)
    assert list(policies) == ["dense"] and policies["dense"].name == "mixed_bfloat16"
    assert (dense.compute_dtype, dense.variable_dtype) == ("bfloat16", "float32")
    assert dense(X).dtype == torch.bfloat16


def test_setting_a_policy_on_a_mapped_layer_matches_keras():
    keras = _keras()
    results = []
    for lib in (lamina, keras):
        policies, dense = _mapped_dense(lib)
        dense.dtype_policy = "mixed_bfloat16"
        out = dense(X)
        results.append(
            (
                type(dense.dtype_policy).__name__,
                dense.compute_dtype,
                dense.variable_dtype,
                {key: policies[key].name for key in policies},
                str(out.dtype),
            )
        )
    assert results[0] == results[1]


def test_unbuilt_layer_takes_the_policy_instead_of_the_map():
    keras = _keras()
    kinds = []
    for lib in (lamina, keras):
        policies = lib.dtype_policies.DTypePolicyMap("float32")
        dense = lib.layers.Dense(2, dtype=policies)
        dense.dtype_policy = "float16"
        kinds.append((type(dense.dtype_policy).__name__, dense.compute_dtype))
        assert len(policies) == 0
    assert kinds[0] == kinds[1] == ("DTypePolicy", "float16")


# --- quantization_mode ---------------------------------------------------------


def test_every_layer_has_quantization_mode():
    keras = _keras()

    class Plain(lamina.layers.Layer):
        pass

    for layer in (Plain(), layers.Dropout(0.5), layers.Conv1D(2, 3)):
        assert layer.quantization_mode is None
    assert keras.layers.Dropout(0.5).quantization_mode is None


def test_quantized_dense_reports_its_mode():
    dense = layers.Dense(2)
    dense.build((None, 3))
    assert dense.quantization_mode is None
    dense.quantize("int8")
    assert dense.quantization_mode == "int8"


def test_mapped_layer_reads_its_quantization_mode_from_the_map():
    policies = lamina.dtype_policies.DTypePolicyMap("float32")
    policies["dense"] = "int8_from_float32"
    dense = layers.Dense(2, dtype=policies, name="dense")
    dense.build((None, 3))
    assert dense.quantization_mode == "int8"
    assert policies.quantization_mode is None  # the map's default policy's


# --- add_loss inside a StatelessScope ------------------------------------------


def _loss_layer_class(lib):
    class AddsLoss(lib.layers.Layer):
        def call(self, x):
            self.add_loss(lib.ops.sum(x))
            return x

    return AddsLoss


@pytest.mark.parametrize("collect", [True, False])
def test_add_loss_in_a_stateless_scope_matches_keras(collect):
    keras = _keras()
    results = []
    for lib in (lamina, keras):
        layer = _loss_layer_class(lib)()
        with lib.StatelessScope(collect_losses=collect) as scope:
            layer(X)
            inside = [float(loss) for loss in layer.losses]
        results.append(
            (
                [float(loss) for loss in scope.losses],
                inside,
                [float(loss) for loss in layer.losses],
            )
        )
    assert results[0] == results[1]
    assert results[0][0] == ([6.0] if collect else [])


def test_add_loss_outside_a_scope_still_goes_to_the_layer():
    layer = _loss_layer_class(lamina)()
    layer(X)
    assert [float(loss) for loss in layer.losses] == [6.0]


def test_stateless_call_still_returns_the_losses():
    dense = layers.Dense(2, kernel_regularizer="l2", activity_regularizer="l1")
    dense.build((None, 3))
    trainable = [torch.ones_like(v) for v in dense.trainable_variables]
    _, _, losses = dense.stateless_call(trainable, [], X, return_losses=True)
    # activity: 0.01 * sum(|4|) over a (2, 2) output / batch 2; kernel: 0.01 * 6
    np.testing.assert_allclose([float(v) for v in losses], [0.08, 0.06], rtol=1e-6)
    own_penalty = 0.01 * float((dense.kernel.detach() ** 2).sum())
    assert [float(v.detach()) for v in dense.losses] == pytest.approx([own_penalty])


def test_a_functional_model_built_in_a_name_scope_takes_its_path():
    with lamina.name_scope("sc"):
        inputs = lamina.Input((2,))
        model = lamina.Model(inputs, lamina.layers.Dense(1)(inputs), name="m2")
    assert model.path == "sc/m2"  # Keras 3.15: the same
    assert model.weights[0].path == "sc/dense/kernel"
