"""Worker for the data-parallel test: trains, evaluates and predicts, then saves
what it saw to OUT/rank<k>.npz. Run under torchrun, or import `run` directly for
the single-process reference."""

import os
import sys

import numpy as np

import lamina
from lamina import layers


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((101, 6)).astype("float32")  # 101: uneven last batch
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    return x, y


def run_mixed():
    """A short mixed_bfloat16 fit: autocast inside the DDP-wrapped model."""
    lamina.utils.set_random_seed(1)
    lamina.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = lamina.Sequential(
            [lamina.Input((6,)), layers.Dense(8, "relu"), layers.Dense(3, "softmax")]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        x, y = data()
        history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    finally:
        lamina.mixed_precision.set_global_policy(None)
    return {
        "mixed_loss": np.array(history.history["loss"]),
        **{f"mixed_weight_{i}": w for i, w in enumerate(model.get_weights())},
    }


class Batches(lamina.utils.PyDataset):
    """Global batches of 24 (the last one 5), read from a PyDataset."""

    def __init__(self):
        super().__init__()
        self.x, self.y = data()

    def __len__(self):
        return 5

    def __getitem__(self, index):
        part = slice(index * 24, (index + 1) * 24)
        return self.x[part], self.y[part]


def run_sources():
    """Fit from a PyDataset and from a torch DataLoader: each global batch is split
    across ranks, so results equal one process."""
    import torch

    result = {}
    for kind in ("pydataset", "dataloader"):
        lamina.utils.set_random_seed(2)
        model = lamina.Sequential(
            [lamina.Input((6,)), layers.Dense(8, "relu"), layers.Dense(3, "softmax")]
        )
        model.compile(lamina.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        if kind == "pydataset":
            source = Batches()
        else:
            x, y = data()
            source = torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(
                    torch.from_numpy(x), torch.from_numpy(y)
                ),
                batch_size=24,
            )
        history = model.fit(source, epochs=2, verbose=0)
        result[f"{kind}_loss"] = np.array(history.history["loss"])
        for i, w in enumerate(model.get_weights()):
            result[f"{kind}_weight_{i}"] = w
    return result


def _bn_model(seed, optimizer):
    """Dense, BatchNormalization, Dense on 4 features, compiled with mse."""
    lamina.utils.set_random_seed(seed)
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            lamina.layers.Dense(8),
            lamina.layers.BatchNormalization(),
            lamina.layers.Dense(1),
        ]
    )
    model.compile(optimizer, "mse")
    return model


def run_state():
    """A model whose call updates state (BatchNormalization's moving
    statistics): under FSDP the updates must survive resharding."""
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = _bn_model(3, "sgd")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return {f"state_weight_{i}": w for i, w in enumerate(model.get_weights())}


def run_resume(folder):
    """BackupAndRestore under FSDP: every rank gathers the sharded weights for
    rank 0's backup, and a resumed fit loads them back into the shards."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")

    class Interrupt(lamina.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    def fit(callbacks):
        model = _bn_model(4, "adam")
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=4,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
        return model.get_weights()

    straight = fit([])
    backup = lamina.callbacks.BackupAndRestore(os.path.join(folder, "backup"))
    try:
        fit([backup, Interrupt()])
    except KeyboardInterrupt:
        pass
    resumed = fit([lamina.callbacks.BackupAndRestore(os.path.join(folder, "backup"))])
    result = {f"straight_weight_{i}": w for i, w in enumerate(straight)}
    result.update({f"resumed_weight_{i}": w for i, w in enumerate(resumed)})
    return result


def run():
    lamina.utils.set_random_seed(0)
    model = lamina.Sequential(
        [lamina.Input((6,)), layers.Dense(16, "relu"), layers.Dense(3, "softmax")]
    )
    model.compile(
        optimizer=lamina.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x, y = data()
    callbacks = []
    if "RANK" in os.environ and len(sys.argv) > 1:
        # Each rank gets its own folder: only rank 0's should receive files.
        folder = os.path.join(sys.argv[1], f"files_rank{os.environ['RANK']}")
        os.makedirs(folder, exist_ok=True)
        callbacks = [
            lamina.callbacks.ModelCheckpoint(os.path.join(folder, "model.keras")),
            lamina.callbacks.CSVLogger(os.path.join(folder, "log.csv")),
        ]
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        validation_split=0.2,
        verbose=0,
        callbacks=callbacks,
    )
    evaluation = model.evaluate(x, y, batch_size=16, verbose=0)
    predictions = model.predict(x, batch_size=20, verbose=0)
    # Executions of three batches: the second holds the 1-sample last batch,
    # whose split differs from its group's other batches'.
    model.steps_per_execution = 3
    grouped = model.predict(x, batch_size=20, verbose=0)
    model.steps_per_execution = 1
    result = {f"history_{k}": np.array(v) for k, v in history.history.items()}
    result.update({f"weight_{i}": w for i, w in enumerate(model.get_weights())})
    result["evaluation"] = np.array(evaluation)
    result["predictions"] = predictions
    result["grouped_predictions"] = grouped
    active = lamina.distribution.distribution()
    result["world_size"] = np.array(active.world_size if active else 1)
    result["wrapped_in_ddp"] = np.array("_ddp" in model.__dict__)
    result["sharded"] = np.array("_fsdp" in model.__dict__)
    return result


if __name__ == "__main__":
    out = sys.argv[1]
    if sys.argv[2:] == ["fsdp"]:
        lamina.distribution.set_distribution(lamina.distribution.FSDP())
        result = {**run(), **run_state(), **run_resume(out)}
    else:
        result = {**run(), **run_mixed(), **run_sources(), **run_state()}
    np.savez(os.path.join(out, f"rank{os.environ['RANK']}.npz"), **result)
