"""Distributions: how `fit` spreads work over processes, on torch.distributed.

One process per device, launched with `torchrun`. `DataParallel` replicates the
model (PyTorch `DistributedDataParallel`) and splits every global batch across the
processes; metrics and losses are summed across processes so every rank logs the
single-process numbers. Under `torchrun` (WORLD_SIZE > 1) a DataParallel
distribution is set up automatically on first use; scripts need no change.
"""

import contextlib
import os
import warnings

import numpy as np
import torch
import torch.distributed as dist

from lamina.backend import device as device_lib

_DISTRIBUTION = None
_AUTO_CHECKED = False


class Distribution:
    """Base class: where the model's replicas and data shards live.

    Args:
        device_mesh: A `DeviceMesh` describing the devices. Defaults to `None`.
        batch_dim_name: The mesh axis the batch is split along. Defaults to
            `None`.
        auto_shard_dataset: Accepted for Keras compatibility: lamina splits
            every global batch across processes itself. Defaults to `True`.
    """

    def __init__(self, device_mesh=None, batch_dim_name=None, auto_shard_dataset=True):
        self._initialized = False
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset

    @property
    def world_size(self) -> int:
        return dist.get_world_size() if dist.is_initialized() else 1

    @property
    def rank(self) -> int:
        return dist.get_rank() if dist.is_initialized() else 0

    @property
    def is_primary(self) -> bool:
        """Rank 0: the process that prints and writes files."""
        return self.rank == 0

    @property
    def num_processes(self) -> int:
        """How many processes take part (torchrun's WORLD_SIZE before the
        process group is joined)."""
        if dist.is_initialized():
            return self.world_size
        return int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def num_model_replicas(self) -> int:
        """How many copies of the model compute on different data: one per
        process."""
        return self.num_processes

    @property
    def data_shard_id(self) -> int:
        """This process's slice of every global batch: its rank (torchrun's
        RANK before the process group is joined)."""
        if dist.is_initialized():
            return self.rank
        return int(os.environ.get("RANK", "0"))

    @property
    def device_mesh(self):
        return self._device_mesh

    @property
    def batch_dim_name(self):
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self) -> bool:
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, auto_shard_dataset):
        self._auto_shard_dataset = auto_shard_dataset

    def get_data_layout(self, data_shape):
        """The layout of an input batch: split along its first axis."""
        from lamina.distribution.layouts import TensorLayout

        axes = [None] * len(data_shape)
        axes[0] = self.batch_dim_name
        return TensorLayout(axes, self.device_mesh)

    def get_variable_layout(self, variable):
        """The layout of a weight: whole (replicated) on every process, or the
        `_layout` the variable was given."""
        from lamina.distribution.layouts import TensorLayout

        layout = getattr(variable, "_layout", None)
        if layout is not None:
            return layout
        return TensorLayout([None] * len(variable.shape), self.device_mesh)

    def get_tensor_layout(self, path):
        """The layout of an intermediate tensor: none is relaid out."""
        return None

    def distribute_dataset(self, dataset):
        """`dataset` itself: fit/evaluate/predict give each process its slice
        of every global batch, whatever the kind of data."""
        return dataset

    @contextlib.contextmanager
    def scope(self):
        """Make this the active distribution inside a `with` block, as
        `set_distribution` does; the previous one comes back afterwards."""
        previous = _DISTRIBUTION
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def setup(self):
        """Join the process group (once); give this rank its own stream of
        torch's global generator (see `data_parallel.separate_global_generator`).

        Without a process group to join (no torchrun, nor Keras's
        KERAS_DISTRIBUTION_* variables) this is one process, which trains as
        without a distribution, as Keras does on a single device."""
        if not self._initialized:
            if dist.is_initialized() or _launched():
                initialize()
            elif torch.cuda.device_count() > 1:
                warnings.warn(
                    f"{type(self).__name__} is set in a single process, which "
                    f"uses one of the {torch.cuda.device_count()} GPUs: lamina "
                    "runs one process per device. Launch the script with "
                    "`torchrun --nproc-per-node "
                    f"{torch.cuda.device_count()} script.py` to use them all.",
                    stacklevel=2,
                )
            self._initialized = True
        from lamina.distribution.data_parallel import separate_global_generator

        separate_global_generator()

    def get_config(self):
        return {}

    def __repr__(self):
        return f"<{type(self).__name__} device_mesh={self.device_mesh}>"


class DataParallel(Distribution):
    """Data parallelism: a full model replica per process, each global batch split
    across processes, gradients averaged by `DistributedDataParallel`.

    `batch_size` stays the global batch size, as in Keras: with 4 processes and
    `batch_size=128`, each process computes 32 samples per step.

    Args:
        device_mesh: A `DeviceMesh`; its first axis names the batch axis (a
            mesh of several axes warns, as in Keras: lamina splits the batch
            over every process). Defaults to `None`.
        devices: The devices, for a one-axis mesh named `"batch"`. lamina
            uses one device per process (`cuda:LOCAL_RANK`, else the CPU).
            Defaults to `None`: a `"batch"` mesh over the processes.
        auto_shard_dataset: Accepted for Keras compatibility; data is always
            split per step. Defaults to `True`.
        **kwargs: Passed to `torch.nn.parallel.DistributedDataParallel` (e.g.
            `find_unused_parameters=True`).
    """

    def __init__(
        self, device_mesh=None, devices=None, auto_shard_dataset=True, **kwargs
    ):
        from lamina.distribution.layouts import DeviceMesh

        if device_mesh:
            _check_data_parallel_mesh(device_mesh)
            batch_dim_name = device_mesh.axis_names[0]
        elif devices is not None and len(devices):
            devices = np.array(devices)
            device_mesh = DeviceMesh(devices.shape, [_BATCH], devices)
            batch_dim_name = _BATCH
        else:
            device_mesh, batch_dim_name = None, _BATCH  # made when first read
        super().__init__(device_mesh, batch_dim_name, auto_shard_dataset)
        self.devices = devices
        self.ddp_kwargs = kwargs

    @property
    def device_mesh(self):
        if self._device_mesh is None:
            # One device per process, named by rank: `cuda:r`, else `cpu:r`.
            from lamina.distribution.layouts import DeviceMesh

            n = self.num_processes
            kind = "cuda" if torch.cuda.is_available() else "cpu"
            self._device_mesh = DeviceMesh(
                (n,), [_BATCH], [f"{kind}:{r}" for r in range(n)]
            )
        return self._device_mesh


_BATCH = "batch"  # Keras's default name of the batch axis


def _check_data_parallel_mesh(device_mesh):
    from lamina.distribution.layouts import DeviceMesh

    if not isinstance(device_mesh, DeviceMesh):
        raise ValueError(
            "DataParallel expects `device_mesh` to be a "
            f"lamina.distribution.DeviceMesh; got {device_mesh!r} of type "
            f"{type(device_mesh).__name__}."
        )
    if len(device_mesh.shape) != 1:
        # Keras: the first axis is the batch axis, with a warning. The
        # gradients are the same; lamina splits the batch over every process.
        warnings.warn(
            f"DataParallel expects a one-axis device mesh; got {device_mesh}. "
            f"Its first axis, '{device_mesh.axis_names[0]}', is the batch "
            "axis, and lamina splits each batch over every process. To shard "
            "parameters use lamina.distribution.FSDP().",
            stacklevel=3,
        )


class FSDP(Distribution):
    """Fully sharded data parallelism: parameters, gradients and optimizer state
    are split across processes (PyTorch FSDP2, `fully_shard`), each global batch
    is split across processes as with DataParallel.

    Every top-level layer that holds weights becomes one FSDP unit (its weights
    are gathered for its forward/backward and freed afterwards); the model is
    the root unit. `get_weights()` and saving gather full tensors, so files are
    ordinary single-device files.

    Args:
        **fully_shard_kwargs: Passed to `torch.distributed.fsdp.fully_shard`
            (e.g. `reshard_after_forward=False`, `mp_policy=...`).
    """

    def __init__(self, **fully_shard_kwargs):
        super().__init__(batch_dim_name=_BATCH)
        self.fully_shard_kwargs = fully_shard_kwargs


class ModelParallel(Distribution):
    """Keras's layout-map model parallelism is not available in lamina; shard
    large models with `FSDP()` instead."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "lamina has no layout-map ModelParallel (Keras's JAX-style sharding "
            "of tensors over a DeviceMesh/LayoutMap). lamina supports data "
            "parallelism, lamina.distribution.DataParallel(), and sharding a "
            "model's parameters across processes, lamina.distribution.FSDP()."
        )


def initialize(
    job_addresses=None, num_processes=None, process_id=None, *, backend=None
):
    """Join the torch.distributed process group.

    Under torchrun, call it with no arguments: the group is described by the
    environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
    Keras's arguments (or its environment variables
    `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES`,
    `KERAS_DISTRIBUTION_PROCESS_ID`) fill those in: the first job address is
    the coordinator (MASTER_ADDR:MASTER_PORT), `num_processes` the
    WORLD_SIZE and `process_id` the RANK. NCCL on CUDA, gloo on CPU; each
    process gets device `cuda:LOCAL_RANK`.

    Args:
        job_addresses: Comma-separated `"host:port"` addresses of the
            processes, the coordinator's first (only the first is used).
        num_processes: How many processes take part.
        process_id: This process's rank, in `[0, num_processes)`.
        backend: Keyword only: torch.distributed backend to use instead of
            NCCL / gloo.

    Raises:
        ValueError: For a job address without a port, or a `process_id`
            outside `[0, num_processes)`.
        RuntimeError: When the process group is still undescribed.
    """
    if dist.is_initialized():
        return
    _environment_from_keras_arguments(job_addresses, num_processes, process_id)
    missing = [
        k
        for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
        if k not in os.environ
    ]
    if missing:
        raise RuntimeError(
            f"Distributed training needs the torchrun environment; {missing} are not "
            "set. Launch with `torchrun --nproc-per-node N train.py`."
        )
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"This process has LOCAL_RANK {local_rank}, but this machine shows "
                f"{torch.cuda.device_count()} CUDA device(s): launch at most one "
                "process per GPU (`torchrun --nproc-per-node "
                f"{torch.cuda.device_count()}`), or hide the GPUs "
                "(CUDA_VISIBLE_DEVICES='') to train on CPU processes with gloo."
            )
        torch.cuda.set_device(local_rank)
        device_lib.set_device(f"cuda:{local_rank}")
        backend = backend or "nccl"
    else:
        device_lib.set_device("cpu")
        backend = backend or "gloo"
    dist.init_process_group(backend=backend)


def _launched() -> bool:
    """Whether this process was started as one of a group: by torchrun (or
    another launcher setting WORLD_SIZE), or with Keras's variables."""
    return "WORLD_SIZE" in os.environ or any(
        key.startswith("KERAS_DISTRIBUTION_") for key in os.environ
    )


def _environment_from_keras_arguments(job_addresses, num_processes, process_id):
    """Write Keras's `initialize` arguments (or its KERAS_DISTRIBUTION_*
    variables) into torch.distributed's environment variables."""
    env = os.environ
    if job_addresses is None:
        job_addresses = env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in env:
        num_processes = int(env["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in env:
        process_id = int(env["KERAS_DISTRIBUTION_PROCESS_ID"])
    if job_addresses:
        coordinator = str(job_addresses).split(",")[0].strip()
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                "distribution.initialize expects `job_addresses` of the form "
                f"'host:port,host:port,...'; got job_addresses={job_addresses!r}."
            )
        env["MASTER_ADDR"], env["MASTER_PORT"] = host, port
    if num_processes is not None:
        env["WORLD_SIZE"] = str(int(num_processes))
    if process_id is not None:
        if num_processes is not None and not 0 <= int(process_id) < int(num_processes):
            raise ValueError(
                "distribution.initialize expects `process_id` in [0, "
                f"{num_processes}); got process_id={process_id!r}."
            )
        env["RANK"] = str(int(process_id))


def set_distribution(value) -> None:
    """Use `value` (e.g. `DataParallel()`) for every later fit/evaluate/predict;
    `None` returns to single-process training."""
    global _DISTRIBUTION
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(
            "set_distribution expects a lamina.distribution.Distribution such as "
            f"DataParallel(), or None; got {type(value).__name__}."
        )
    _DISTRIBUTION = value


def distribution():
    """The active distribution: the one set, or DataParallel under torchrun."""
    global _DISTRIBUTION, _AUTO_CHECKED
    if _DISTRIBUTION is None and not _AUTO_CHECKED:
        _AUTO_CHECKED = True
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            _DISTRIBUTION = DataParallel()
    if _DISTRIBUTION is not None:
        _DISTRIBUTION.setup()
    return _DISTRIBUTION


def is_primary() -> bool:
    """True on rank 0, or when not distributed (whoever should print and write)."""
    return not dist.is_initialized() or dist.get_rank() == 0


def list_devices(device_type=None) -> list:
    """Devices visible to this process, as strings (`"cuda:0"`, `"cpu"`)."""
    if device_type in (None, "gpu", "cuda") and torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return ["cpu"]
