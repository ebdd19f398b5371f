"""Distributions: how `fit` spreads work over processes, on torch.distributed.

One process per device, launched with `torchrun`. `DataParallel` replicates the
model (PyTorch `DistributedDataParallel`) and splits every global batch across the
processes; metrics and losses are summed across processes so every rank logs the
single-process numbers. Under `torchrun` (WORLD_SIZE > 1) a DataParallel
distribution is set up automatically on first use; scripts need no change.
"""

import os

import torch
import torch.distributed as dist

from lamina.backend import device as device_lib

_DISTRIBUTION = None
_AUTO_CHECKED = False


class Distribution:
    """Base class: where the model's replicas and data shards live."""

    def __init__(self):
        self._initialized = False

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

    def setup(self):
        """Join the process group (once)."""
        if not self._initialized:
            initialize()
            self._initialized = True

    def get_config(self):
        return {}


class DataParallel(Distribution):
    """Data parallelism: a full model replica per process, each global batch split
    across processes, gradients averaged by `DistributedDataParallel`.

    `batch_size` stays the global batch size, as in Keras: with 4 processes and
    `batch_size=128`, each process computes 32 samples per step.

    Args:
        device_mesh: Accepted for Keras compatibility: a one-axis
            `DeviceMesh` (the batch axis). Defaults to `None`.
        devices: Accepted for Keras compatibility; lamina uses one device per
            process (`cuda:LOCAL_RANK`, else the CPU).
        auto_shard_dataset: Accepted for Keras compatibility; data is always
            split per step.
    """

    def __init__(
        self, device_mesh=None, devices=None, auto_shard_dataset=True, **kwargs
    ):
        super().__init__()
        if device_mesh is not None:
            _check_data_parallel_mesh(device_mesh)
        self.device_mesh = device_mesh
        self.devices = devices
        self.auto_shard_dataset = auto_shard_dataset
        self.ddp_kwargs = kwargs


def _check_data_parallel_mesh(device_mesh):
    from lamina.distribution.layouts import DeviceMesh

    if not isinstance(device_mesh, DeviceMesh):
        raise TypeError(
            "DataParallel expects `device_mesh` to be a "
            f"lamina.distribution.DeviceMesh; got {type(device_mesh).__name__}."
        )
    if len(device_mesh.shape) != 1:
        raise NotImplementedError(
            f"DataParallel got a {len(device_mesh.shape)}-axis device mesh "
            f"{device_mesh}; lamina's data parallelism splits only the batch, "
            "over a one-axis mesh such as DeviceMesh((n,), ['batch']). To shard "
            "parameters use lamina.distribution.FSDP()."
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
        super().__init__()
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
