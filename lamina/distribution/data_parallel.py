"""The pieces of data parallelism the trainer calls: split batches, wrap the model
in DistributedDataParallel, sum metric states, gather predictions in order."""

import torch
import torch.distributed as dist

from lamina import tree


def shard_batch(batch, rank: int, world: int):
    """This rank's contiguous slice of a global batch, the loss scale that makes
    DDP's gradient average equal the single-process gradient of the global mean,
    and every rank's slice size (as `tensor_split` cuts them)."""
    leaves = [t for t in tree.flatten(batch) if isinstance(t, torch.Tensor)]
    global_size = int(leaves[0].shape[0]) if leaves else 0
    base, extra = divmod(global_size, world)
    sizes = [base + 1 if r < extra else base for r in range(world)]

    def take(t):
        if isinstance(t, torch.Tensor) and t.ndim > 0:
            return t.tensor_split(world)[rank]
        return t

    local = tree.map_structure(take, batch)
    scale = sizes[rank] * world / global_size if global_size else 1.0
    return local, scale, sizes


def broadcast_from_primary(tensor: torch.Tensor) -> torch.Tensor:
    """Rank 0's value of `tensor` on every rank (in place; returned)."""
    if dist.is_initialized():
        dist.broadcast(tensor, src=0)
    return tensor


def reduce_metric_states(metrics) -> None:
    """Sum (or average) every metric variable across ranks, in place."""
    if not dist.is_initialized():
        return
    world = dist.get_world_size()
    for metric in metrics:
        for variable in getattr(metric, "variables", []):
            aggregation = getattr(variable, "aggregation", "sum")
            if aggregation in (None, "none", "only_first_replica"):
                continue
            value = (
                variable
                if variable.is_floating_point()
                or (variable.dtype in (torch.int32, torch.int64))
                else variable.float()
            )
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
            if aggregation == "mean":
                value.div_(world)
            if value is not variable:
                variable.copy_(value)


def gather_batch(local: torch.Tensor, chunk_sizes, rank: int) -> torch.Tensor:
    """Reassemble one global batch's outputs from every rank's slice, in order."""
    world = len(chunk_sizes)
    biggest = max(chunk_sizes)
    padded = local.new_zeros((biggest,) + tuple(local.shape[1:]))
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:size] for part, size in zip(parts, chunk_sizes)])


def agree_on_stop(stop: bool) -> bool:
    """Rank 0's `stop_training` decision, on every rank."""
    if not dist.is_initialized():
        return stop
    flag = torch.tensor([1 if stop else 0])
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def wrap(model, distribution):
    """Prepare `model` for `distribution`: FSDP shards it in place; DataParallel
    wraps it in `DistributedDataParallel`, kept outside the module tree."""
    from lamina.distribution.distribution_lib import FSDP

    if isinstance(distribution, FSDP):
        return shard(model, distribution)
    from torch.nn.parallel import DistributedDataParallel

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    device_ids = [device.index] if device.type == "cuda" else None
    ddp = DistributedDataParallel(
        model, device_ids=device_ids, **distribution.ddp_kwargs
    )
    object.__setattr__(model, "_ddp", ddp)
    object.__setattr__(
        model, "_ddp_params", [id(p) for p in model.parameters() if p.requires_grad]
    )
    return ddp


def shard(model, distribution):
    """`fully_shard` every top-level layer that has weights, then the model; the
    layers' weight lists are pointed at the new (sharded) parameters."""
    from torch.distributed.fsdp import fully_shard

    layers = model._flatten_layers()
    before = {id(layer): dict(layer._parameters) for layer in layers}
    for layer in model._layers:
        if any(True for _ in layer.parameters()):
            fully_shard(layer, **distribution.fully_shard_kwargs)
    fully_shard(model, **distribution.fully_shard_kwargs)
    for layer in layers:
        replaced = {}
        for key, old in before[id(layer)].items():
            new = layer._parameters.get(key)
            if old is not None and new is not None and new is not old:
                for attribute in ("path", "constraint", "autocast"):
                    if hasattr(old, attribute):
                        setattr(new, attribute, getattr(old, attribute))
                replaced[id(old)] = new
        if replaced:
            layer._trainable_variables = [
                replaced.get(id(v), v) for v in layer._trainable_variables
            ]
            layer._non_trainable_variables = [
                replaced.get(id(v), v) for v in layer._non_trainable_variables
            ]
            layer._regularized = [
                (replaced.get(id(v), v), r) for v, r in layer._regularized
            ]
    object.__setattr__(
        model, "_ddp_params", [id(p) for p in model.parameters() if p.requires_grad]
    )
    object.__setattr__(model, "_fsdp", True)
    return model
