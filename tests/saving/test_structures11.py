"""Subclassed structures (lists filled in turn, dicts, nested models, own weights
next to sub-layers) save and load with every weight and optimizer slot on the
variable it belongs to, both ways between lamina and Keras 3 (torch backend);
and legacy `.h5` files carry a model's own (top-level) weights."""

import os
import warnings

import h5py
import numpy as np
import pytest

import lamina

X = np.random.default_rng(0).random((4, 3), dtype=np.float32)
Y = np.random.default_rng(1).random((4, 2), dtype=np.float32)


# --- structures, written once for either library -------------------------------


def _interleaved_lists(lib):
    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.convs, self.norms = [], []
            for _ in range(2):
                self.convs.append(lib.layers.Dense(3))
                self.norms.append(lib.layers.Dense(3))
            self.out = lib.layers.Dense(2)

        def call(self, x):
            for conv, norm in zip(self.convs, self.norms):
                x = norm(conv(x))
            return self.out(x)

    return Net, {}


def _dict_filled_later(lib):
    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.heads = {}
            self.out = lib.layers.Dense(2)
            self.heads["b"] = lib.layers.Dense(3)
            self.heads["a"] = lib.layers.Dense(3)

        def call(self, x):
            return self.out(self.heads["a"](x) * self.heads["b"](x))

    return Net, {}


def _list_of_dicts(lib):
    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.blocks = [
                {"p": lib.layers.Dense(3), "q": lib.layers.Dense(3)} for _ in range(2)
            ]
            self.out = lib.layers.Dense(2)

        def call(self, x):
            for block in self.blocks:
                x = block["q"](block["p"](x))
            return self.out(x)

    return Net, {}


def _append_between_attributes(lib):
    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.blocks = []
            self.blocks.append(lib.layers.Dense(3))
            self.mid = lib.layers.Dense(3)
            self.blocks.append(lib.layers.Dense(3))
            self.out = lib.layers.Dense(2)

        def call(self, x):
            return self.out(self.blocks[1](self.mid(self.blocks[0](x))))

    return Net, {}


def _own_weights_around_sublayer(lib):
    class Mixed(lib.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.proj = lib.layers.Dense(3)

        def build(self, input_shape):
            self.scale = self.add_weight(name="scale", shape=(3,), initializer="ones")
            self.proj.build(input_shape)
            self.shift = self.add_weight(name="shift", shape=(3,), initializer="zeros")

        def call(self, x):
            return self.proj(x) * self.scale + self.shift

    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.mixed = Mixed()
            self.frozen = lib.layers.Dense(3, trainable=False)
            self.out = lib.layers.Dense(2)

        def call(self, x):
            return self.out(self.frozen(self.mixed(x)))

    return Net, {"Mixed": Mixed}


def _nested_models_in_list(lib):
    class Inner(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.first = lib.layers.Dense(3)
            self.rest = [lib.layers.Dense(3), lib.layers.Dense(3)]

        def call(self, x):
            x = self.first(x)
            for layer in self.rest:
                x = layer(x)
            return x

    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.inners = [Inner(), Inner()]
            self.out = lib.layers.Dense(2)

        def call(self, x):
            for inner in self.inners:
                x = inner(x)
            return self.out(x)

    return Net, {"Inner": Inner}


def _batchnorm_pairs(lib):
    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.dense = [lib.layers.Dense(4), lib.layers.Dense(4)]
            self.norm = [lib.layers.BatchNormalization() for _ in range(2)]
            self.out = lib.layers.Dense(2)

        def call(self, x, training=False):
            for dense, norm in zip(self.dense, self.norm):
                x = norm(dense(x), training=training)
            return self.out(x)

    return Net, {}


def _shared_in_list_and_attribute(lib):
    class Net(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.head = lib.layers.Dense(3)
            self.blocks = [lib.layers.Dense(3), self.head]  # listed once in layers
            self.out = lib.layers.Dense(2)

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return self.out(self.head(x))

    return Net, {}


STRUCTURES = {
    "shared_in_list_and_attribute": _shared_in_list_and_attribute,
    "interleaved_lists": _interleaved_lists,
    "dict_filled_later": _dict_filled_later,
    "list_of_dicts": _list_of_dicts,
    "append_between_attributes": _append_between_attributes,
    "own_weights_around_sublayer": _own_weights_around_sublayer,
    "nested_models_in_list": _nested_models_in_list,
    "batchnorm_pairs": _batchnorm_pairs,
}


# --- helpers ------------------------------------------------------------------


def _numpy(variable):
    if hasattr(variable, "detach"):
        return variable.detach().cpu().numpy().copy()
    return np.array(variable.numpy())


def _clear(lib):
    lib.utils.clear_session(free_memory=False)


def _build(lib, structure):
    _clear(lib)
    net, extra = STRUCTURES[structure](lib)
    model = net()
    model(X)
    # Same starting point on both sides: each weight's value follows from its path.
    values = []
    for w in model.weights:
        seed = sum(w.path.encode())
        low, high = (0.5, 1.5) if "variance" in w.path else (-0.5, 0.5)
        rng = np.random.default_rng(seed)
        values.append(rng.uniform(low, high, tuple(w.shape)).astype("float32"))
    model.set_weights(values)
    return model, {"Net": net, **extra}


def _strip(path, prefix):
    return path[len(prefix) :] if path.startswith(prefix) else path


def _state(model):
    """Weights and optimizer variables by path (without the model's own name,
    which Keras leaves out of a loaded model's paths)."""
    weights = {_strip(w.path, model.name + "/"): _numpy(w) for w in model.weights}
    opt = model.optimizer
    slots = {
        _strip(_strip(v.path, opt.name + "/"), model.name + "_"): _numpy(v)
        for v in opt.variables
    }
    return weights, slots


def _assert_same_state(got, want, atol=1e-6):
    for kind, g, w in zip(("weight", "optimizer variable"), got, want):
        assert sorted(g) == sorted(w), kind
        for path in w:
            np.testing.assert_allclose(
                g[path], w[path], rtol=1e-4, atol=atol, err_msg=f"{kind} {path}"
            )


def _train(model, lib, steps, optimizer=None):
    optimizer = optimizer or lib.optimizers.Adam(0.01)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(X, Y, batch_size=len(X), epochs=steps, shuffle=False, verbose=0)


# --- parity with Keras ------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("structure", sorted(STRUCTURES))
def test_layers_and_weights_come_in_keras_order(keras, structure):
    k_model, _ = _build(keras, structure)
    l_model, _ = _build(lamina, structure)
    assert [la.name for la in l_model.layers] == [la.name for la in k_model.layers]
    for attr in ("weights", "trainable_weights", "non_trainable_weights"):
        assert [w.path for w in getattr(l_model, attr)] == [
            w.path for w in getattr(k_model, attr)
        ], attr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("direction", ["keras_to_lamina", "lamina_to_keras"])
@pytest.mark.parametrize("structure", sorted(STRUCTURES))
def test_optimizer_state_lands_on_its_variable_across_libraries(
    keras, tmp_path, structure, direction
):
    src_lib, dst_lib = (
        (keras, lamina) if direction == "keras_to_lamina" else (lamina, keras)
    )
    source, _ = _build(src_lib, structure)
    _train(source, src_lib, steps=2)
    path = str(tmp_path / "m.keras")
    source.save(path)

    # The loaded model holds every weight and every slot where the source had it.
    _clear(dst_lib)
    _, custom = _build(dst_lib, structure)
    _clear(dst_lib)
    loaded = dst_lib.saving.load_model(path, custom_objects=custom)
    _assert_same_state(_state(loaded), _state(source))

    # ... and one more step on each side follows the same trajectory.
    for model in (source, loaded):
        model.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    got, want = _state(loaded), _state(source)
    if structure == "batchnorm_pairs":
        # A bias right before BatchNormalization gets a gradient of zero up to
        # rounding, which Adam scales up to a full step: leave those out.
        got, want = _without_pre_norm_biases(got), _without_pre_norm_biases(want)
    _assert_same_state(got, want, atol=5e-5)  # two libraries' float32 rounding


def _without_pre_norm_biases(state):
    def keep(path):
        return not path.startswith(
            ("dense/bias", "dense_1/bias", "dense_bias", "dense_1_bias")
        )

    return tuple({k: v for k, v in part.items() if keep(k)} for part in state)


def _adamw_without_bias_decay(lib):
    optimizer = lib.optimizers.AdamW(0.01, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


OPTIMIZERS = {
    "adamw_exclude": _adamw_without_bias_decay,
    "sgd_nesterov": lambda lib: lib.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop_centered": lambda lib: lib.optimizers.RMSprop(
        0.01, momentum=0.5, centered=True
    ),
    "nadam": lambda lib: lib.optimizers.Nadam(0.01),
    "ema": lambda lib: lib.optimizers.Adam(
        0.01, use_ema=True, ema_overwrite_frequency=2
    ),
    "loss_scale": lambda lib: lib.optimizers.LossScaleOptimizer(
        lib.optimizers.Adam(0.01)
    ),
    "accumulation": lambda lib: lib.optimizers.Adam(
        0.01, gradient_accumulation_steps=2
    ),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("direction", ["keras_to_lamina", "lamina_to_keras"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_optimizer_variants_resume_on_the_other_library(
    keras, tmp_path, optimizer, direction
):
    src_lib, dst_lib = (
        (keras, lamina) if direction == "keras_to_lamina" else (lamina, keras)
    )
    source, _ = _build(src_lib, "interleaved_lists")
    # Three steps: an accumulation window is left half full, EMA has overwritten.
    _train(source, src_lib, steps=3, optimizer=OPTIMIZERS[optimizer](src_lib))
    path = str(tmp_path / "m.keras")
    source.save(path)
    _, custom = _build(dst_lib, "interleaved_lists")
    _clear(dst_lib)
    loaded = dst_lib.saving.load_model(path, custom_objects=custom)
    want = [_numpy(v) for v in source.optimizer.variables]
    got = [_numpy(v) for v in loaded.optimizer.variables]
    assert [a.shape for a in got] == [a.shape for a in want]
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"variable {k}")
    if optimizer == "adamw_exclude":
        return  # the exclusion is not in the optimizer's config (Keras neither)
    for model in (source, loaded):
        model.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    # Weights only: a loaded LossScaleOptimizer's inner slots are named
    # differently by the two libraries (paths without the model's name).
    weights_only = [(_state(model)[0], {}) for model in (loaded, source)]
    _assert_same_state(*weights_only, atol=5e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("structure", ["interleaved_lists", "nested_models_in_list"])
def test_weights_file_optimizer_slots_follow_keras_order(keras, tmp_path, structure):
    k_model, _ = _build(keras, structure)
    _train(k_model, keras, steps=2)
    path = str(tmp_path / "m.weights.h5")
    k_model.save_weights(path)
    l_model, _ = _build(lamina, structure)
    l_model.compile(optimizer=lamina.optimizers.Adam(0.01), loss="mse")
    l_model.load_weights(path)  # builds the optimizer (Keras would skip it)
    _assert_same_state(_state(l_model), _state(k_model))


# --- legacy .h5: the model's own weights -------------------------------------------


def _model_with_own_weight(lib):
    class OwnBias(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.dense = lib.layers.Dense(3)
            self.out = lib.layers.Dense(2)

        def build(self, input_shape):
            self.offset = self.add_weight(
                name="offset", shape=(3,), initializer="zeros"
            )
            self.dense.build(input_shape)
            self.out.build((None, 3))
            self.built = True

        def call(self, x):
            return self.out(self.dense(x) + self.offset)

    model = OwnBias()
    model(X)
    return model


def _save_legacy(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)


def test_legacy_h5_writes_the_models_own_weights_as_top_level(tmp_path):
    model = _model_with_own_weight(lamina)
    model.offset.data.fill_(0.25)
    path = str(tmp_path / "m.h5")
    _save_legacy(model, path)
    with h5py.File(path, "r") as f:
        top = f["model_weights/top_level_model_weights"]
        names = [n.decode() for n in top.attrs["weight_names"]]
        assert len(names) == 1 and names[0].endswith("offset")
        np.testing.assert_array_equal(top[names[0]][()], np.full(3, 0.25, "float32"))


def test_legacy_h5_load_weights_restores_the_models_own_weights(tmp_path):
    source = _model_with_own_weight(lamina)
    source.offset.data.fill_(0.25)
    path = str(tmp_path / "m.h5")
    _save_legacy(source, path)
    target = _model_with_own_weight(lamina)
    target.load_weights(path)
    np.testing.assert_array_equal(_numpy(target.offset), np.full(3, 0.25, "float32"))
    for got, want in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_legacy_h5_refuses_a_top_level_weight_count_mismatch(tmp_path):
    source = _model_with_own_weight(lamina)
    path = str(tmp_path / "m.h5")
    _save_legacy(source, path)
    with h5py.File(path, "r+") as f:  # as if written by a model without it
        del f["model_weights/top_level_model_weights"]
        f["model_weights"].create_group("top_level_model_weights").attrs[
            "weight_names"
        ] = np.zeros((0,), "float64")
    target = _model_with_own_weight(lamina)
    before = target.get_weights()
    with pytest.raises(ValueError, match="weights of its own"):
        target.load_weights(path)
    for got, want in zip(target.get_weights(), before):  # nothing half-loaded
        np.testing.assert_array_equal(got, want)
    with pytest.warns(UserWarning, match="skip_mismatch"):
        target.load_weights(path, skip_mismatch=True)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_legacy_h5_own_weights_move_both_ways_with_keras(keras, tmp_path):
    for src_lib, dst_lib in ((keras, lamina), (lamina, keras)):
        _clear(src_lib)
        source = _model_with_own_weight(src_lib)
        source.offset.assign(np.full(3, 0.5, "float32"))
        path = str(tmp_path / f"{src_lib.__name__}.h5")
        _save_legacy(source, path)
        _clear(dst_lib)
        target = _model_with_own_weight(dst_lib)
        target.load_weights(path)
        np.testing.assert_array_equal(_numpy(target.offset), np.full(3, 0.5, "float32"))
        for got, want in zip(target.get_weights(), source.get_weights()):
            np.testing.assert_allclose(got, want)
