"""Worker for test_data_parallel13.py: a model sharded by FSDP used the way a
one-process Keras script uses it (set_weights, Variable.assign, numpy(),
load_weights, EarlyStopping's restore, TensorBoard histograms), a GAN step on
uneven batches, and per-rank noise from unseeded `lamina.random` calls, run
under torchrun (2 CPU processes, gloo) or in one process for the reference.
Each `case_*` function returns `{name: array}`; under torchrun every rank saves
all of them to OUT/rank<k>.npz. Keys starting with `dist_` exist only under
torchrun.

    python -m torch.distributed.run --standalone --nproc-per-node 2 \\
        dp_worker13.py OUT                # every case
    ... dp_worker13.py OUT load noise     # chosen cases only
"""

import contextlib
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist

import lamina
from lamina import layers, ops

DISTRIBUTED = "RANK" in os.environ


def rank():
    return int(os.environ.get("RANK", 0))


def data(n, seed, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype("int64") % classes
    return x, y


def weights(prefix, model):
    return {f"{prefix}_w{i}": w for i, w in enumerate(model.get_weights())}


def arrays_like(model, seed):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()
    ]


def sync():
    """Rank 0 wrote a file the other ranks are about to read."""
    if dist.is_initialized():
        dist.barrier()


class fsdp:
    """FSDP(**kwargs) for the block under torchrun; nothing in one process."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def __enter__(self):
        if DISTRIBUTED:
            active = lamina.distribution.FSDP(**self.kwargs)
            lamina.distribution.set_distribution(active)

    def __exit__(self, *exc):
        if DISTRIBUTED:
            lamina.distribution.set_distribution(lamina.distribution.DataParallel())


def nested_model(seed, name="m"):
    """A Dense layer, then a Sequential used as a layer (sharded as one unit)."""
    lamina.utils.set_random_seed(seed)
    inner = lamina.Sequential(
        [layers.Dense(5, "relu", name="d1"), layers.Dense(3, "softmax", name="d2")],
        name="inner",
    )
    model = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(6, "tanh", name="d0"), inner], name=name
    )
    model.compile(lamina.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    return model


def shard_info(prefix, model):
    """What the model's weights are on this rank (torchrun only)."""
    if not DISTRIBUTED:
        return {}
    return {
        f"dist_{prefix}_classes": np.array(
            sorted({type(w).__name__ for w in model.weights})
        )
    }


# --- set_weights ------------------------------------------------------------------


def case_set_weights(out):
    """set_weights on a sharded model (also after predict left a layer
    gathered: `reshard_after_forward=False`), layer.set_weights, then more
    training, also with a layer frozen since; a wrong shape names the full
    shapes."""
    x, y = data(24, seed=1)
    result = {}
    for prefix, kwargs in (("sw", {}), ("sr", {"reshard_after_forward": False})):
        with fsdp(**kwargs):
            model = nested_model(2)
            model.fit(x, y, batch_size=8, epochs=1, verbose=0)
            result[f"{prefix}_p0"] = model.predict(x, batch_size=10, verbose=0)
            model.set_weights(arrays_like(model, 3))
            result[f"{prefix}_p1"] = model.predict(x, batch_size=10, verbose=0)
            inner = model.layers[1]
            inner.layers[0].set_weights(arrays_like(inner.layers[0], 4))
            result[f"{prefix}_p2"] = model.predict(x, batch_size=10, verbose=0)
            try:
                model.layers[0].set_weights([np.zeros((3, 6)), np.zeros(6)])
            except ValueError as error:
                result[f"{prefix}_error"] = np.array(str(error))
            h = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
            result[f"{prefix}_loss"] = np.asarray(h.history["loss"])
            # Freezing a layer keeps the shards; the rest trains on.
            model.layers[0].trainable = False
            model.compile(lamina.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=8, epochs=1, verbose=0)
            result.update(weights(prefix, model))
            result.update(shard_info(prefix, model))
    return result


# --- Variable.assign and friends ----------------------------------------------------


class Clip(lamina.callbacks.Callback):
    """A callback that edits a weight through the Variable API each epoch."""

    def on_epoch_end(self, epoch, logs=None):
        kernel = self.model.layers[0].kernel
        kernel.assign(np.clip(kernel.numpy(), -0.3, 0.3))
        self.model.layers[0].bias.assign_sub(0.01)


def case_assign(out):
    x, y = data(20, seed=5)
    with fsdp():
        model = nested_model(6)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        kernel, bias = model.layers[0].kernel, model.layers[0].bias
        result = {"as_shape": np.array(tuple(kernel.shape))}
        kernel.assign(np.arange(24, dtype="float64").reshape(4, 6) / 24.0)
        kernel.assign_add(np.full((4, 6), 0.5, "float32"))
        kernel.assign_sub(torch.linspace(0.0, 1.0, 6))  # broadcast over rows
        bias.assign(torch.ones(6))
        bias.assign_add(2.0)
        kernel.assign_add(kernel * 0.5)  # a sharded value: sliced alike already
        bias.assign(0.9 * bias + 0.1 * model.layers[1].layers[0].bias[:6].sum())
        result["as_numpy"] = kernel.numpy()
        result["as_convert"] = ops.convert_to_numpy(kernel)
        result["as_asarray"] = np.asarray(bias)
        result["as_mean"] = np.array(np.mean(kernel))
        result["as_value"] = ops.convert_to_numpy(kernel.value)
        result["as_name"] = np.array(f"{kernel.name} {kernel.path} {kernel.trainable}")
        try:
            kernel.assign(np.zeros((3,), "float32"))
        except ValueError as error:
            result["as_error"] = np.array(str(error))
        # The optimizer's (sharded) slots: read them, reset the velocities.
        slots = [v for v in model.optimizer.variables if v.path.endswith("_velocity")]
        result["as_velocity"] = slots[0].numpy()
        for slot in slots:
            slot.assign(np.zeros(tuple(slot.shape), "float32"))
        h = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[Clip()])
        result["as_loss"] = np.asarray(h.history["loss"])
        result.update(weights("as", model))
        result.update(shard_info("as", model))
        if DISTRIBUTED:
            result["dist_as_slot_classes"] = np.array(
                sorted({type(v).__name__ for v in slots})
            )
    return result


# --- load_weights into a sharded model -------------------------------------------


def case_load(out):
    """A reference model trained and saved (.keras with its optimizer state,
    .weights.h5, a legacy .h5, and get_state_tree in memory); a model sharded
    by its own fit loads each, predicts and trains on."""
    x, y = data(24, seed=7)
    folder = os.path.join(out, "files")
    os.makedirs(folder, exist_ok=True)
    keras_path = os.path.join(folder, "ref.keras")
    weights_path = os.path.join(folder, "ref.weights.h5")
    legacy_path = os.path.join(folder, "ref.h5")  # Keras 2's format
    result = {}
    with fsdp():
        reference = nested_model(8, name="m")
        reference.fit(x, y, batch_size=8, epochs=2, verbose=0)
        reference.save(keras_path)
        reference.save_weights(weights_path)
        with warnings.catch_warnings():  # "the legacy HDF5 format": meant
            warnings.simplefilter("ignore")
            reference.save(legacy_path)
        sync()
        for prefix, path in (
            ("lk", keras_path),
            ("lh", weights_path),
            ("ll", legacy_path),
        ):
            model = nested_model(9, name="m")
            model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
            model.load_weights(path)
            result[f"{prefix}_pred"] = model.predict(x, batch_size=10, verbose=0)
            result[f"{prefix}_iterations"] = np.array(int(model.optimizer.iterations))
            h = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
            result[f"{prefix}_loss"] = np.asarray(h.history["loss"])
            result.update(weights(prefix, model))
        # The same state through get_state_tree/set_state_tree, in memory.
        model = nested_model(9, name="m")
        model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
        model.set_state_tree(reference.get_state_tree("numpy_array"))
        result["st_pred"] = model.predict(x, batch_size=10, verbose=0)
        result["st_iterations"] = np.array(int(model.optimizer.iterations))
        h = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        result["st_loss"] = np.asarray(h.history["loss"])
        result.update(weights("st", model))
        # The file the sharded model wrote loads as an ordinary model.
        result["lr_pred"] = reference.predict(x, batch_size=24, verbose=0)
        plain = lamina.saving.load_model(keras_path)
        result["lp_pred"] = plain(x).detach().numpy()
    return result


# --- EarlyStopping(restore_best_weights=True) ----------------------------------------


def case_early_stopping(out):
    x, y = data(24, seed=10)
    xv, yv = data(12, seed=11)
    with fsdp():
        model = nested_model(12)
        model.compile(lamina.optimizers.SGD(2.5), "sparse_categorical_crossentropy")
        stopper = lamina.callbacks.EarlyStopping(
            monitor="val_loss", patience=1, restore_best_weights=True
        )
        h = model.fit(
            x,
            y,
            batch_size=8,
            epochs=8,
            validation_data=(xv, yv),
            verbose=0,
            callbacks=[stopper],
        )
        return {
            "es_val_loss": np.asarray(h.history["val_loss"]),
            "es_best_epoch": np.array(stopper.best_epoch),
            "es_stopped_epoch": np.array(stopper.stopped_epoch),
            "es_restored_loss": np.array(model.evaluate(xv, yv, verbose=0)),
            **weights("es", model),
        }


# --- TensorBoard weight histograms ---------------------------------------------------


def case_tensorboard(out):
    """Histograms of the whole weights, written by rank 0 only (into its
    own folder, OUT/logs0: rank 1's OUT/logs1 must not appear)."""
    x, y = data(16, seed=13)
    log_dir = os.path.join(out, f"logs{rank()}")
    with fsdp():
        model = nested_model(14)
        board = lamina.callbacks.TensorBoard(
            log_dir, histogram_freq=1, write_graph=False
        )
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[board])
    return {f"dist_tb_{w.path}": w.numpy() for w in model.weights}


# --- a GAN step on uneven batches ------------------------------------------------------


class GAN(lamina.Model):
    """A Keras-style GAN step: two optimizers, sub-models called directly."""

    def __init__(self):
        super().__init__()
        self.discriminator = lamina.Sequential(
            [lamina.Input((4,)), layers.Dense(4, "tanh"), layers.Dense(1)]
        )
        self.generator = lamina.Sequential([lamina.Input((2,)), layers.Dense(4)])

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def train_step(self, data):
        n = data.shape[0]
        latent = torch.full((n, 2), 0.3) + data[:, :2] * 0.1
        d, g = self.discriminator, self.generator
        labels = torch.cat([torch.ones(n, 1), torch.zeros(n, 1)])
        d.zero_grad()
        scores = d(torch.cat([g(latent).detach(), data]))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, labels)
        loss.backward()
        self.d_optimizer.apply(
            [v.grad for v in d.trainable_weights], d.trainable_weights
        )
        g.zero_grad()
        fooled = d(g(latent))
        g_loss = torch.nn.functional.binary_cross_entropy_with_logits(
            fooled, torch.zeros(n, 1)
        )
        g_loss.backward()
        self.g_optimizer.apply(
            [v.grad for v in g.trainable_weights], g.trainable_weights
        )
        return {}


def case_gan_uneven(out):
    """29 samples in batches of 8 (a 3 + 2 split last) and 33 (a last batch of
    one: rank 1 runs the step on a zero-weighted stand-in)."""
    result = {}
    with fsdp():
        for prefix, n in (("gu", 29), ("gi", 33)):
            x, _ = data(n, seed=15)
            lamina.utils.set_random_seed(16)
            model = GAN()
            model.compile(lamina.optimizers.SGD(0.1), lamina.optimizers.Adam(0.05))
            model.fit(x, batch_size=8, epochs=2, verbose=0)
            result.update(weights(prefix, model))
    return result


# --- a custom train_step that delegates to the built-in one --------------------------


class Delegating(lamina.Sequential):
    """A Keras pattern: a custom train_step around the built-in one."""

    def train_step(self, data):
        return super().train_step(data)


def case_super_step(out):
    """29 samples in batches of 8 (a 3 + 2 split last): the batch share
    weights the gradients once, under DDP (`sd`) and FSDP (`sf`)."""
    rng = np.random.default_rng(19)
    x = rng.standard_normal((29, 4)).astype("float32")
    y = rng.standard_normal((29, 2)).astype("float32")
    result = {}
    for prefix in ("sd", "sf"):
        with fsdp() if prefix == "sf" else contextlib.nullcontext():
            lamina.utils.set_random_seed(20)
            model = Delegating(
                [lamina.Input((4,)), layers.Dense(3, "tanh"), layers.Dense(2)]
            )
            model.compile(lamina.optimizers.SGD(0.3), "mse")
            model.fit(x, y, batch_size=8, epochs=2, verbose=0)
            result.update(weights(prefix, model))
    return result


# --- per-rank noise from unseeded lamina.random calls ------------------------------


class Noisy(layers.Layer):
    """Adds unseeded `lamina.random.normal` noise while training; keeps it."""

    def call(self, inputs, training=None):
        if training:
            noise = lamina.random.normal(ops.shape(inputs))
            self.last = noise.detach().clone()
            return inputs + noise
        return inputs


def case_noise(out):
    """DDP: each rank draws its own noise from Keras's global seed generator
    after set_random_seed, whether made in the first step (`gn`) or before
    fit (`gp`), and the weights stay identical on every rank."""
    x, y = data(16, seed=17)
    result = {}
    for prefix in ("gn", "gp"):
        lamina.utils.set_random_seed(18)
        if prefix == "gp":
            lamina.random.normal((2,))  # the global generator exists before fit
        noisy = Noisy()
        model = lamina.Sequential(
            [lamina.Input((4,)), noisy, layers.Dense(3, "softmax")]
        )
        model.compile(lamina.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        result[f"dist_{prefix}_noise"] = noisy.last.numpy()
        result.update(weights(f"dist_{prefix}", model))
    return result


def case_save_waits(out):
    """Rank 0's write of a sharded model's file is slow (its `os.replace`
    sleeps first); every rank reads the file as soon as its own `save`
    returns, with no barrier of its own."""
    x, y = data(16, seed=11)
    folder = os.path.join(out, "files")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "waited.keras")
    result = {}
    with fsdp():
        model = nested_model(12, name="m")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        replace = os.replace

        def slow_replace(source, target):
            time.sleep(1.0)
            replace(source, target)

        if rank() == 0:
            os.replace = slow_replace
        try:
            model.save(path)
        finally:
            os.replace = replace
        result["dist_sv_exists"] = np.array(os.path.exists(path))
        loaded = lamina.saving.load_model(path)
        result["dist_sv_loaded"] = loaded(x).detach().numpy()
        result["dist_sv_own"] = model.predict(x, batch_size=16, verbose=0)
    return result


CASES = [
    case_set_weights,
    case_assign,
    case_load,
    case_early_stopping,
    case_gan_uneven,
    case_super_step,
]
# Checked only under torchrun (no single-process equivalent).
DISTRIBUTED_CASES = [case_noise, case_save_waits, case_tensorboard]


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
    results = {}
    for case in selected:  # saved after each case: a failure hides nothing before it
        results.update(case(out))
        np.savez(os.path.join(out, f"rank{rank()}.npz"), **results)
