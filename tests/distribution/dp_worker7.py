"""Worker for test_data_parallel7.py: Keras scripts with callbacks, odd data and
training settings, run data-parallel under torchrun or in one process for the
reference. Each `case_*` function returns `{name: array}`; under torchrun every
rank saves all of them to OUT/rank<k>.npz.

    python -m torch.distributed.run --standalone --nproc-per-node 2 \
        dp_worker7.py OUT            # every case, then rank 1 raises
    ... dp_worker7.py OUT uneven jit  # chosen cases only
"""

import os
import sys

import numpy as np
import torch

import lamina
from lamina import layers


def regression_data(n=45, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = (x @ np.arange(1, features + 1, dtype="float32") / features)[:, None]
    y = y + 0.5 * rng.standard_normal((n, 1)).astype("float32")
    return x, y


def class_data(n=45, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype("int64")
    y = y + (x[:, 1] > 0.8).astype("int64")
    return x, y


def mlp(outputs=1, activation=None, seed=0, hidden=8):
    lamina.utils.set_random_seed(seed)
    return lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(hidden, "tanh"),
            layers.Dense(outputs, activation),
        ]
    )


def weights(prefix, model):
    return {f"{prefix}_w{i}": w for i, w in enumerate(model.get_weights())}


def history(prefix, h):
    return {f"{prefix}_h_{k}": np.asarray(v, "float64") for k, v in h.history.items()}


def rank_folder(out, name):
    """A folder per rank (only rank 0's should receive files)."""
    rank = os.environ.get("RANK", "single")
    folder = os.path.join(out, f"{name}_rank{rank}")
    os.makedirs(folder, exist_ok=True)
    return folder


class BatchCounter(lamina.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


# --- callbacks ---------------------------------------------------------------


def case_callbacks(out):
    """EarlyStopping(restore_best_weights) + ReduceLROnPlateau + ModelCheckpoint
    (save_best_only) + CSVLogger on validation_split data."""
    x, y = regression_data(60, seed=1)
    model = mlp(seed=3)
    model.compile(lamina.optimizers.SGD(0.3), "mse", metrics=["mae"])
    folder = rank_folder(out, "callbacks")
    stopper = lamina.callbacks.EarlyStopping(
        monitor="val_loss", patience=2, restore_best_weights=True
    )
    plateau = lamina.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=0, min_delta=1e-3
    )
    best = lamina.callbacks.ModelCheckpoint(
        os.path.join(folder, "best.keras"), monitor="val_loss", save_best_only=True
    )
    csv = lamina.callbacks.CSVLogger(os.path.join(folder, "log.csv"))
    h = model.fit(
        x,
        y,
        batch_size=8,
        epochs=12,
        validation_split=0.25,
        verbose=0,
        callbacks=[stopper, plateau, best, csv],
    )
    return {
        **history("cb", h),
        **weights("cb", model),
        "cb_stopped_epoch": np.array(stopper.stopped_epoch),
        "cb_best_epoch": np.array(stopper.best_epoch),
        "cb_lr": np.array(float(model.optimizer.learning_rate)),
        "cb_predictions": model.predict(x, verbose=0),
    }


class RaiseAtEpoch(lamina.callbacks.Callback):
    def __init__(self, epoch, ranks=None):
        super().__init__()
        self.epoch, self.ranks = epoch, ranks

    def on_epoch_begin(self, epoch, logs=None):
        rank = int(os.environ.get("RANK", 0))
        if epoch == self.epoch and (self.ranks is None or rank in self.ranks):
            raise RuntimeError(f"interrupted at epoch {epoch}")


def _backup_fit(backup_dir, extra=()):
    x, y = regression_data(50, seed=2)
    model = mlp(seed=4)
    model.compile(lamina.optimizers.Adam(0.01), "mse")
    callbacks = [lamina.callbacks.BackupAndRestore(backup_dir), *extra]
    h = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=callbacks)
    return model, h


def case_backup(out):
    """Interrupt at epoch 2 (every rank), run the script again: the resumed run
    ends with the uninterrupted run's weights."""
    backup_dir = os.path.join(out, "backup")  # shared by the ranks, as on one host
    interrupted = 0
    try:
        _backup_fit(backup_dir, [RaiseAtEpoch(2)])
    except RuntimeError:
        interrupted = 1
    resumed, h = _backup_fit(backup_dir)
    straight, h_straight = _backup_fit(os.path.join(out, "backup_straight"))
    return {
        "bk_interrupted": np.array(interrupted),
        "bk_epochs_after_resume": np.array(len(h.history["loss"])),
        **weights("bk_resumed", resumed),
        **weights("bk_straight", straight),
    }


def case_terminate_on_nan(out):
    """The third batch's second half (rank 1's slice under 2 processes) holds an
    overflowing target: both ranks stop after that batch."""
    x, y = regression_data(40, seed=5)
    y = y.copy()
    y[8 * 2 + 6] = 1e30  # batch 2 (of 8 samples), position 6: rank 1's slice
    model = mlp(seed=6)
    model.compile(lamina.optimizers.SGD(0.01), "mse")
    counter = BatchCounter()
    h = model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[lamina.callbacks.TerminateOnNaN(), counter],
    )
    return {
        "nan_batches": np.array(counter.batches),
        "nan_epochs": np.array(len(h.history["loss"])),
    }


# --- data ----------------------------------------------------------------------


def case_uneven(out):
    """33 samples, batch 8: the last global batch holds 1 sample, so rank 1's
    slice of it is empty. fit, evaluate and predict count every sample once."""
    x, y = class_data(33, seed=7)
    model = mlp(3, "softmax", seed=8)
    model.compile(
        lamina.optimizers.Adam(0.02),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    h = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    result = {**history("un", h), **weights("un", model)}
    for batch_size in (8, 10, 32, 64):
        result[f"un_eval_{batch_size}"] = np.array(
            model.evaluate(x, y, batch_size=batch_size, verbose=0)
        )
        result[f"un_pred_{batch_size}"] = model.predict(
            x, batch_size=batch_size, verbose=0
        )
    return result


def case_weights(out):
    """sample_weight and class_weight; steps_per_epoch shorter than the data
    (each epoch goes on where the last one stopped)."""
    x, y = class_data(45, seed=9)
    result = {}
    sw = np.linspace(0.2, 2.0, 45).astype("float32")
    model = mlp(3, "softmax", seed=10)
    model.compile(
        lamina.optimizers.SGD(0.1),
        "sparse_categorical_crossentropy",
        weighted_metrics=["accuracy"],
    )
    h = model.fit(x, y, sample_weight=sw, batch_size=8, epochs=2, verbose=0)
    result.update({**history("sw", h), **weights("sw", model)})
    result["sw_eval"] = np.array(
        model.evaluate(x, y, sample_weight=sw, batch_size=7, verbose=0)
    )
    model = mlp(3, "softmax", seed=10)
    model.compile(lamina.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    h = model.fit(
        x, y, class_weight={0: 1.0, 1: 3.0, 2: 0.5}, batch_size=8, epochs=2, verbose=0
    )
    result.update({**history("cw", h), **weights("cw", model)})
    model = mlp(3, "softmax", seed=10)
    model.compile(lamina.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    counter = BatchCounter()
    h = model.fit(
        x, y, batch_size=8, epochs=3, steps_per_epoch=3, verbose=0, callbacks=[counter]
    )
    result.update({**history("spe", h), **weights("spe", model)})
    result["spe_batches"] = np.array(counter.batches)
    return result


def batches_forever(x, y, batch_size):
    while True:
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]


def case_generator(out):
    """A generator (every rank runs its own copy of it: the same global batches,
    each rank keeps its slice)."""
    x, y = regression_data(45, seed=11)
    model = mlp(seed=12)
    model.compile(lamina.optimizers.SGD(0.05), "mse")
    h = model.fit(batches_forever(x, y, 10), steps_per_epoch=5, epochs=2, verbose=0)
    return {**history("gen", h), **weights("gen", model)}


# --- training settings -----------------------------------------------------------


def _settings_model(seed=13, **compile_kwargs):
    model = mlp(3, "softmax", seed=seed)
    optimizer = compile_kwargs.pop("optimizer", None) or lamina.optimizers.Adam(0.02)
    model.compile(
        optimizer,
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **compile_kwargs,
    )
    return model


def case_settings(out):
    x, y = class_data(45, seed=14)
    result = {}
    runs = {
        "spx": dict(steps_per_execution=4),
        "acc": dict(
            optimizer=lamina.optimizers.Adam(0.02, gradient_accumulation_steps=2)
        ),
    }
    for name, kwargs in runs.items():
        model = _settings_model(**kwargs)
        h = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        result.update({**history(name, h), **weights(name, model)})
        result[f"{name}_eval"] = np.array(model.evaluate(x, y, batch_size=8, verbose=0))
    return result


def case_jit(out):
    x, y = class_data(45, seed=14)
    model = _settings_model(jit_compile=True)
    h = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return {
        **history("jit", h),
        **weights("jit", model),
        "jit_eval": np.array(model.evaluate(x, y, batch_size=8, verbose=0)),
    }


class CustomStep(lamina.Model):
    """A Keras-style custom train_step: compute_loss, backward, optimizer."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        self.zero_grad()
        loss.backward()
        self.optimizer.apply(
            [v.grad for v in self.trainable_weights], self.trainable_weights
        )
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss.detach())
            else:
                metric.update_state(y, y_pred.detach())
        return {m.name: m.result() for m in self.metrics}


def case_custom_step(out):
    # 45: the last batch (5) splits 3 + 2. The gradient is exact (DDP's hook
    # weights each rank's share); this step's own unweighted loss Mean is not.
    x, y = regression_data(45, seed=15)
    lamina.utils.set_random_seed(16)
    inputs = lamina.Input((4,))
    outputs = layers.Dense(1)(layers.Dense(8, "tanh")(inputs))
    model = CustomStep(inputs, outputs)
    model.compile(lamina.optimizers.SGD(0.05), "mse")
    h = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return {**history("cs", h), **weights("cs", model)}


def case_batchnorm(out):
    x, y = regression_data(48, seed=17)
    lamina.utils.set_random_seed(18)
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            layers.Dense(8),
            layers.BatchNormalization(),
            layers.Dense(1),
        ]
    )
    model.compile(lamina.optimizers.SGD(0.05), "mse")
    h = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    bn = model.layers[1]
    return {
        **history("bn", h),
        "bn_moving_mean": bn.moving_mean.detach().numpy().copy(),
        "bn_moving_variance": bn.moving_variance.detach().numpy().copy(),
        "bn_eval": np.array(model.evaluate(x, y, batch_size=8, verbose=0)),
        "bn_pred": model.predict(x, batch_size=8, verbose=0),
    }


def case_metrics(out):
    """Metrics whose state is not a plain (sum, count) pair."""
    x, y = class_data(45, seed=19)
    one_hot = np.eye(3, dtype="float32")[y]
    model = mlp(3, "softmax", seed=20)
    model.compile(
        lamina.optimizers.Adam(0.02),
        "categorical_crossentropy",
        metrics=[
            lamina.metrics.AUC(name="auc"),
            lamina.metrics.F1Score(average="macro", name="f1"),
            lamina.metrics.R2Score(name="r2"),
            lamina.metrics.Precision(top_k=2, name="p_at_2"),
            lamina.metrics.TopKCategoricalAccuracy(k=2, name="top2"),
        ],
    )
    h = model.fit(x, one_hot, batch_size=8, epochs=2, verbose=0)
    evaluation = model.evaluate(x, one_hot, batch_size=7, verbose=0, return_dict=True)
    return {
        **history("mt", h),
        **{f"mt_eval_{k}": np.asarray(v) for k, v in sorted(evaluation.items())},
    }


def case_mismatched_lengths(out):
    """Each rank passes a different number of samples: a clear error on every
    rank (not a hang)."""
    rank = int(os.environ.get("RANK", 0))
    x, y = regression_data(40 + 8 * rank, seed=21)
    model = mlp(seed=22)
    model.compile("sgd", "mse")
    try:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    except ValueError as error:
        return {"mm_error": np.array(str(error))}
    return {"mm_error": np.array("")}


# Every case the test runs (case_jit, ~90 s of compiling on 2 busy cores, is
# run by hand: `... dp_worker7.py OUT jit`).
CASES = [
    case_callbacks,
    case_backup,
    case_terminate_on_nan,
    case_uneven,
    case_weights,
    case_generator,
    case_settings,
    case_custom_step,
    case_batchnorm,
    case_metrics,
]


def run_all(out, cases=CASES):
    result = {}
    for case in cases:
        result.update(case(out))
    return result


def raise_on_one_rank(out):
    """Rank 1 raises at the start of epoch 1 while rank 0 goes on training: the
    launcher must end both (rank 0 never writes `finished_rank0`)."""
    x, y = regression_data(40, seed=23)
    model = mlp(seed=24)
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[RaiseAtEpoch(1, {1})])
    with open(os.path.join(out, f"finished_rank{os.environ['RANK']}"), "w") as f:
        f.write("rank 1 raised, yet this rank finished fit()")


if __name__ == "__main__":
    out = sys.argv[1]
    torch.set_num_threads(1)
    if sys.argv[2:]:  # chosen cases only
        selected = [globals()[f"case_{name}"] for name in sys.argv[2:]]
        results = run_all(out, selected)
        np.savez(os.path.join(out, f"rank{os.environ['RANK']}.npz"), **results)
        sys.exit(0)
    results = {**run_all(out), **case_mismatched_lengths(out)}
    np.savez(os.path.join(out, f"rank{os.environ['RANK']}.npz"), **results)
    raise_on_one_rank(out)  # last: it ends this launch with an error
