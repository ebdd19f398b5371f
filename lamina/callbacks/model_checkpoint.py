"""ModelCheckpoint: save the model or its weights during training."""

import os
import string
import warnings

from lamina.callbacks._io_utils import (
    check_writable_directory,
    is_chief,
    logs_to_floats,
    print_msg,
)
from lamina.callbacks.monitor_callback import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Save the model (`.keras`) or its weights (`.weights.h5`) as training goes.

    `filepath` may hold `str.format` fields filled at each save: `{epoch}`
    (1-based, as Keras numbers epochs in file names), `{batch}` (1-based, with
    an integer `save_freq`) and any logged value, e.g.
    `"ckpt/w.{epoch:02d}-{val_loss:.2f}.weights.h5"`. Each write goes through
    `model.save` / `model.save_weights`, which write atomically.

    Args:
        filepath: Path or template; must end in `.weights.h5` when
            `save_weights_only=True`, else in `.keras` (or legacy `.h5`).
        monitor: Logged value compared under `save_best_only`.
            Defaults to `"val_loss"`.
        verbose: 1 prints a line for each decision. Defaults to 0.
        save_best_only: Save only when `monitor` improves on the best value
            seen so far (the first value always counts). Defaults to `False`.
        save_weights_only: Save weights only (`model.save_weights`). Defaults
            to `False` (the whole model with `model.save`).
        mode: `"auto"`, `"min"` or `"max"` (see `MonitorCallback`).
        save_freq: `"epoch"` saves at each epoch end; an int `n` saves every
            `n` training batches (logs are then the batch's running values).
        initial_value_threshold: Starting "best" value under `save_best_only`:
            nothing is saved until `monitor` beats it.

    Raises:
        ValueError: For a bad `save_freq`, a wrong file extension or a template
            with positional fields `{}`.
        PermissionError: When training begins, if the checkpoint directory
            cannot be created or written.
        KeyError: At the first save, for a template field that is neither
            `epoch`, `batch` nor a logged name (the message lists those names).
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int)
        ):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                "'epoch' or a positive int (save every that many batches)."
            )
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "When using `save_weights_only=True` in `ModelCheckpoint`, the "
                "filepath provided must end in `.weights.h5` (Keras weights "
                f"format). Received: filepath={self.filepath}"
            )
        if not save_weights_only and (
            not self.filepath.endswith((".keras", ".h5"))
            or self.filepath.endswith(".weights.h5")
        ):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format) "
                "or `.h5` (legacy), or pass save_weights_only=True with a "
                "`.weights.h5` path. "
                f"Received: filepath={self.filepath}"
            )
        self._fields = _template_fields(self.filepath)

    def _should_write(self) -> bool:
        """Only one process of a distributed run writes checkpoints; with sharded
        (FSDP) weights every process takes part in the save, which gathers the
        full tensors, and only rank 0 writes the file."""
        model = self.model
        return is_chief() or bool(model is not None and model.__dict__.get("_fsdp"))

    def on_train_begin(self, logs=None):
        if not self._should_write():
            return
        method = "save_weights" if self.save_weights_only else "save"
        if not callable(getattr(self.model, method, None)):
            raise AttributeError(
                f"ModelCheckpoint needs model.{method}(), which "
                f"{type(self.model).__name__} does not have."
            )
        # Fail before the first epoch, not after it, on a bad directory.
        static = self.filepath.split("{", 1)[0]
        check_writable_directory(os.path.dirname(static), "ModelCheckpoint")
        if not self._fields and os.path.isdir(self.filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {self.filepath}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs_to_floats(logs))

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available. "
                f"Available: {', '.join(logs or {})}.",
                stacklevel=3,
            )
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(
                f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}"
            )
        return False

    def _save_model(self, epoch, batch, logs):
        if not self._should_write():
            return
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        directory = os.path.dirname(filepath)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            )
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs) -> str:
        logs = dict(logs or {})
        values = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            values["batch"] = batch + 1
        try:
            return self.filepath.format(**values)
        except KeyError as error:
            names = ["epoch"] + (["batch"] if batch is not None else []) + list(logs)
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". '
                f"Reason: no value named {error.args[0]!r}. Fields can be "
                f"{', '.join(names)}; fix the name in the template."
            ) from None


def _template_fields(filepath: str) -> list:
    """The field names of a `str.format` template; rejects positional fields."""
    try:
        parsed = list(string.Formatter().parse(filepath))
    except ValueError as error:
        raise ValueError(
            f"ModelCheckpoint cannot read the filepath template {filepath!r}: "
            f"{error}. Write literal braces as '{{{{' and '}}}}'."
        ) from None
    fields = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        name = field.split(".", 1)[0].split("[", 1)[0]
        if not name or name.isdigit():
            raise ValueError(
                f"ModelCheckpoint's filepath {filepath!r} has a positional field "
                f"'{{{field}}}'. Name every field, e.g. '{{epoch:02d}}' or "
                "'{val_loss:.2f}'."
            )
        fields.append(name)
    return fields
