"""The `.weights.h5` layout: Keras 3's group paths, dataset order and loading."""

import h5py
import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def _layout(path):
    """[(name, shape or None, attrs)] for every group and dataset in a file."""
    out = []
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: out.append(
                (name, getattr(obj, "shape", None), dict(obj.attrs))
            )
        )
    return out


def _small_model():
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(3, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(2),
        ]
    )
    return model


def test_sequential_layout_names_groups_by_class_and_orders_variables(tmp_path):
    model = _small_model()
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    assert _layout(path) == [
        ("layers", None, {}),
        ("layers/dense", None, {}),
        ("layers/dense/vars", None, {"name": "dense"}),
        ("layers/dense/vars/0", (4, 3), {}),
        ("layers/dense/vars/1", (3,), {}),
        ("layers/dense_1", None, {}),
        ("layers/dense_1/vars", None, {"name": "dense_1"}),
        ("layers/dense_1/vars/0", (3, 2), {}),
        ("layers/dense_1/vars/1", (2,), {}),
        ("layers/dropout", None, {}),
        ("layers/dropout/vars", None, {"name": "dropout"}),
        ("vars", None, {"name": "sequential"}),
    ]
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(
            f["layers/dense/vars/0"][()], model.layers[0].kernel.detach().cpu().numpy()
        )


def test_optimizer_state_is_written_after_fit_with_int32_step(tmp_path):
    model = _small_model()
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    model.fit(np.ones((4, 4)), np.ones((4, 2)), epochs=1, verbose=0)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        group = f["optimizer/vars"]
        assert group.attrs["name"] == "adam"
        assert len(group) == 2 + 2 * 4  # iteration, lr, (m, v) per variable
        assert group["0"].dtype == np.int32 and group["0"][()] == 1
        assert group["1"][()] == np.float32(0.01)
        assert group["2"].shape == (4, 3) and group["3"].shape == (4, 3)


class Block(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = layers.Dense(2)
        self.d2 = layers.Dense(2)

    def call(self, x):
        return self.d2(self.d1(x))


class Net(lamina.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.zz = layers.Dense(2)  # sorts after the `layers` property
        self.aa = layers.Dense(3)
        self.blocks = [Block(), Block()]
        self._hidden = layers.Dense(3)

    def call(self, x):
        x = self._hidden(self.aa(x))
        for block in self.blocks:
            x = block(x)
        return self.zz(x)


def test_subclassed_model_paths_follow_attribute_names_as_keras_walks_them(tmp_path):
    model = Net()
    model(np.ones((2, 4), "float32"))
    path = tmp_path / "n.weights.h5"
    model.save_weights(path)
    groups = {name: attrs["name"] for name, _, attrs in _layout(path) if attrs}
    # Attributes in sorted order, private ones last; list items by class name;
    # `zz` and `_hidden` are reached first through the model's `layers`
    # property (items dense, dense_1, block, block_1, dense_2), as in Keras.
    assert groups == {
        "aa/vars": "dense_1",
        "blocks/block/vars": "block",
        "blocks/block/d1/vars": "dense_2",
        "blocks/block/d2/vars": "dense_3",
        "blocks/block_1/vars": "block_1",
        "blocks/block_1/d1/vars": "dense_4",
        "blocks/block_1/d2/vars": "dense_5",
        "layers/dense/vars": "dense",
        "layers/dense_2/vars": "dense_6",
        "vars": "net",
    }


def test_layers_in_a_dict_attribute_are_named_by_class(tmp_path):
    class Holder(layers.Layer):
        def __init__(self):
            super().__init__()
            self.heads = {"a": layers.Dense(2), "b": layers.Dense(2)}

        def call(self, x):
            return self.heads["a"](x) + self.heads["b"](x)

    model = lamina.Sequential([lamina.Input((3,)), Holder()])
    path = tmp_path / "h.weights.h5"
    model.save_weights(path)
    groups = {name: attrs["name"] for name, _, attrs in _layout(path) if attrs}
    assert groups["layers/holder/heads/dense/vars"] == "dense"
    assert groups["layers/holder/heads/dense_1/vars"] == "dense_1"


def test_nested_sequential_has_its_own_layers_group(tmp_path):
    inner = lamina.Sequential([layers.Dense(3)], name="inner")
    model = lamina.Sequential([lamina.Input((4,)), inner, layers.Dense(2)])
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    names = [name for name, shape, _ in _layout(path) if shape is not None]
    assert names == [
        "layers/dense/vars/0",
        "layers/dense/vars/1",
        "layers/sequential/layers/dense/vars/0",
        "layers/sequential/layers/dense/vars/1",
    ]


def test_shared_layer_is_written_once_under_its_first_path(tmp_path):
    shared = layers.Dense(2)

    class Twice(lamina.Model):
        def __init__(self):
            super().__init__()
            self.first = shared
            self.second = shared

        def call(self, x):
            return self.second(self.first(x))

    model = Twice()
    model(np.ones((1, 2), "float32"))
    path = tmp_path / "t.weights.h5"
    model.save_weights(path)
    names = [name for name, shape, _ in _layout(path) if shape is not None]
    assert names == ["first/vars/0", "first/vars/1"]


def test_round_trip_restores_every_weight_and_predictions(tmp_path):
    model = _small_model()
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    other = _small_model()
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.rand(3, 4).astype("float32")
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), other.predict(x, verbose=0)
    )


def test_load_builds_the_optimizer_so_training_resumes_from_its_state(tmp_path):
    model = _small_model()
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    model.fit(np.ones((4, 4)), np.ones((4, 2)), epochs=2, verbose=0)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    other = _small_model()
    other.compile(lamina.optimizers.Adam(0.01), "mse")
    other.load_weights(path)
    assert other.optimizer.built and int(other.optimizer.iterations) == 2
    for a, b in zip(model.optimizer.variables, other.optimizer.variables):
        np.testing.assert_array_equal(
            a.detach().cpu().numpy(), b.detach().cpu().numpy()
        )


def test_mismatched_optimizer_is_skipped_with_a_warning(tmp_path):
    model = _small_model()
    model.compile(lamina.optimizers.Adam(), "mse")
    model.fit(np.ones((4, 4)), np.ones((4, 2)), epochs=1, verbose=0)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    other = _small_model()
    other.compile(lamina.optimizers.SGD(momentum=0.0), "mse")
    with pytest.warns(UserWarning, match="Skipping the optimizer state"):
        other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_shape_mismatch_names_layer_file_and_shapes(tmp_path):
    _small_model().save_weights(tmp_path / "m.weights.h5")
    wider = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(5), layers.Dropout(0.5), layers.Dense(2)]
    )
    with pytest.raises(ValueError, match=r"shape \(4, 5\).*holds shape \(4, 3\)"):
        wider.load_weights(tmp_path / "m.weights.h5")


def test_skip_mismatch_loads_what_matches_and_warns(tmp_path):
    source = _small_model()
    source.save_weights(tmp_path / "m.weights.h5")
    wider = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(5), layers.Dropout(0.5), layers.Dense(2)]
    )
    before = wider.layers[0].kernel.detach().clone()
    with pytest.warns(UserWarning, match="skip_mismatch=True"):
        wider.load_weights(tmp_path / "m.weights.h5", skip_mismatch=True)
    torch.testing.assert_close(wider.layers[0].kernel.detach(), before)
    np.testing.assert_array_equal(
        wider.layers[2].get_weights()[1], source.layers[2].get_weights()[1]
    )


def test_objects_to_skip_are_left_untouched(tmp_path):
    model = _small_model()
    model.save_weights(tmp_path / "m.weights.h5")
    other = _small_model()
    kept = other.layers[0].get_weights()
    other.load_weights(tmp_path / "m.weights.h5", objects_to_skip=[other.layers[0]])
    np.testing.assert_array_equal(other.layers[0].get_weights()[0], kept[0])
    np.testing.assert_array_equal(
        other.layers[2].get_weights()[0], model.layers[2].get_weights()[0]
    )


def test_save_weights_requires_the_keras_suffix_and_a_built_model(tmp_path):
    with pytest.raises(ValueError, match=r"must end in|ending in `\.weights\.h5`"):
        _small_model().save_weights(tmp_path / "m.h5")
    unbuilt = lamina.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        unbuilt.save_weights(tmp_path / "u.weights.h5")


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    path = tmp_path / "m.weights.h5"
    _small_model().save_weights(path)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        _small_model().save_weights(path, overwrite=False)


class Lazy(lamina.Model):
    def __init__(self):
        super().__init__()
        self.inner = layers.Dense(3)

    def call(self, x):
        return self.inner(x)


def test_unbuilt_layer_count_error_says_to_build_first(tmp_path):
    built = Lazy()
    built(np.ones((1, 2), "float32"))
    built.save_weights(tmp_path / "m.weights.h5")
    model = Lazy()
    model.built = True  # claims to be built, but `inner` never was
    with pytest.raises(ValueError, match="'inner'.*layer is not built"):
        model.load_weights(tmp_path / "m.weights.h5")


def test_parameters_outside_add_weight_are_refused_rather_than_lost(tmp_path):
    class Raw(layers.Layer):
        def __init__(self):
            super().__init__()
            # On lamina's device, as the inputs it will get. (A plain module
            # attribute is wrapped in TorchModuleWrapper, as Keras does; one in
            # a ModuleList is not.)
            device = lamina.backend.get_device()
            self.lin = torch.nn.ModuleList([torch.nn.Linear(2, 2, device=device)])

        def call(self, x):
            return self.lin[0](x)

    model = lamina.Sequential([lamina.Input((2,)), Raw()])
    with pytest.raises(ValueError, match=r"lin\.0\.weight.*add_weight"):
        model.save_weights(tmp_path / "r.weights.h5")
    assert not (tmp_path / "r.weights.h5").exists()


def test_custom_save_own_variables_is_used_both_ways(tmp_path):
    class Doubled(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(2,), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

        def save_own_variables(self, store):
            store["twice"] = self.w.detach() * 2

        def load_own_variables(self, store):
            with torch.no_grad():
                self.w.copy_(torch.from_numpy(store["twice"]) / 2)

    model = lamina.Sequential([lamina.Input((2,)), Doubled()])
    with torch.no_grad():
        model.layers[0].w.fill_(3.0)
    path = tmp_path / "d.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["layers/doubled/vars/twice"][()], [6.0, 6.0])
    other = lamina.Sequential([lamina.Input((2,)), Doubled()])
    other.load_weights(path)
    np.testing.assert_array_equal(other.layers[0].w.detach().cpu().numpy(), [3.0, 3.0])


def test_bfloat16_weights_are_written_as_keras_does_and_read_back_exactly(tmp_path):
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2, dtype="bfloat16")])
    path = tmp_path / "b.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        dataset = f["layers/dense/vars/0"]
        assert dataset.attrs["dtype"] == "bfloat16" and dataset.dtype.itemsize == 2
    other = lamina.Sequential([lamina.Input((3,)), layers.Dense(2, dtype="bfloat16")])
    other.load_weights(path)
    torch.testing.assert_close(
        other.layers[0].kernel.detach(), model.layers[0].kernel.detach(), rtol=0, atol=0
    )


def test_load_weights_reads_the_weights_inside_a_keras_file(tmp_path):
    model = _small_model()
    model.save(tmp_path / "m.keras")
    other = _small_model()
    other.load_weights(tmp_path / "m.keras")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_weights_rejects_unknown_suffixes_and_missing_files(tmp_path):
    model = _small_model()
    with pytest.raises(FileNotFoundError, match="no such file"):
        model.load_weights(tmp_path / "nope.weights.h5")
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ValueError, match="reads `.weights.h5`"):
        model.load_weights(tmp_path / "m.txt")
