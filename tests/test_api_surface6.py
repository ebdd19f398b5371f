"""Keras 3 API surface, session 6: Layer/Model/Metric/Optimizer/Variable names
that Keras code reaches for, compared with Keras on its torch backend."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

import lamina

keras = pytest.importorskip("keras")

X = np.random.RandomState(0).rand(6, 4).astype("float32")
Y = np.random.RandomState(1).rand(6, 3).astype("float32")


def _functional(lib, regularizer=None):
    inp = lib.Input((4,), name="x")
    h = lib.layers.Dense(3, name="a", kernel_regularizer=regularizer)(inp)
    out = lib.layers.Add(name="add")([h, lib.layers.Dense(3, name="b")(h)])
    return lib.Model(inp, out, name="net")


def _twin_models(regularizer=None):
    """The same functional model in Keras and lamina, with equal weights."""
    km, lm = _functional(keras, regularizer), _functional(lamina, regularizer)
    lm.set_weights(km.get_weights())
    return km, lm


def _np(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(keras.ops.convert_to_numpy(value))


# --- Layer ---------------------------------------------------------------------


def test_add_variable_matches_keras():
    made = {}
    for lib in (keras, lamina):

        class Scale(lib.layers.Layer):
            def build(self, input_shape):
                self.w = self.add_variable((input_shape[-1],), "ones", name="w")
                self.s = self.add_variable((), "zeros", trainable=False, name="s")

            def call(self, x):
                return x * self.w + self.s

        layer = Scale()
        out = layer(X)
        made[lib] = (
            [(v.name, tuple(v.shape)) for v in layer.trainable_weights],
            [(v.name, tuple(v.shape)) for v in layer.non_trainable_weights],
            _np(out),
        )
    assert made[keras][:2] == made[lamina][:2]
    np.testing.assert_allclose(made[keras][2], made[lamina][2])


def test_add_metric_raises_like_keras():
    with pytest.raises(
        NotImplementedError, match="add_metric\\(\\)` method is deprecated"
    ):
        keras.layers.Dense(2).add_metric(1.0)
    with pytest.raises(
        NotImplementedError, match="add_metric\\(\\)` method is deprecated"
    ):
        lamina.layers.Dense(2).add_metric(1.0)


def test_metrics_and_metrics_variables_on_plain_layers():
    counts = {}
    for lib in (keras, lamina):

        class Inner(lib.layers.Layer):
            metrics_module = lib.metrics

            def __init__(self):
                super().__init__()
                self.tracker = self.metrics_module.Mean(name="inner_mean")

            def call(self, x):
                return x

        class Outer(lib.layers.Layer):
            metrics_module = lib.metrics

            def __init__(self):
                super().__init__()
                self.inner = Inner()
                self.total = self.metrics_module.Sum(name="outer_sum")

            def call(self, x):
                return self.inner(x)

        outer = Outer()
        counts[lib] = (
            [m.name for m in outer.metrics],
            [tuple(v.shape) for v in outer.metrics_variables],
        )
    assert counts[lamina] == counts[keras]
    assert counts[lamina][0] == ["outer_sum", "inner_mean"]


def test_input_dtype_supports_jit_and_call_signature_parameters():
    for lib in (keras, lamina):

        class Custom(lib.layers.Layer):
            def call(self, inputs, mask=None, training=False, extra=1):
                return inputs

        layer = Custom(dtype="mixed_float16")
        assert layer.input_dtype == "float16"
        assert layer.supports_jit is True
        assert layer.call_signature_parameters == [
            "inputs",
            "mask",
            "training",
            "extra",
        ]
    assert lamina.layers.Dense(2).input_dtype == "float32"


def test_symbolic_call_gives_the_output_spec_without_a_node():
    dense = lamina.layers.Dense(5)
    spec = dense.symbolic_call(lamina.KerasTensor((None, 3)))
    assert isinstance(spec, lamina.KerasTensor)
    assert spec.shape == (None, 5) and spec.dtype == "float32"
    assert dense._inbound_nodes == []
    kspec = keras.layers.Dense(5).symbolic_call(keras.KerasTensor((None, 3)))
    assert tuple(kspec.shape) == spec.shape


def test_rematerialized_call_outside_and_inside_scopes():
    plain = lamina.layers.Dense(3)
    plain(X)
    assert plain.rematerialized_call(plain.call, X) == plain.call
    with lamina.RematScope(mode="full"):
        full = lamina.layers.Dense(3, activation="relu")
    full(X)
    full.set_weights(plain.get_weights())
    wrapped = full.rematerialized_call(full.call, X)
    assert wrapped is not full.call
    # `call` itself does not move its inputs: make them on the weights' device.
    x = torch.tensor(X, requires_grad=True, device=full.kernel.device)
    wrapped(x).sum().backward()
    expected = torch.tensor(X, requires_grad=True, device=plain.kernel.device)
    torch.relu(plain.call(expected)).sum().backward()
    torch.testing.assert_close(x.grad, expected.grad)
    with lamina.RematScope(mode="list_of_layers", layer_names=["picked"]):
        picked = lamina.layers.Dense(3, name="picked")
        other = lamina.layers.Dense(3, name="other")
    assert other.rematerialized_call(other.call) == other.call
    assert picked.rematerialized_call(picked.call) != picked.call


# --- Variable and KerasTensor ----------------------------------------------------


def test_variable_regularizer_and_overwrite_with_gradient():
    dense = lamina.layers.Dense(2, kernel_regularizer="l2")
    dense(X)
    assert isinstance(dense.kernel.regularizer, lamina.regularizers.L2)
    assert dense.bias.regularizer is None
    assert dense.kernel.overwrite_with_gradient is False
    kdense = keras.layers.Dense(2, kernel_regularizer="l2")
    kdense(X)
    assert type(kdense.kernel.regularizer).__name__ == "L2"
    assert kdense.bias.regularizer is None
    v = lamina.Variable(np.zeros(2, "float32"))
    v.overwrite_with_gradient = True
    assert v.overwrite_with_gradient is True
    with pytest.raises(TypeError, match="overwrite_with_gradient must be a bool"):
        v.overwrite_with_gradient = 1
    with pytest.raises(ValueError, match="regularizer must be a callable"):
        v.regularizer = "l2"


def test_keras_tensor_ragged_and_record_history():
    kt = lamina.KerasTensor((None, 3), "float16", record_history=False, name="t")
    assert (kt.ragged, kt.record_history, kt.dtype, kt.name) == (
        False,
        False,
        "float16",
        "t",
    )
    assert lamina.KerasTensor((2,)).record_history is True
    with pytest.raises(ValueError, match="ragged=True\\) is not supported"):
        lamina.KerasTensor((None, 3), ragged=True)


def test_input_ragged():
    assert lamina.Input((3,), ragged=False).shape == (None, 3)
    assert lamina.layers.InputLayer(shape=(3,), ragged=False).batch_shape == (None, 3)
    with pytest.raises(ValueError, match="`?ragged=True`? is not supported"):
        lamina.Input((3,), ragged=True)
    with pytest.raises(ValueError, match="ragged=True"):
        keras.Input((3,), ragged=True)


# --- Model -----------------------------------------------------------------------


def test_operations_in_graph_order():
    names = {
        lib: [op.name for op in _functional(lib).operations] for lib in (keras, lamina)
    }
    assert names[lamina] == names[keras] == ["x", "a", "b", "add"]


def test_make_step_functions_like_keras():
    results = {}
    for lib in (keras, lamina):
        model = _functional(lib)
        model.compile("sgd", "mse", metrics=["mae"])
        assert model.train_function is None
        model.make_train_function()
        train = model.train_function
        assert model.make_train_function() is train
        train_logs = train([(X, Y)])
        model.make_test_function()
        test_logs = model.test_function([(X, Y)])
        model.make_predict_function()
        preds = model.predict_function([(X,)])
        model.make_predict_function(force=True)
        assert model.predict_function is not None
        model.compile("sgd", "mse")
        assert model.train_function is None and model.predict_function is None
        results[lib] = (sorted(train_logs), sorted(test_logs), tuple(preds.shape))
    assert results[lamina] == results[keras]


def test_train_function_trains_like_train_on_batch():
    km, lm = _twin_models()
    for model in (km, lm):
        model.compile(keras.optimizers.SGD(0.1) if model is km else "sgd", "mse")
    lm.optimizer.learning_rate = 0.1
    km.make_train_function()
    lm.make_train_function()
    k_logs = km.train_function([(X, Y)])
    l_logs = lm.train_function([(X, Y)])
    np.testing.assert_allclose(float(l_logs["loss"]), float(k_logs["loss"]), rtol=1e-5)
    for kw, lw in zip(km.get_weights(), lm.get_weights()):
        np.testing.assert_allclose(lw, kw, rtol=1e-5, atol=1e-6)


def _keys(tree):
    if not isinstance(tree, dict):
        return None
    return {k: _keys(v) for k, v in tree.items()}


def test_get_state_tree_matches_keras_layout():
    trees = {}
    for lib in (keras, lamina):
        model = _functional(lib)
        # Named: Keras numbers optimizer names per process (adam_5 after
        # other tests), and the name is a key of the optimizer's subtree.
        model.compile(lib.optimizers.Adam(name="adam"), "mse", metrics=["mae"])
        model.fit(X, Y, epochs=1, batch_size=6, verbose=0)
        trees[lib] = model.get_state_tree("numpy_array")
    assert _keys(trees[lamina]) == _keys(trees[keras])
    for key in ("trainable_variables", "metrics_variables"):
        assert isinstance(
            trees[lamina][key]["a"]["kernel"]
            if key[0] == "t"
            else trees[lamina][key]["loss"]["total"],
            np.ndarray,
        )
    tensors = _functional(lamina).get_state_tree()
    assert isinstance(tensors["trainable_variables"]["a"]["kernel"], torch.Tensor)
    with pytest.raises(ValueError, match="value_format"):
        _functional(lamina).get_state_tree("jax_array")


def test_set_state_tree_round_trip():
    model = _functional(lamina)
    model.compile("adam", "mse", metrics=["mae"])
    model.fit(X, Y, epochs=1, batch_size=3, verbose=0)
    saved = model.get_state_tree("numpy_array")
    model.fit(X, Y, epochs=2, batch_size=3, verbose=0)
    assert int(model.optimizer.iterations) == 6
    model.set_state_tree(saved)
    assert int(model.optimizer.iterations) == 2
    after = model.get_state_tree("numpy_array")
    np.testing.assert_array_equal(
        after["trainable_variables"]["b"]["kernel"],
        saved["trainable_variables"]["b"]["kernel"],
    )
    np.testing.assert_array_equal(
        after["metrics_variables"]["loss"]["count"],
        saved["metrics_variables"]["loss"]["count"],
    )
    with pytest.raises(ValueError, match="unknown key"):
        model.set_state_tree({"weights": {}})


def test_stateless_compute_loss_matches_keras():
    km, lm = _twin_models(regularizer="l2")
    km.compile("sgd", "mse", metrics=["mae"])
    lm.compile("sgd", "mse", metrics=["mae"])
    rng = np.random.RandomState(2)
    new_weights = [rng.rand(*w.shape).astype("float32") for w in km.get_weights()]
    y_pred = rng.rand(6, 3).astype("float32")
    losses = {}
    for lib, model in ((keras, km), (lamina, lm)):
        metrics_vars = [_np(v) for v in model.metrics_variables]
        loss, (tv, ntv, mv) = model.stateless_compute_loss(
            [lib.ops.convert_to_tensor(w) for w in new_weights],
            [],
            metrics_vars,
            x=X,
            y=Y,
            y_pred=lib.ops.convert_to_tensor(y_pred),
        )
        losses[lib] = float(_np(loss))
        assert len(mv) == len(model.metrics_variables)
    np.testing.assert_allclose(losses[lamina], losses[keras], rtol=1e-5)
    # The penalty is that of the given kernel; the model's own weights took
    # no part and were not changed.
    mse = float(np.mean((y_pred - Y) ** 2))
    given = mse + 0.01 * float(np.sum(new_weights[0] ** 2))
    own = mse + 0.01 * float(np.sum(km.get_weights()[0] ** 2))
    np.testing.assert_allclose(losses[lamina], given, rtol=1e-5)
    plain = float(_np(lm.compute_loss(X, Y, torch.tensor(y_pred))))
    np.testing.assert_allclose(plain, own, rtol=1e-5)
    np.testing.assert_array_equal(lm.get_weights()[0], km.get_weights()[0])
    with pytest.raises(ValueError, match="trainable_variables"):
        lm.stateless_compute_loss([], [], [], x=X, y=Y, y_pred=torch.tensor(y_pred))


# --- Metric and Optimizer ----------------------------------------------------------


@pytest.mark.parametrize("name", ["Mean", "MeanSquaredError", "AUC"])
def test_metric_stateless_methods_match_keras(name):
    y_true = np.array([[0.0], [1.0], [1.0], [0.0]], "float32")
    y_pred = np.array([[0.2], [0.7], [0.4], [0.1]], "float32")
    out = {}
    for lib in (keras, lamina):
        metric = getattr(lib.metrics, name)()
        args = (y_true,) if name == "Mean" else (y_true, y_pred)
        metric.update_state(*args)
        before = float(_np(metric.result()))
        start = [_np(v) for v in metric.stateless_reset_state()]
        state = metric.stateless_update_state(start, *args)
        state = metric.stateless_update_state(state, *args)
        result = float(_np(metric.stateless_result(state)))
        assert float(_np(metric.result())) == before  # own state untouched
        out[lib] = (result, [_np(v) for v in state], start)
    np.testing.assert_allclose(out[lamina][0], out[keras][0], rtol=1e-5)
    for a, b in zip(out[lamina][1], out[keras][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    for a, b in zip(out[lamina][2], out[keras][2]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="metric_variables"):
        lamina.metrics.Mean().stateless_result([])


@pytest.mark.parametrize("name", ["Adam", "SGD", "Nadam"])
def test_optimizer_stateless_apply_matches_keras(name):
    grads = np.array([0.5, -1.0, 2.0], "float32")
    out = {}
    for lib in (keras, lamina):
        w = lib.Variable(np.array([1.0, 2.0, 3.0], "float32"))
        opt = getattr(lib.optimizers, name)(learning_rate=0.1)
        with pytest.raises(ValueError, match="built"):
            opt.stateless_apply([], [grads], [w])
        opt.build([w])
        state = [_np(v) for v in opt.variables]
        weights = [np.array([3.0, 4.0, 5.0], "float32")]
        for _ in range(2):
            weights, state = opt.stateless_apply(
                [lib.ops.convert_to_tensor(s) for s in state],
                [lib.ops.convert_to_tensor(grads)],
                [lib.ops.convert_to_tensor(x) for x in weights],
            )
            weights = [_np(x) for x in weights]
            state = [_np(s) for s in state]
        np.testing.assert_array_equal(_np(w), [1.0, 2.0, 3.0])
        assert int(_np(opt.iterations)) == 0
        out[lib] = (weights, state)
    np.testing.assert_allclose(out[lamina][0][0], out[keras][0][0], rtol=1e-5)
    assert len(out[lamina][1]) == len(out[keras][1])
    for a, b in zip(out[lamina][1], out[keras][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


# --- functions and small arguments ---------------------------------------------------


def test_clear_session_free_memory():
    lamina.backend.clear_session(free_memory=False)
    assert lamina.layers.Dense(1).name == "dense"
    lamina.utils.clear_session(free_memory=True)
    assert lamina.layers.Dense(1).name == "dense"


def test_map_structure_none_is_leaf():
    data = [1, None, (2, None)]
    for lib in (keras, lamina):
        assert lib.tree.map_structure(
            lambda x: 0 if x is None else x + 1, data, none_is_leaf=True
        ) == [2, 0, (3, 0)]
        assert lib.tree.map_structure(lambda x: x + 1, data, none_is_leaf=False) == [
            2,
            None,
            (3, None),
        ]
        with pytest.raises(ValueError):
            lib.tree.map_structure(
                lambda x, y: x, [1, None], [None, 2], none_is_leaf=False
            )


def test_losses_deserialize_and_quantizers_serialize_argument_names():
    loss = lamina.losses.deserialize(
        name=lamina.losses.serialize(lamina.losses.MeanSquaredError()),
        custom_objects=None,
    )
    assert isinstance(loss, lamina.losses.MeanSquaredError)
    quantizer = lamina.quantizers.AbsMaxQuantizer(axis=-1)
    config = lamina.quantizers.serialize(initializer=quantizer)
    kconfig = keras.quantizers.serialize(
        initializer=keras.quantizers.AbsMaxQuantizer(axis=-1)
    )
    # lamina writes tuples as lists (as JSON does); the values agree.
    assert json.loads(json.dumps(config["config"])) == json.loads(
        json.dumps(kconfig["config"])
    )
    assert config["config"]["epsilon"] == 1e-7


def test_abs_max_quantize_default_epsilon_values_match_keras():
    x = np.random.RandomState(3).randn(4, 6).astype("float32")
    x[1] = 0.0
    q, s = lamina.quantizers.abs_max_quantize(x, axis=-1)
    kq, ks = keras.quantizers.abs_max_quantize(x, axis=-1)
    np.testing.assert_array_equal(_np(q), _np(kq))
    np.testing.assert_allclose(_np(s), _np(ks), rtol=1e-6)
    g = lamina.quantizers.abs_max_quantize_grouped_with_zero_point(x, block_size=2)
    kg = keras.quantizers.abs_max_quantize_grouped_with_zero_point(x, block_size=2)
    for a, b in zip(g, kg):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6)


def test_dataset_format_and_preferred_backend():
    data = np.arange(20, dtype="float32")
    ds = lamina.utils.timeseries_dataset_from_array(
        data, None, sequence_length=4, batch_size=8, format="tf"
    )
    assert ds[0].shape == (8, 4)
    with pytest.raises(ValueError, match="format='grain'"):
        lamina.utils.timeseries_dataset_from_array(data, None, 4, format="grain")
    with pytest.raises(ValueError, match="format"):
        lamina.utils.text_dataset_from_directory("/nonexistent", format="numpy")
    with pytest.raises(ValueError, match="format='grain'"):
        lamina.utils.image_dataset_from_directory("/nonexistent", format="grain")
    left, right = lamina.utils.split_dataset(
        data, left_size=0.75, preferred_backend="torch"
    )
    assert (len(left), len(right)) == (15, 5)
    with pytest.raises(ValueError, match="preferred_backend"):
        lamina.utils.split_dataset(data, left_size=0.5, preferred_backend="tensorflow")


def test_explicit_name_and_dtype_arguments():
    layer = lamina.layers.SpatialDropout1D(0.2, name="sd", dtype="float64")
    assert (layer.name, layer.dtype) == ("sd", "float64")
    assert lamina.layers.SpatialDropout3D(0.2, None, 1, "sd3").name == "sd3"
    assert lamina.layers.RandomCrop(2, 2, name="crop").name == "crop"
    assert lamina.random.SeedGenerator(1).backend is lamina.backend


def test_distribution_initialize_keras_arguments(monkeypatch):
    import torch.distributed as dist

    from lamina.distribution import distribution_lib

    # setenv first, so that monkeypatch restores what initialize() writes.
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(name, "unset")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls = []
    monkeypatch.setattr(dist, "init_process_group", lambda **kw: calls.append(kw))
    monkeypatch.setattr(distribution_lib.device_lib, "set_device", lambda d: None)
    lamina.distribution.initialize("10.0.0.1:1234,10.0.0.2:2345", 2, 1)
    assert calls == [{"backend": "gloo"}]
    env = os.environ
    assert (env["MASTER_ADDR"], env["MASTER_PORT"], env["WORLD_SIZE"], env["RANK"]) == (
        "10.0.0.1",
        "1234",
        "2",
        "1",
    )
    with pytest.raises(ValueError, match="process_id"):
        lamina.distribution.initialize("10.0.0.1:1234", 2, 5)
    with pytest.raises(ValueError, match="host:port"):
        lamina.distribution.initialize("10.0.0.1", 2, 0)
