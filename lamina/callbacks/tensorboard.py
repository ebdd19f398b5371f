"""TensorBoard: write event files that TensorBoard shows live, without TensorFlow."""

import contextlib
import os
import time
import warnings

import numpy as np
import torch

from lamina import backend
from lamina.callbacks._io_utils import is_chief, logs_to_floats
from lamina.callbacks._learning_rates import rate_owners
from lamina.callbacks.callback import Callback

_INSTALL_HINT = (
    "The TensorBoard callback writes event files with torch.utils.tensorboard, "
    "which needs the `tensorboard` package (TensorFlow is not needed). Install "
    'it with: pip install "lamina[tensorboard]"  (or: pip install tensorboard).'
)


def _summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError(f"{_INSTALL_HINT} ({error})") from None
    return SummaryWriter


class TensorBoard(Callback):
    """Log training to TensorBoard: scalars, weight histograms and the graph.

    Event files go to `<log_dir>/train` and `<log_dir>/validation`, with the
    tags Keras uses, so dashboards and scripts written for Keras keep working:

    - each epoch (step = 0-based epoch): `epoch_loss`, `epoch_<metric>` and
      `epoch_learning_rate` in `train/`; `epoch_loss`, `epoch_<metric>` in
      `validation/` (the `val_` prefix dropped); `epoch_steps_per_second` with
      `write_steps_per_second`;
    - after each validation: `evaluation_<name>_vs_iterations` in
      `validation/` at step = optimizer iterations;
    - with `update_freq="batch"` or an int `n`: `batch_loss`, `batch_<metric>`
      every `n` training batches (step = 1-based global batch). Reading batch
      values waits for the device, so prefer a few hundred over 1 on a GPU;
    - with `histogram_freq=n`: a histogram `<weight path>/histogram` (e.g.
      `sequential/dense/kernel/histogram`) of every weight every `n` epochs, and with
      `write_images` the weights as images `<weight path>/image`;
    - with `write_graph`: the model's op graph (traced once with a zero batch
      shaped like the model's inputs; skipped with a warning if tracing fails)
      and, for Sequential and functional models, the `keras` conceptual graph
      (the model's JSON config, as Keras writes it);
    - with `profile_batch`: a `torch.profiler` trace of those batches, written
      to `train/` as `*.pt.trace.json` (open with Perfetto / chrome://tracing
      or the torch-tb-profiler TensorBoard plugin);
    - with `embeddings_freq=n`: the `Embedding` layers' tables for the
      TensorBoard projector every `n` epochs.

    View with `tensorboard --logdir ./logs`.

    Args:
        log_dir: Directory of the event files. Defaults to `"logs"`.
        histogram_freq: Epochs between weight histograms; 0 disables them.
        write_graph: Write the model graph. Defaults to `True`.
        write_images: Also write weights as images (with `histogram_freq`).
        write_steps_per_second: Log training steps per second.
        update_freq: `"epoch"` (the default), `"batch"` (every batch) or an
            int `n` (every `n` batches) for the `batch_*` scalars.
        profile_batch: 0 (off), a 1-based batch number, or a `(start, stop)`
            pair / `"start,stop"` string of batches to profile.
        embeddings_freq: Epochs between embedding snapshots; 0 disables them.
        embeddings_metadata: A labels file (one label per line, or a TSV with
            a header row) for every `Embedding`, or a dict from layer name to
            such a file.

    Raises:
        ImportError: If the `tensorboard` package is missing.
        ValueError: For a bad `update_freq` or `profile_batch`.
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        self._writer_class = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _non_negative_int(histogram_freq, "histogram_freq")
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = _update_freq(update_freq)
        self.embeddings_freq = _non_negative_int(embeddings_freq, "embeddings_freq")
        self.embeddings_metadata = embeddings_metadata
        self._start_batch, self._stop_batch = _profile_range(profile_batch)
        self._should_trace = self._stop_batch > 0
        self._profiler = None
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = 0.0
        self._batch_start_time = 0.0
        self._writers = {}
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._should_write_graph = False

    # --- writers ----------------------------------------------------------------

    def _should_write(self) -> bool:
        """Whether this process writes events (rank 0 of a distributed run)."""
        return is_chief()

    def _writer(self, kind):
        if kind not in self._writers:
            directory = self._train_dir if kind == "train" else self._val_dir
            self._writers[kind] = self._writer_class(log_dir=directory)
        return self._writers[kind]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        # As Keras, the event directories follow `log_dir` as it is when the
        # callback is attached (KerasTuner points it at each trial's folder).
        self._train_dir = os.path.join(os.fspath(self.log_dir), "train")
        self._val_dir = os.path.join(os.fspath(self.log_dir), "validation")
        self._should_write_graph = bool(self.write_graph)

    # --- hooks ------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        if self.embeddings_freq:
            self._check_embeddings_metadata()

    def on_train_end(self, logs=None):
        self._stop_profiler()
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = self._iterations()
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        histograms = bool(self.histogram_freq) and epoch % self.histogram_freq == 0
        embeddings = bool(self.embeddings_freq) and epoch % self.embeddings_freq == 0
        if not self._should_write():
            if self.model.__dict__.get("_fsdp"):
                # Sharded weights are gathered by every rank together (a
                # collective); rank 0 alone writes them.
                if histograms:
                    self._weight_arrays()
                if embeddings:
                    self._embedding_tables()
            return
        self._log_epoch_metrics(epoch, logs)
        if histograms:
            self._log_weights(epoch)
        if embeddings:
            self._log_embeddings(epoch)
        for writer in self._writers.values():
            writer.flush()  # so a running TensorBoard shows the epoch now

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()
        if self._should_trace and self._global_train_batch == self._start_batch:
            self._start_profiler()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self._should_write_graph:
            self._should_write_graph = False
            if self._should_write():
                self._log_keras_model_config()
                self._log_graph()
        if (
            self.update_freq != "epoch"
            and step % self.update_freq == 0
            and self._should_write()
        ):
            writer = self._writer("train")
            if self.write_steps_per_second:
                elapsed = max(time.time() - self._batch_start_time, 1e-12)
                writer.add_scalar("batch_steps_per_second", 1.0 / elapsed, step)
            for name, value in logs_to_floats(logs).items():
                writer.add_scalar(f"batch_{name}", value, step)
        if self._profiler is not None and step >= self._stop_batch:
            self._stop_profiler()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if not self._should_write() or optimizer is None or not logs:
            return
        if not hasattr(optimizer, "iterations"):
            return
        step = int(optimizer.iterations)
        writer = self._writer("val")
        for name, value in logs_to_floats(logs).items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", value, step)
        writer.flush()

    # --- epoch scalars, weights, graph -----------------------------------------

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        values = logs_to_floats(logs)
        train = {k: v for k, v in values.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in values.items() if k.startswith("val_")}
        self._collect_learning_rate(train)
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start_time, 1e-12)
            done = self._iterations() - self._previous_epoch_iterations
            train["steps_per_second"] = done / elapsed
        for kind, scalars in (("train", train), ("val", val)):
            if scalars:
                writer = self._writer(kind)
                for name, value in scalars.items():
                    writer.add_scalar(f"epoch_{name}", value, epoch)

    def _collect_learning_rate(self, logs):
        """Add the rate(s) to `logs`: `learning_rate`, or one
        `learning_rate_<name>` per inner optimizer of a `MultiOptimizer`."""
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        for key, owner in rate_owners(optimizer):
            try:
                logs[key] = float(owner.learning_rate)
            except (AttributeError, TypeError, ValueError):
                pass
        return logs

    def _iterations(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "iterations"):
            return 0
        return int(optimizer.iterations)

    def _weight_arrays(self):
        """`(name, float32 array)` for every weight of the model's layers,
        whole (a sharded weight is gathered, on every rank at once)."""
        return [
            (
                (getattr(weight, "path", None) or layer.name).replace(":", "_"),
                np.asarray(backend.convert_to_numpy(weight), dtype=np.float32),
            )
            for layer in self.model.layers
            for weight in layer.weights
        ]

    def _embedding_tables(self):
        """`(layer, whole table as a float32 CPU tensor)` per Embedding layer."""
        tables = []
        for layer in self._embedding_layers():
            values = backend.convert_to_numpy(layer.embeddings)
            tables.append((layer, torch.from_numpy(np.asarray(values, np.float32))))
        return tables

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for name, values in self._weight_arrays():
            writer.add_histogram(f"{name}/histogram", values, epoch)
            if self.write_images:
                image = _weight_image(values)
                if image is not None:
                    writer.add_images(f"{name}/image", image, epoch, dataformats="NHWC")
        writer.flush()

    def _log_keras_model_config(self):
        """The model's JSON config as the `keras` tag, which TensorBoard's graph
        dashboard draws as a conceptual graph of layers (as Keras writes it)."""
        if type(self.model).__name__ not in ("Functional", "Sequential"):
            return
        try:
            json_string = self.model.to_json()
        except Exception as error:  # a config is a nicety, never fatal
            warnings.warn(
                f"TensorBoard could not write the model config ({error}).",
                stacklevel=2,
            )
            return
        from tensorboard.compat.proto import types_pb2
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.compat.proto.tensor_pb2 import TensorProto

        metadata = SummaryMetadata()
        metadata.plugin_data.plugin_name = "graph_keras_model"
        metadata.plugin_data.content = b"1"
        tensor = TensorProto(
            dtype=types_pb2.DT_STRING, string_val=[json_string.encode("utf-8")]
        )
        value = Summary.Value(tag="keras", metadata=metadata, tensor=tensor)
        writer = self._writer("train")
        writer._get_file_writer().add_summary(Summary(value=[value]), 0)

    def _log_graph(self):
        """Trace the model once on zeros shaped like its inputs and write the graph.

        The trace runs in inference mode, without gradients and on a forked RNG,
        so it changes no weight, statistic or random stream of the training run.
        """
        if self.model.__dict__.get("_fsdp"):
            # Tracing runs the model on rank 0 alone; a sharded forward needs
            # every rank (its weights are gathered as it runs).
            warnings.warn(
                "TensorBoard does not write the model graph of a model sharded "
                "with FSDP (write_graph=True); the model config is written.",
                stacklevel=2,
            )
            return
        sample = _sample_inputs(self.model)
        if sample is None:
            warnings.warn(
                "TensorBoard could not write the model graph: the model's input "
                "shape is unknown. Give the model an Input or build() it.",
                stacklevel=2,
            )
            return
        model = self.model
        was_training = model.training
        devices = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
        try:
            with (
                warnings.catch_warnings(),
                torch.random.fork_rng(devices=devices),
                torch.no_grad(),
            ):
                warnings.simplefilter("ignore")
                model.train(False)
                self._writer("train").add_graph(model, sample)
        except Exception as error:  # tracing is best effort, never fatal
            warnings.warn(
                "TensorBoard could not trace the model graph with "
                f"torch.jit.trace ({type(error).__name__}: {error}); scalars and "
                "histograms are still written. Pass write_graph=False to skip it.",
                stacklevel=2,
            )
        finally:
            model.train(was_training)

    # --- embeddings -------------------------------------------------------------

    def _embedding_layers(self):
        return [
            layer
            for layer in self.model.layers
            if isinstance(getattr(layer, "embeddings", None), torch.Tensor)
        ]

    def _check_embeddings_metadata(self):
        if isinstance(self.embeddings_metadata, dict):
            names = {layer.name for layer in self._embedding_layers()}
            unknown = sorted(set(self.embeddings_metadata) - names)
            if unknown:
                raise ValueError(
                    "Unrecognized `Embedding` layer names passed to TensorBoard's "
                    f"`embeddings_metadata`: {unknown}. The model's Embedding "
                    f"layers are {sorted(names)}."
                )

    def _log_embeddings(self, epoch):
        writer = self._writer("train")
        for layer, table in self._embedding_tables():
            path = self.embeddings_metadata
            if isinstance(path, dict):
                path = path.get(layer.name)
            metadata, header = _read_metadata(path) if path else (None, None)
            if metadata is not None and len(metadata) != table.shape[0]:
                raise ValueError(
                    f"TensorBoard embeddings_metadata {path!r} has "
                    f"{len(metadata)} labels but Embedding '{layer.name}' has "
                    f"{table.shape[0]} rows. Give one label per row."
                )
            writer.add_embedding(
                table,
                metadata=metadata,
                metadata_header=header,
                global_step=epoch,
                tag=layer.name,
            )

    # --- profiling --------------------------------------------------------------

    def _start_profiler(self):
        if self._profiler is not None or not self._should_write():
            return
        from torch import profiler

        activities = [profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(profiler.ProfilerActivity.CUDA)
        self._profiler = profiler.profile(
            activities=activities,
            on_trace_ready=profiler.tensorboard_trace_handler(self._train_dir),
        )
        with _quiet_profiler():
            self._profiler.start()

    def _stop_profiler(self):
        if self._profiler is not None:
            profiler, self._profiler = self._profiler, None
            with _quiet_profiler():
                profiler.stop()


@contextlib.contextmanager
def _quiet_profiler():
    """torch's profiler warns on CUDA that it "clears events at the end of each
    cycle": true and intended here, since each profiled range is one trace."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Profiler clears events")
        yield


def _non_negative_int(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"TensorBoard expects `{name}` to be an int >= 0 (0 turns it off); "
            f"got {name}={value!r}."
        )
    return int(value)


def _update_freq(value):
    if value == "batch":
        return 1
    if value == "epoch":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            "TensorBoard expects `update_freq` to be 'epoch', 'batch' or a "
            f"positive int (write batch scalars every that many batches); got "
            f"update_freq={value!r}."
        )
    return int(value)


def _profile_range(profile_batch):
    """`(start, stop)` 1-based batches to profile; `(0, 0)` means off."""
    message = (
        "profile_batch must be a non-negative integer or 2-tuple of positive "
        "integers. A pair of positive integers signifies a range of batches "
        f"to profile. Found: {profile_batch!r}"
    )
    value = profile_batch
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.split(",")]
        except ValueError:
            raise ValueError(message) from None
        value = value[0] if len(value) == 1 else value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        start = stop = int(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        start, stop = (int(v) for v in value)
    else:
        raise ValueError(message)
    if start < 0 or stop < start:
        raise ValueError(message)
    return start, stop


def _sample_inputs(model):
    """Zeros shaped like one batch of the model's inputs, or `None`."""
    from lamina.backend import get_device, to_torch_dtype

    device = get_device()
    inputs = getattr(model, "inputs", None)
    if inputs:
        tensors = [
            torch.zeros(
                [1 if d is None else d for d in spec.shape],
                dtype=to_torch_dtype(getattr(spec, "dtype", None) or "float32"),
                device=device,
            )
            for spec in inputs
        ]
        return tensors[0] if len(tensors) == 1 else (tensors,)
    shape = getattr(model, "_build_shapes", None)
    if isinstance(shape, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in shape
    ):
        return torch.zeros([1 if d is None else d for d in shape], device=device)
    return None


def _weight_image(values):
    """A weight as an NHWC image batch, as Keras draws it, or `None`."""
    image = np.squeeze(values)
    if image.ndim == 1:  # a bias: one row
        return image.reshape(1, 1, image.shape[0], 1)
    if image.ndim == 2:  # a dense kernel, wide side horizontal
        if image.shape[0] > image.shape[1]:
            image = image.T
        return image.reshape(1, image.shape[0], image.shape[1], 1)
    if image.ndim == 3:  # a conv kernel: one image per output channel
        image = np.transpose(image, (2, 0, 1))
        return image.reshape(image.shape[0], image.shape[1], image.shape[2], 1)
    return None


def _read_metadata(path):
    """Labels from a projector metadata file: `(labels, header)`."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if any("\t" in line for line in lines):
        header = lines[0].split("\t")
        return [line.split("\t") for line in lines[1:]], header
    return lines, None
