"""Callbacks make the same decisions as Keras 3's on the same scripted logs."""

import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402
from lamina import callbacks  # noqa: E402

SHARED = [
    "BackupAndRestore",
    "CSVLogger",
    "EarlyStopping",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "RemoteMonitor",
    "SwapEMAWeights",
    "TensorBoard",
    "TerminateOnNaN",
]


def test_public_names_cover_keras():
    keras_names = {n for n in dir(keras.callbacks) if not n.startswith("_")}
    keras_names -= {"OrbaxCheckpoint"}  # Orbax is a JAX checkpoint library
    assert keras_names <= set(callbacks.__all__)


@pytest.mark.parametrize("name", SHARED)
def test_constructor_arguments_and_defaults_match_keras(name):
    ours = inspect.signature(getattr(callbacks, name)).parameters
    theirs = inspect.signature(getattr(keras.callbacks, name)).parameters
    assert list(ours) == list(theirs)
    for arg in theirs:
        assert ours[arg].default == theirs[arg].default, arg


class FakeOptimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


class FakeModel:
    """Just what the monitor callbacks touch, for both libraries."""

    def __init__(self):
        self.stop_training = False
        self.optimizer = FakeOptimizer(1.0)
        self.metrics = []
        self.saves = []
        self.step = 0

    def get_weights(self):
        return [np.array([self.step], "float32")]

    def set_weights(self, weights):
        self.restored = int(weights[0][0])

    def save_weights(self, filepath, overwrite=True):
        self.saves.append(filepath)

    def save(self, filepath, overwrite=True):
        self.saves.append(filepath)


def drive(callback, values, key="val_loss", epochs=None):
    """Run epoch hooks with scripted logs; returns what the callback did."""
    model = FakeModel()
    callback.set_model(model)
    callback.set_params({"epochs": len(values), "steps": 1, "verbose": 0})
    callback.on_train_begin()
    rates, stopped = [], None
    for epoch, value in enumerate(values):
        model.step = epoch
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 1.0, key: value})
        rates.append(float(model.optimizer.learning_rate))
        if model.stop_training:
            stopped = epoch
            break
    callback.on_train_end()
    return {
        "stopped": stopped,
        "rates": rates,
        "saves": [os.path.basename(p) for p in model.saves],
        "restored": getattr(model, "restored", None),
    }


def scripted(seed, n=12):
    rng = np.random.default_rng(seed)
    # a noisy, mostly decreasing curve with plateaus and exact repeats
    values = np.round(1.0 - np.cumsum(rng.normal(0.02, 0.05, n)), 2)
    values[rng.integers(0, n, 3)] = values[0]
    return [float(v) for v in values]


@pytest.mark.parametrize("seed", range(12))
def test_early_stopping_matches_keras(seed):
    rng = np.random.default_rng(100 + seed)
    kwargs = {
        "patience": int(rng.integers(0, 4)),
        "min_delta": float(rng.choice([0, 0.01, 0.05])),
        "baseline": [None, 0.9, 0.5][seed % 3],
        "start_from_epoch": int(rng.integers(0, 3)),
        "restore_best_weights": bool(seed % 2),
        "mode": ["min", "max", "auto"][seed % 3],
    }
    values = scripted(seed)
    ours = drive(callbacks.EarlyStopping(**kwargs), values)
    theirs = drive(keras.callbacks.EarlyStopping(**kwargs), values)
    assert ours == theirs


@pytest.mark.parametrize("seed", range(12))
def test_reduce_lr_on_plateau_matches_keras(seed):
    rng = np.random.default_rng(200 + seed)
    kwargs = {
        "factor": float(rng.choice([0.1, 0.5])),
        "patience": int(rng.integers(0, 3)),
        "min_delta": float(rng.choice([1e-4, 0.02])),
        "cooldown": int(rng.integers(0, 3)),
        "min_lr": float(rng.choice([0.0, 0.05])),
        "mode": ["min", "max", "auto"][seed % 3],
    }
    values = scripted(seed, n=15)
    ours = drive(callbacks.ReduceLROnPlateau(**kwargs), values)
    theirs = drive(keras.callbacks.ReduceLROnPlateau(**kwargs), values)
    np.testing.assert_allclose(ours["rates"], theirs["rates"], rtol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_model_checkpoint_saves_the_same_files_as_keras(seed, tmp_path):
    kwargs = {
        "filepath": str(tmp_path / "w.{epoch:02d}-{val_loss:.2f}.weights.h5"),
        "save_weights_only": True,
        "save_best_only": bool(seed % 2),
        "initial_value_threshold": [None, 0.8][seed // 3],
        "mode": ["min", "max", "auto"][seed % 3],
    }
    values = scripted(seed)
    ours = drive(callbacks.ModelCheckpoint(**kwargs), values)
    theirs = drive(keras.callbacks.ModelCheckpoint(**kwargs), values)
    assert ours["saves"] == theirs["saves"]


def test_model_checkpoint_batch_saves_match_keras(tmp_path):
    def run(cls):
        model = FakeModel()
        check = cls(str(tmp_path / "{epoch}-{batch}.keras"), save_freq=3)
        check.set_model(model)
        check.on_train_begin()
        for epoch in range(3):
            check.on_epoch_begin(epoch)
            for batch in range(4):
                check.on_train_batch_end(batch, {"loss": 0.5})
            check.on_epoch_end(epoch, {"loss": 0.5})
        return [os.path.basename(p) for p in model.saves]

    assert run(callbacks.ModelCheckpoint) == run(keras.callbacks.ModelCheckpoint)


def test_csv_logger_writes_the_same_bytes_as_keras(tmp_path):
    epochs = [
        {"loss": 0.5, "accuracy": 0.25, "learning_rate": 0.1},
        {"loss": 0.4, "accuracy": 0.5, "val_loss": 0.45, "learning_rate": 0.05},
        {"loss": 0.3, "accuracy": np.float32(0.75), "learning_rate": 0.05},
    ]

    def run(cls, path):
        logger = cls(str(path), separator=";")
        logger.set_model(FakeModel())
        logger.on_train_begin()
        for epoch, logs in enumerate(epochs):
            logger.on_epoch_end(epoch, dict(logs))
        logger.on_train_end()
        return path.read_bytes()

    assert run(callbacks.CSVLogger, tmp_path / "ours.csv") == run(
        keras.callbacks.CSVLogger, tmp_path / "theirs.csv"
    )


SCHEDULES = [
    ("ExponentialDecay", (0.1, 3, 0.5), {"staircase": True}),
    ("PiecewiseConstantDecay", ([2, 5], [0.1, 0.05, 0.01]), {}),
    ("PolynomialDecay", (0.1, 6), {"end_learning_rate": 0.01, "power": 2.0}),
    ("InverseTimeDecay", (0.1, 3, 0.5), {}),
    ("CosineDecay", (0.0, 5), {"warmup_target": 0.2, "warmup_steps": 3}),
    ("CosineDecayRestarts", (0.1, 2), {"t_mul": 2.0, "m_mul": 0.5}),
]


@pytest.mark.parametrize("name, args, kwargs", SCHEDULES)
def test_fit_with_a_schedule_ends_with_keras_weights(name, args, kwargs):
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(8, 1)
    y = 3 * x + 1

    def train(lib):
        schedule = getattr(lib.optimizers.schedules, name)(*args, **kwargs)
        model = lib.Sequential(
            [
                lib.Input((1,)),
                lib.layers.Dense(
                    1, kernel_initializer="ones", bias_initializer="zeros"
                ),
            ]
        )
        model.compile(lib.optimizers.SGD(schedule), "mse")
        model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
        # Keras variables wrap a torch tensor in `.value`; reading it directly
        # avoids Keras's NumPy-2 copy-keyword deprecation warning.
        tensors = [getattr(w, "value", w) for w in model.weights]
        return [t.detach().cpu().numpy().copy() for t in tensors]

    for ours, theirs in zip(train(lamina), train(keras)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
