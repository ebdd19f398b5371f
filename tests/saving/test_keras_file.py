"""Whole-model `.keras` files, configs (JSON/YAML) and clone_model."""

import json
import zipfile

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.saving import saving_api


def _model():
    return lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.25),
            layers.Dense(2),
        ]
    )


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.random((n, 4), dtype=np.float32), rng.random((n, 2), dtype=np.float32)


def test_archive_has_keras_members_in_keras_order_uncompressed(tmp_path):
    model = _model()
    model.compile("adam", "mse", metrics=["mae"])
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == [
            "metadata.json",
            "config.json",
            "model.weights.h5",
        ]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
    assert set(metadata) >= {"keras_version", "date_saved"}
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    assert config["build_config"] == {"input_shape": [None, 4]}
    compile_config = config["compile_config"]
    assert compile_config["loss"] == "mse" and compile_config["metrics"] == ["mae"]
    assert compile_config["optimizer"]["class_name"] == "Adam"
    assert compile_config["optimizer"]["module"] == "keras.optimizers"


def test_load_model_predicts_the_same_and_is_compiled(tmp_path):
    model = _model()
    model.compile(lamina.optimizers.RMSprop(0.01), "mse", metrics=["mae"])
    x, y = _data(16)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = lamina.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, lamina.Sequential) and loaded.compiled
    assert isinstance(loaded.optimizer, lamina.optimizers.RMSprop)
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0)
    )


def test_training_resumes_bit_for_bit_after_save_and_load(tmp_path):
    x, y = _data()

    def fresh():
        lamina.backend.clear_session()
        torch.manual_seed(1)
        model = lamina.Sequential(
            [
                lamina.Input((4,)),
                layers.Dense(8, activation="relu"),
                layers.Dense(2),
            ]
        )
        model.compile(lamina.optimizers.Adam(0.01), "mse", metrics=["mae"])
        return model

    straight = fresh()
    straight.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    interrupted = fresh()
    interrupted.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    interrupted.save(tmp_path / "ckpt.keras")
    resumed = lamina.saving.load_model(tmp_path / "ckpt.keras")
    resumed.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert int(resumed.optimizer.iterations) == 12
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compile_false_returns_an_uncompiled_model(tmp_path):
    model = _model()
    model.compile("adam", "mse")
    model.save(tmp_path / "m.keras")
    loaded = lamina.saving.load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled and loaded.optimizer is None


def test_uncompiled_model_round_trips_without_optimizer(tmp_path):
    model = _model()
    model.save(tmp_path / "m.keras")
    loaded = lamina.saving.load_model(tmp_path / "m.keras")
    assert not loaded.compiled
    x, _ = _data(4)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )


def test_functional_multi_output_model_round_trips(tmp_path):
    inputs = lamina.Input((4,), name="x")
    hidden = layers.Dense(3, activation="relu", name="h")(inputs)
    outputs = [layers.Dense(2, name="a")(hidden), layers.Dense(1, name="b")(hidden)]
    model = lamina.Model(inputs, outputs)
    model.compile("adam", ["mse", "mae"])
    x, _ = _data(8)
    model.fit(x, [x[:, :2], x[:, :1]], epochs=1, verbose=0)
    model.save(tmp_path / "f.keras")
    loaded = lamina.saving.load_model(tmp_path / "f.keras")
    for a, b in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.optimizer.iterations) == 1


@lamina.saving.register_keras_serializable(package="tests_saving")
class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@lamina.saving.register_keras_serializable(package="tests_saving")
class Tower(lamina.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="relu")
        self.scale = Scale(0.5)
        self.out = layers.Dense(1)

    def call(self, x):
        return self.out(self.scale(self.hidden(x)))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_registered_custom_layer_config_names_package_and_round_trips(tmp_path):
    model = lamina.Sequential([lamina.Input((3,)), Scale(3.0), layers.Dense(1)])
    config = json.loads(model.to_json())
    entry = config["config"]["layers"][1]
    assert entry["registered_name"] == "tests_saving>Scale"
    assert entry["config"]["factor"] == 3.0
    model.save(tmp_path / "s.keras")
    loaded = lamina.saving.load_model(tmp_path / "s.keras")
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )


def test_subclassed_model_with_get_config_saves_and_loads_whole(tmp_path):
    model = Tower(units=4)
    model.compile("sgd", "mse")
    x = np.random.rand(8, 3).astype("float32")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    model.save(tmp_path / "t.keras")
    loaded = lamina.saving.load_model(tmp_path / "t.keras")
    assert isinstance(loaded, Tower) and loaded.units == 4
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )


def test_unregistered_class_needs_custom_objects_and_says_so(tmp_path):
    class Local(layers.Layer):
        def call(self, x):
            return x + 1.0

    model = lamina.Sequential([lamina.Input((2,)), Local()])
    model.save(tmp_path / "l.keras")
    with pytest.raises(TypeError, match=r"l\.keras.*Could not locate class 'Local'"):
        lamina.saving.load_model(tmp_path / "l.keras")
    loaded = lamina.saving.load_model(
        tmp_path / "l.keras", custom_objects={"Local": Local}
    )
    np.testing.assert_array_equal(loaded.predict(np.zeros((1, 2)), verbose=0), [[1, 1]])
    with lamina.saving.custom_object_scope({"Local": Local}):
        assert isinstance(
            lamina.saving.load_model(tmp_path / "l.keras"), lamina.Sequential
        )


def test_subclassed_model_without_get_config_saves_weights_and_explains_load(tmp_path):
    class NoConfig(lamina.Model):
        def __init__(self, units):
            super().__init__()
            self.dense = layers.Dense(units)

        def call(self, x):
            return self.dense(x)

    model = NoConfig(2)
    model(np.ones((1, 3), "float32"))
    model.save_weights(tmp_path / "n.weights.h5")
    other = NoConfig(2)
    other(np.ones((1, 3), "float32"))
    other.load_weights(tmp_path / "n.weights.h5")
    np.testing.assert_array_equal(model.get_weights()[0], other.get_weights()[0])
    model.save(tmp_path / "n.keras")
    with pytest.raises(TypeError, match="get_config\\(\\) returns its constructor"):
        lamina.saving.load_model(
            tmp_path / "n.keras", custom_objects={"NoConfig": NoConfig}
        )


def test_json_round_trip_gives_same_architecture_fresh_weights():
    model = _model()
    text = model.to_json()
    clone = lamina.saving.model_from_json(text)
    assert [type(layer) for layer in clone.layers] == [
        type(layer) for layer in model.layers
    ]
    assert [w.shape for w in clone.get_weights()] == [
        w.shape for w in model.get_weights()
    ]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    assert json.loads(clone.to_json()) == json.loads(text)


def test_to_json_passes_json_dumps_arguments():
    assert model_has_newlines(_model().to_json(indent=2))


def model_has_newlines(text):
    return "\n" in text and json.loads(text)["class_name"] == "Sequential"


def test_yaml_round_trip_uses_safe_loader():
    pytest.importorskip("yaml")
    model = _model()
    text = model.to_yaml()
    clone = lamina.saving.model_from_yaml(text)
    assert [layer.name for layer in clone.layers] == [
        layer.name for layer in model.layers
    ]
    with pytest.raises(ValueError, match="invalid YAML|model"):
        lamina.saving.model_from_yaml("!!python/object/apply:os.system ['true']")


def test_yaml_without_pyyaml_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_yaml(name, *args, **kwargs):
        if name == "yaml":
            raise ImportError("no yaml")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(ImportError, match=r'pip install "lamina\[yaml\]"'):
        _model().to_yaml()


def test_clone_model_copies_architecture_not_weights():
    model = _model()
    clone = lamina.saving.clone_model(model)
    assert clone.output_shape == (None, 2)
    assert clone.layers[0] is not model.layers[0]
    assert [w.shape for w in clone.get_weights()] == [
        w.shape for w in model.get_weights()
    ]
    custom = lamina.saving.clone_model(
        model,
        clone_function=lambda layer: layer.__class__.from_config(layer.get_config()),
    )
    assert len(custom.layers) == 3


def test_folder_format_round_trips(tmp_path):
    model = _model()
    model.save(tmp_path / "folder", zipped=False)
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    loaded = lamina.saving.load_model(tmp_path / "folder")
    x, _ = _data(3)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )


def test_save_rejects_wrong_suffixes_with_the_fix(tmp_path):
    model = _model()
    with pytest.raises(ValueError, match="must end in `.keras`"):
        model.save(tmp_path / "m.zip")
    with pytest.raises(ValueError, match="save_format='h5' needs a path"):
        model.save(tmp_path / "m.keras5", save_format="h5")
    with pytest.raises(ValueError, match="save_weights"):
        model.save(tmp_path / "m.weights.h5")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)


def test_load_model_explains_weights_only_and_legacy_files(tmp_path):
    model = _model()
    model.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="holds only weights"):
        lamina.saving.load_model(tmp_path / "m.weights.h5")
    with pytest.raises(FileNotFoundError, match="old.h5"):
        lamina.saving.load_model(tmp_path / "old.h5")  # legacy .h5: tried, absent


def test_compile_from_config_builds_the_optimizer():
    model = _model()
    model.compile_from_config(
        {
            "optimizer": {
                "module": "keras.optimizers",
                "class_name": "SGD",
                "config": {"learning_rate": 0.5},
                "registered_name": None,
            },
            "loss": "mse",
            "metrics": ["mae"],
            "unknown_future_key": 1,
        }
    )
    assert model.compiled and model.optimizer.built
    assert model.optimizer.learning_rate == pytest.approx(0.5)


def test_save_model_function_and_method_agree(tmp_path):
    model = _model()
    saving_api.save_model(model, tmp_path / "a.keras")
    model.save(tmp_path / "b.keras")
    with (
        zipfile.ZipFile(tmp_path / "a.keras") as a,
        zipfile.ZipFile(tmp_path / "b.keras") as b,
    ):
        assert a.read("config.json") == b.read("config.json")


def _nested(lib=lamina):
    inner = lib.Sequential(
        [lib.layers.Dense(3, activation="relu"), lib.layers.Dense(3)], name="inner"
    )
    a = lib.Input((4,), name="a")
    sub_in = lib.Input((3,))
    sub = lib.Model([sub_in], [lib.layers.Dense(2)(sub_in)], name="sub")
    return lib.Model([a], [sub(inner(a))], name="outer")


def test_nested_models_round_trip_as_files_and_json(tmp_path):
    model = _nested()
    model.save(tmp_path / "n.keras")
    loaded = lamina.saving.load_model(tmp_path / "n.keras")
    x, _ = _data(3)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0)[0], model.predict(x, verbose=0)[0]
    )
    clone = lamina.saving.model_from_json(model.to_json())
    assert [type(layer).__name__ for layer in clone.layers] == [
        "InputLayer",
        "Sequential",
        "Functional",
    ]


class Vocab(layers.Layer):
    """A layer whose state is a file (`save_assets` / `load_assets`)."""

    def __init__(self, words=None, **kwargs):
        super().__init__(**kwargs)
        self.words = list(words or [])

    def call(self, x):
        return x

    def save_assets(self, dir_path):
        with open(f"{dir_path}/vocabulary.txt", "w") as f:
            f.write("\n".join(self.words))

    def load_assets(self, dir_path):
        with open(f"{dir_path}/vocabulary.txt") as f:
            self.words = f.read().split("\n")


def test_assets_are_written_after_the_weights_and_read_back(tmp_path):
    model = lamina.Sequential([lamina.Input((2,)), Vocab(["a", "b"])])
    model.save(tmp_path / "v.keras")
    with zipfile.ZipFile(tmp_path / "v.keras") as archive:
        assert archive.namelist()[3:] == ["assets/layers/vocab/vocabulary.txt"]
    loaded = lamina.saving.load_model(
        tmp_path / "v.keras", custom_objects={"Vocab": Vocab}
    )
    assert loaded.layers[0].words == ["a", "b"]
    model.save(tmp_path / "folder", zipped=False)
    again = lamina.saving.load_model(
        tmp_path / "folder", custom_objects={"Vocab": Vocab}
    )
    assert again.layers[0].words == ["a", "b"]


def test_save_and_load_through_file_objects():
    import io

    model = _model()
    buffer = io.BytesIO()
    lamina.saving.save_model(model, buffer)
    buffer.seek(0)
    loaded = lamina.saving.load_model(buffer)
    x, _ = _data(2)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_model_saved_right_after_compile_loads_without_warnings(tmp_path):
    model = _model()
    model.compile(lamina.optimizers.Adam(0.02), "mse")
    model.save(tmp_path / "c.keras")
    loaded = lamina.saving.load_model(tmp_path / "c.keras")  # -W error: no warning
    assert loaded.optimizer.built and int(loaded.optimizer.iterations) == 0
    assert loaded.optimizer.learning_rate == pytest.approx(0.02)


@lamina.saving.register_keras_serializable(package="tests_saving")
def doubled_mse(y_true, y_pred):
    return lamina.ops.mean(lamina.ops.square(y_true - y_pred), axis=-1) * 2.0


def test_custom_loss_schedule_and_metric_objects_survive_and_resume(tmp_path):
    x, y = _data(8)
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(2)])  # no dropout
    schedule = lamina.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=2, decay_rate=0.5
    )
    model.compile(
        lamina.optimizers.Adam(schedule),
        doubled_mse,
        metrics=["mae", lamina.metrics.MeanSquaredError()],
    )
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "c.keras")
    loaded = lamina.saving.load_model(tmp_path / "c.keras")
    assert loaded.loss is doubled_mse
    assert isinstance(
        loaded.optimizer._lr_schedule, lamina.optimizers.schedules.ExponentialDecay
    )
    kwargs = {"epochs": 1, "batch_size": 4, "shuffle": False, "verbose": 0}
    assert loaded.fit(x, y, **kwargs).history == model.fit(x, y, **kwargs).history
