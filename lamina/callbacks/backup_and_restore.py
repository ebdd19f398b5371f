"""BackupAndRestore: resume a killed `fit` exactly where its last backup left it."""

import io
import json
import os
import random

import numpy as np
import torch

from lamina._lazy_modules import h5py
from lamina.backend.tensors import copy_into
from lamina.callbacks._io_utils import atomic_write, is_chief
from lamina.callbacks.callback import Callback
from lamina.random.seed_generator import SeedGenerator
from lamina.saving import h5_store
from lamina.trainers.data_adapters.keras_draws import retake_pass_end_draw

_FORMAT = "lamina.BackupAndRestore"
_VERSION = 1


class BackupAndRestore(Callback):
    """Back up the whole training state and restore it when `fit` runs again.

    Each backup holds the weights, the optimizer state (step count and
    learning rate included), the position in training (epoch and batch), the
    running loss/metric state of the epoch and every random number generator
    (torch CPU and CUDA, NumPy, Python `random`, the model's `SeedGenerator`s).
    It is one HDF5 file, written to a temporary name and renamed, so a crash at
    any moment (even `kill -9`) leaves the previous backup or the new one.

    Run the same script again after an interruption and `fit` continues from
    the last backup: later epochs start where they would have, batches come in
    the same order (shuffling replays from the saved generator state) and, on
    the CPU, the final weights are bit-identical to an uninterrupted run. A
    backup taken in the middle of an epoch resumes at the next batch (the
    batches before it are drawn and skipped, which replays the epoch's
    shuffle); the loss of that epoch still covers all of it, but compiled
    metrics (not the loss) cover only the batches after the resume point.

    Exact replay needs the same model, compile arguments, data and `fit`
    arguments; data sources that cannot replay an epoch (a plain generator, a
    `steps_per_epoch` shorter than the data) resume at the right step with
    different batches.

    Args:
        backup_dir: Directory of the backup; give each training run its own.
        save_freq: `"epoch"` backs up at each epoch end; an int `n` every `n`
            training batches.
        double_checkpoint: Also keep the previous backup, used if the latest
            one cannot be read. Defaults to `False`.
        delete_checkpoint: Delete the backup when `fit` finishes (not when it
            is interrupted). Defaults to `True`.

    Raises:
        ValueError: For a bad `save_freq`, or when a backup exists but the
            model is not built yet (build it, e.g. with an `Input`, first).
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint=False,
        delete_checkpoint=True,
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                "Empty `backup_dir` argument passed: BackupAndRestore needs a "
                "directory for this run's backup; got "
                f"backup_dir={backup_dir!r}."
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool)
            or not isinstance(save_freq, int)
            or save_freq < 1
        ):
            raise ValueError(
                "Invalid value for argument `save_freq`. Received: "
                f"save_freq={save_freq!r}. Expected either 'epoch' or a positive "
                "int (back up every that many batches)."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._backup_path = os.path.join(self.backup_dir, "backup.h5")
        self._previous_path = self._backup_path + ".bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        self._epoch_rng = None
        self._resume = None

    def _should_write(self) -> bool:
        """Only one process of a distributed run writes the backup."""
        return is_chief()

    # --- restoring --------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._resume = None
        # Data parallelism: rank 0's backup file for every rank (the others may
        # not see rank 0's disk).
        from lamina.distribution.data_parallel import bytes_from_primary

        data = bytes_from_primary(self._backup_bytes)
        state = None if data is None else _read(io.BytesIO(data), self._backup_path)
        if state is None:
            return
        model = self.model
        if not model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, your model must be built "
                f"before you call `fit()`. Model '{model.name}' is unbuilt: give "
                "it an Input, call model.build(input_shape), or call it on a "
                "batch of data first."
            )
        _assign(model.weights, state["model"], "model weights")
        optimizer = model.optimizer
        if optimizer is not None and state["optimizer"]:
            if not optimizer.built:
                optimizer.build(model.trainable_weights)
            optimizer.load_own_variables(state["optimizer"])
        self._resume = state
        model._initial_epoch = state["epoch"]
        model._initial_step = state["step"]

    def _backup_bytes(self):
        """The newest readable backup file's contents, or None."""
        for path in (self._backup_path, self._previous_path):
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            try:
                _read(io.BytesIO(data), path)
                return data
            except OSError:
                if path == self._previous_path or not os.path.exists(
                    self._previous_path
                ):
                    raise
        return None

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        resume = self._resume
        if resume is not None and epoch == resume["epoch"]:
            _set_rng(resume["rng_epoch"], self.model)
            if resume["step"] > 0:
                _assign_metrics(self.model, resume["metrics"])
                self._resume = {**resume, "pending_step_rng": True}
            else:
                self._resume = None
        self._epoch_rng = _get_rng(self.model)

    def on_train_batch_begin(self, batch, logs=None):
        self._apply_step_rng()

    def on_test_begin(self, logs=None):
        self._apply_step_rng(pass_ended=True)

    def _apply_step_rng(self, pass_ended=False):
        """At the first batch after a mid-epoch resume point, replay its RNG.

        `pass_ended`: the resume point was the epoch's last batch; restoring
        the generator undid the draw Keras takes at a pass's end, which is
        taken again (after `set_random_seed` only).
        """
        if self._resume is not None and self._resume.get("pending_step_rng"):
            _set_rng(self._resume["rng_step"], self.model)
            self._resume = None
            if pass_ended:
                retake_pass_end_draw()

    # --- saving -------------------------------------------------------------------

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save(self._current_epoch, batch + 1, self._epoch_rng)

    def on_epoch_end(self, epoch, logs=None):
        self._apply_step_rng(pass_ended=True)
        self._current_epoch = epoch + 1  # epochs done, as Keras counts them
        self._last_batch_seen = None
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0, None)

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save(self, epoch, step, epoch_rng):
        model = self.model
        # Sharded weights (FSDP) are gathered by every rank together; then
        # only rank 0 writes.
        if not self._should_write() and not model.__dict__.get("_fsdp"):
            return
        rng_now = _get_rng(model)
        optimizer_store = {}
        if model.optimizer is not None and getattr(model.optimizer, "built", False):
            model.optimizer.save_own_variables(optimizer_store)
        metrics = {
            metric.name: [_to_numpy(v) for v in metric.variables]
            for metric in model.metrics
            if getattr(metric, "variables", None)
        }
        state = {
            "epoch": epoch,
            "step": step,
            "model": [_to_numpy(w) for w in model.weights],
            "optimizer": optimizer_store,
            "metrics": metrics,
            "rng_epoch": epoch_rng if epoch_rng is not None else rng_now,
            "rng_step": rng_now,
        }
        if not self._should_write():
            return
        keep = self._previous_path if self.double_checkpoint else None
        atomic_write(self._backup_path, lambda path: _write(path, state), keep)

    def on_train_end(self, logs=None):
        self._resume = None
        if not (self.delete_checkpoint and self._should_write()):
            return
        # Only this callback's files: never a directory the user shares.
        for path in (self._backup_path, self._previous_path):
            if os.path.exists(path):
                os.remove(path)
        if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)


# --- the backup file ---------------------------------------------------------------


def _to_numpy(tensor) -> np.ndarray:
    from lamina.backend import convert_to_numpy  # gathers sharded (FSDP) tensors

    return convert_to_numpy(tensor)


def _write(path, state):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = _FORMAT
        f.attrs["version"] = _VERSION
        f.attrs["epoch"] = state["epoch"]
        f.attrs["step"] = state["step"]
        _write_list(f.create_group("model"), state["model"])
        group = f.create_group("optimizer")
        for key, value in state["optimizer"].items():
            group.create_dataset(key, data=value)
        metrics = f.create_group("metrics")
        metrics.attrs["names"] = json.dumps(list(state["metrics"]))
        for i, values in enumerate(state["metrics"].values()):
            _write_list(metrics.create_group(str(i)), values)
        for kind in ("rng_epoch", "rng_step"):
            group = f.create_group(kind)
            for key, value in state[kind].items():
                group.create_dataset(key, data=value)


def _write_list(group, arrays):
    for i, value in enumerate(arrays):
        group.create_dataset(str(i), data=value)


def _read_list(group) -> list:
    return [np.asarray(group[str(i)]) for i in range(len(group))]


def _read(source, path) -> dict:
    """The state in a backup read from `source` (a file or file object; `path`
    names it in errors)."""
    # A damaged file must fail here, not spin inside libhdf5.
    h5_store.check_global_heaps(source, str(path))
    with h5py.File(source, "r") as f:
        if f.attrs.get("format") != _FORMAT:
            raise OSError(
                f"{path} is not a BackupAndRestore backup written by lamina. "
                "Use an empty backup_dir for each training run."
            )
        names = json.loads(f["metrics"].attrs["names"])
        return {
            "epoch": int(f.attrs["epoch"]),
            "step": int(f.attrs["step"]),
            "model": _read_list(f["model"]),
            "optimizer": {
                key: np.asarray(f["optimizer"][key]) for key in f["optimizer"]
            },
            "metrics": {
                name: _read_list(f["metrics"][str(i)]) for i, name in enumerate(names)
            },
            "rng_epoch": {key: np.asarray(v) for key, v in f["rng_epoch"].items()},
            "rng_step": {key: np.asarray(v) for key, v in f["rng_step"].items()},
        }


@torch.no_grad()
def _assign(tensors, arrays, what):
    if len(tensors) != len(arrays):
        raise ValueError(
            f"BackupAndRestore cannot restore the {what}: the backup has "
            f"{len(arrays)} tensors but the model has {len(tensors)}. The model "
            "must be the one that was backed up; use a new backup_dir otherwise."
        )
    for tensor, value in zip(tensors, arrays):
        if tuple(tensor.shape) != tuple(value.shape):
            raise ValueError(
                f"BackupAndRestore cannot restore '{getattr(tensor, 'path', '?')}': "
                f"the backup has shape {value.shape}, the model {tuple(tensor.shape)}."
            )
        copy_into(tensor, value)


def _assign_metrics(model, saved):
    """Put back the running state of the metrics that exist now (by name)."""
    for metric in model.metrics:
        values = saved.get(metric.name)
        variables = getattr(metric, "variables", None) or []
        if values is None or len(values) != len(variables):
            continue
        if all(tuple(v.shape) == a.shape for v, a in zip(variables, values)):
            _assign(variables, values, f"metric '{metric.name}'")


# --- random number generators ----------------------------------------------------


def _seed_generators(model) -> list:
    """The model's SeedGenerators, in a stable order (module order, then attribute)."""
    found, seen = [], set()
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, SeedGenerator) and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
    return found


def _get_rng(model) -> dict:
    state = {"torch_cpu": torch.get_rng_state().numpy()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            state[f"torch_cuda_{i}"] = cuda_state.numpy()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy_keys"] = np.asarray(keys, dtype=np.uint32)
    state["numpy_rest"] = np.array([pos, has_gauss, cached], dtype=np.float64)
    version, internal, gauss_next = random.getstate()
    state["python_state"] = np.asarray(internal, dtype=np.int64)
    state["python_rest"] = np.array(
        [version, np.nan if gauss_next is None else gauss_next], dtype=np.float64
    )
    generators = _seed_generators(model)
    state["seed_generators"] = np.array(
        [[g._seed, g._counter] for g in generators], dtype=np.int64
    ).reshape(len(generators), 2)
    return state


def _set_rng(state, model) -> None:
    torch.set_rng_state(torch.as_tensor(np.asarray(state["torch_cpu"], np.uint8)))
    cuda = sorted(k for k in state if k.startswith("torch_cuda_"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(
            [torch.as_tensor(np.asarray(state[k], np.uint8)) for k in cuda]
        )
    pos, has_gauss, cached = state["numpy_rest"].tolist()
    np.random.set_state(
        ("MT19937", state["numpy_keys"], int(pos), int(has_gauss), cached)
    )
    version, gauss_next = state["python_rest"].tolist()
    random.setstate(
        (
            int(version),
            tuple(int(v) for v in state["python_state"]),
            None if np.isnan(gauss_next) else gauss_next,
        )
    )
    generators = _seed_generators(model)
    saved = state["seed_generators"]
    if len(saved) == len(generators):
        for generator, (seed, counter) in zip(generators, saved.tolist()):
            generator._seed, generator._counter = int(seed), int(counter)
