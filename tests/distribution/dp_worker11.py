"""Worker for test_data_parallel11.py: a sweep of fit/evaluate/predict settings
run data-parallel under torchrun (2 CPU processes, gloo) or in one process for
the reference. Each `case_*` function returns `{name: array}`; under torchrun
every rank saves all of them to OUT/rank<k>.npz.

    python -m torch.distributed.run --standalone --nproc-per-node 2 \
        dp_worker11.py OUT                # every case
    ... dp_worker11.py OUT dropout        # chosen cases only
"""

import os
import sys

import numpy as np
import torch

import lamina
from lamina import layers


def class_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype("int64")
    return x, y


def weights(prefix, model):
    return {f"{prefix}_w{i}": w for i, w in enumerate(model.get_weights())}


def history(prefix, h):
    return {f"{prefix}_h_{k}": np.asarray(v, "float64") for k, v in h.history.items()}


def rank():
    return int(os.environ.get("RANK", 0))


# --- a custom train_step on a rank whose slice of a batch is empty -------------


class TwoUpdates(lamina.Model):
    """A train_step the built-in one cannot stand in for: two forward/backward
    passes and two optimizer updates per batch, its own sample counter and a
    loss Mean weighted by the batch size."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = lamina.metrics.Sum(name="seen")
        self.loss_mean = lamina.metrics.Mean(name="loss_mean")

    def train_step(self, data):
        x, y = data
        for _ in range(2):
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            self.zero_grad()
            loss.backward()
            self.optimizer.apply(
                [v.grad for v in self.trainable_weights], self.trainable_weights
            )
        n = x.shape[0]
        self.seen.update_state(float(n))
        self.loss_mean.update_state(loss.detach(), sample_weight=float(n))
        for metric in self.metrics:
            if metric.name == "compile_metrics":
                metric.update_state(y, y_pred.detach())
        return {m.name: m.result() for m in self.metrics}


def case_custom_idle(out, prefix="ci"):
    # 33 samples in batches of 8: the last global batch holds one sample, so
    # rank 1 has nothing in it and runs the step on a zero-weighted stand-in.
    x, y = class_data(33, seed=1)
    lamina.utils.set_random_seed(2)
    inputs = lamina.Input((4,))
    outputs = layers.Dense(2, "softmax")(layers.Dense(8, "tanh")(inputs))
    model = TwoUpdates(inputs, outputs)
    model.compile(
        lamina.optimizers.Adam(0.02),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    h = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return {
        **history(prefix, h),
        **weights(prefix, model),
        f"{prefix}_iterations": np.array(int(model.optimizer.iterations)),
    }


def case_fsdp_custom(out):
    """The same custom step with its parameters sharded by FSDP (the gradients
    of a softmax output's logits included)."""
    if "RANK" not in os.environ:
        return case_custom_idle(out, prefix="fc")
    lamina.distribution.set_distribution(lamina.distribution.FSDP())
    try:
        return case_custom_idle(out, prefix="fc")
    finally:
        lamina.distribution.set_distribution(lamina.distribution.DataParallel())


# --- validation data, evaluate, predict, metrics, weights ------------------------


def two_output_model(seed):
    lamina.utils.set_random_seed(seed)
    inputs = lamina.Input((4,), name="x")
    hidden = layers.Dense(8, "tanh")(inputs)
    label = layers.Dense(2, "softmax", name="label")(hidden)
    score = layers.Dense(1, "sigmoid", name="score")(hidden)
    return lamina.Model(inputs, {"label": label, "score": score})


def case_eval_predict(out):
    """A two-output model: fit with validation_data and steps_per_execution,
    then evaluate and predict with batches that leave a rank empty."""
    x, y = class_data(37, seed=3)
    xv, yv = class_data(23, seed=4)
    targets = {"label": y, "score": y[:, None].astype("float32")}
    val_targets = {"label": yv, "score": yv[:, None].astype("float32")}
    model = two_output_model(5)
    model.compile(
        lamina.optimizers.Adam(0.02),
        {"label": "sparse_categorical_crossentropy", "score": "binary_crossentropy"},
        metrics={
            "label": [lamina.metrics.SparseCategoricalAccuracy(name="sca")],
            "score": [
                lamina.metrics.AUC(name="auc"),
                lamina.metrics.Precision(name="precision"),
                lamina.metrics.Recall(name="recall"),
            ],
        },
        steps_per_execution=3,
    )
    h = model.fit(
        x,
        targets,
        batch_size=12,  # 37 = 3 * 12 + 1: the last batch leaves rank 1 empty
        epochs=2,
        validation_data=(xv, val_targets),
        validation_batch_size=5,  # 23 = 4 * 5 + 3: a 2 + 1 split
        verbose=0,
    )
    result = {**history("ep", h), **weights("ep", model)}
    for batch_size in (5, 12, 36):
        evaluation = model.evaluate(
            x, targets, batch_size=batch_size, verbose=0, return_dict=True
        )
        for key, value in evaluation.items():
            result[f"ep_eval{batch_size}_{key}"] = np.asarray(value)
        predictions = model.predict(x, batch_size=batch_size, verbose=0)
        for key, value in predictions.items():
            result[f"ep_pred{batch_size}_{key}"] = value
    return result


def case_weighted(out):
    """sample_weight in fit and evaluate, class_weight in fit, with weighted
    metrics whose states are sums over every rank's samples."""
    x, y = class_data(45, seed=6)
    sw = np.linspace(0.1, 3.0, 45).astype("float32")
    result = {}
    for name, kwargs in (
        ("sw", dict(sample_weight=sw)),
        ("cw", dict(class_weight={0: 0.3, 1: 2.0})),
    ):
        lamina.utils.set_random_seed(7)
        model = lamina.Sequential(
            [lamina.Input((4,)), layers.Dense(6, "relu"), layers.Dense(2, "softmax")]
        )
        model.compile(
            lamina.optimizers.SGD(0.2, momentum=0.5),
            "sparse_categorical_crossentropy",
            metrics=["sparse_categorical_accuracy"],
            weighted_metrics=[lamina.metrics.SparseCategoricalCrossentropy(name="xe")],
        )
        h = model.fit(x, y, batch_size=10, epochs=2, verbose=0, **kwargs)
        result.update({**history(name, h), **weights(name, model)})
        result[f"{name}_eval"] = np.array(
            model.evaluate(x, y, sample_weight=sw, batch_size=11, verbose=0)
        )
    return result


# --- callbacks ---------------------------------------------------------------------


def case_checkpoint(out):
    """ModelCheckpoint (weights, every epoch) writes one file, from rank 0; every
    rank reads it back after fit. EarlyStopping stops every rank at the same
    epoch; ReduceLROnPlateau leaves the same rate everywhere."""
    x, y = class_data(40, seed=8)
    xv, yv = class_data(20, seed=9)
    path = os.path.join(out, "checkpoint.weights.h5")  # one shared folder
    lamina.utils.set_random_seed(10)
    model = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(8, "tanh"), layers.Dense(2, "softmax")]
    )
    model.compile(lamina.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    stopper = lamina.callbacks.EarlyStopping(monitor="val_loss", min_delta=0.02)
    plateau = lamina.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=0.5
    )
    checkpoint = lamina.callbacks.ModelCheckpoint(path, save_weights_only=True)
    h = model.fit(
        x,
        y,
        batch_size=8,
        epochs=15,
        validation_data=(xv, yv),
        verbose=0,
        callbacks=[stopper, plateau, checkpoint],
    )
    reread = lamina.models.clone_model(model)
    reread.load_weights(path)
    return {
        **history("ck", h),
        **weights("ck", model),
        **weights("ck_reread", reread),
        "ck_stopped_epoch": np.array(stopper.stopped_epoch),
        "ck_lr": np.array(float(model.optimizer.learning_rate)),
    }


# --- noise ---------------------------------------------------------------------------


class Recorder(layers.Layer):
    """Passes its input through and keeps the last training input (the mask)."""

    def call(self, inputs, training=None):
        if training:
            self.last = inputs.detach().clone()
        return inputs


def case_dropout(out):
    """Each rank draws its own Dropout masks, unseeded (torch's generator,
    seeded by set_random_seed on every rank) or seeded (a SeedGenerator),
    while the weights stay identical on every rank."""
    x, y = class_data(32, seed=11)
    result = {}
    for name, seed in (("do", None), ("ds", 3)):
        lamina.utils.set_random_seed(12)
        recorder = Recorder()
        model = lamina.Sequential(
            [
                lamina.Input((4,)),
                layers.Dense(16, "relu", kernel_initializer="ones"),
                layers.Dropout(0.5, seed=seed),
                recorder,
                layers.Dense(2, "softmax"),
            ]
        )
        model.compile(lamina.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.fit(np.abs(x) + 1.0, y, batch_size=16, epochs=1, verbose=0)
        result[f"{name}_mask"] = (recorder.last != 0).numpy()
        result.update(weights(name, model))
    return result


class GAN(lamina.Model):
    """A Keras-style GAN step: two optimizers, sub-models called directly
    (not through the model, so not through DistributedDataParallel)."""

    def __init__(self):
        super().__init__()
        self.discriminator = lamina.Sequential(
            [lamina.Input((4,)), layers.Dense(4, "tanh"), layers.Dense(1)]
        )
        self.generator = lamina.Sequential([lamina.Input((2,)), layers.Dense(4)])
        self.d_loss = lamina.metrics.Mean(name="d_loss")

    def call(self, inputs):
        return self.discriminator(inputs)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def train_step(self, data):
        n = data.shape[0]
        latent = torch.full((n, 2), 0.3)
        d, g = self.discriminator, self.generator
        labels = torch.cat([torch.ones(n, 1), torch.zeros(n, 1)])
        d.zero_grad()
        scores = d(torch.cat([g(latent).detach(), data]))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, labels)
        loss.backward()
        d_weights = d.trainable_weights
        self.d_optimizer.apply([v.grad for v in d_weights], d_weights)
        g.zero_grad()
        fooled = d(g(latent))
        g_loss = torch.nn.functional.binary_cross_entropy_with_logits(
            fooled, torch.zeros(n, 1)
        )
        g_loss.backward()
        g_weights = g.trainable_weights
        self.g_optimizer.apply([v.grad for v in g_weights], g_weights)
        self.d_loss.update_state(loss.detach())
        return {"d_loss": self.d_loss.result()}


def _gan_fit(prefix):
    x, _ = class_data(32, seed=13)
    lamina.utils.set_random_seed(14)
    model = GAN()
    model.compile(lamina.optimizers.SGD(0.1), lamina.optimizers.SGD(0.1))
    h = model.fit(x, batch_size=8, epochs=2, verbose=0)
    return {
        f"{prefix}_d_loss": np.asarray(h.history["d_loss"]),
        **weights(prefix, model),
    }


def case_gan_refused(out):
    """Under DDP the sub-models' gradients are not averaged: fit raises the
    same error on every rank at the first epoch's end instead of going on
    with diverged replicas."""
    try:
        _gan_fit("gan")
    except RuntimeError as error:
        return {"gan_error": np.array(str(error))}
    return {"gan_error": np.array("")}


def case_gan_fsdp(out):
    """Under FSDP every sub-model is sharded and averages its own gradients:
    the GAN trains as in one process (32 samples: even slices)."""
    if "RANK" not in os.environ:
        return _gan_fit("gf")
    lamina.distribution.set_distribution(lamina.distribution.FSDP())
    try:
        return _gan_fit("gf")
    finally:
        lamina.distribution.set_distribution(lamina.distribution.DataParallel())


CASES = [
    case_custom_idle,
    case_eval_predict,
    case_weighted,
    case_checkpoint,
    case_fsdp_custom,
    case_gan_fsdp,
]
# Checked only under torchrun (no single-process equivalent).
DISTRIBUTED_CASES = [case_dropout, case_gan_refused]


def run_all(out, cases=CASES):
    result = {}
    for case in cases:
        result.update(case(out))
    return result


if __name__ == "__main__":
    out = sys.argv[1]
    torch.set_num_threads(1)
    if sys.argv[2:]:
        selected = [globals()[f"case_{name}"] for name in sys.argv[2:]]
    else:
        selected = CASES + DISTRIBUTED_CASES
    results = run_all(out, selected)
    np.savez(os.path.join(out, f"rank{rank()}.npz"), **results)
