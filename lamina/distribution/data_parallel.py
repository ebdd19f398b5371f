"""The pieces of data parallelism the trainer calls: split batches (and step ranks
whose slice is empty), wrap the model in DistributedDataParallel, check that
every rank got the same data, sum metric states, average moving statistics,
agree on stopping, gather predictions in order."""

import inspect
import weakref

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

    empty = global_size and not sizes[rank]

    def take(t):
        if isinstance(t, torch.Tensor) and t.ndim > 0:
            # A global batch smaller than the world leaves some ranks nothing:
            # they get a stand-in sample and scale 0 (see `idle_train_step`).
            return t[:1] if empty else t.tensor_split(world)[rank]
        return t

    local = tree.map_structure(take, batch)
    scale = sizes[rank] * world / global_size if global_size else 1.0
    return local, scale, sizes


def idle_train_step(model, batch):
    """The train step of a rank whose slice of the global batch is empty.

    Collectives need every rank (DDP's gradient all-reduce, FSDP's gathers),
    so this rank runs the model's own `train_step` (built-in or overridden:
    the same forward and backward passes, every optimizer's update) on a
    stand-in sample, `batch`, with its share of the global batch set to 0:
    the built-in step scales its loss by it, and a custom step's gradients
    are scaled by it (DDP: the communication hook of `wrap`; FSDP: the
    forward hook of `shard`), so the stand-in adds nothing to the averaged
    gradient. The metric states (the loss trackers
    among them) are put back afterwards, so every sample is counted once
    when they are summed over ranks.
    """
    states = [
        (variable, variable.detach().clone())
        for metric in model.metrics
        for variable in getattr(metric, "variables", [])
        if isinstance(variable, torch.Tensor)
    ]
    kept = {id(variable) for variable, _ in states}
    share = model.__dict__.get("_shard_scale", 1.0)
    model.__dict__["_shard_scale"] = 0.0
    try:
        model.train_step(batch)
    finally:
        model.__dict__["_shard_scale"] = share
        with torch.no_grad():
            for variable, value in states:
                variable.copy_(value)
        for metric in model.metrics:
            # A metric the step itself created (the per-output loss trackers
            # of a first step) starts empty, as it would have without it.
            if any(id(v) not in kept for v in getattr(metric, "variables", [])):
                metric.reset_state()
    return model.get_metrics_result()


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


_CONTROL_GROUP = []


def _control_group():
    """A gloo (CPU) group for the trainer's small agreements: with NCCL, a flag
    read back from the GPU would make the host wait for every queued kernel."""
    world = dist.group.WORLD  # a new process group needs a new control group
    if not _CONTROL_GROUP or _CONTROL_GROUP[0] is not world:
        default = dist.get_backend() == "gloo"
        group = None if default else dist.new_group(backend="gloo")
        _CONTROL_GROUP[:] = [world, group]
    return _CONTROL_GROUP[1]


def agree_on_stop(stop: bool) -> bool:
    """True on every rank when any rank set `stop_training` (a TerminateOnNaN
    that saw its own slice's NaN loss stops all of them at the same step)."""
    if not dist.is_initialized():
        return stop
    flag = torch.tensor([1 if stop else 0], dtype=torch.int32)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=_control_group())
    return bool(flag.item())


def check_same_data(iterator) -> None:
    """Raise the same `ValueError` on every rank when the ranks were given data
    of different lengths (each would run a different number of steps and the
    collectives would hang or mismatch). Run once per iterator."""
    if not dist.is_initialized() or getattr(iterator, "_lengths_checked", False):
        return
    iterator._lengths_checked = True
    adapter = iterator.adapter
    batches = iterator.num_batches
    samples = getattr(adapter, "num_samples", None)
    mine = torch.tensor(
        [-1 if batches is None else int(batches), -1 if samples is None else samples],
        dtype=torch.int64,
    )
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine, group=_control_group())
    if all(torch.equal(other, everyone[0]) for other in everyone):
        return
    described = ", ".join(
        f"rank {r}: {_describe(int(b), int(n))}"
        for r, (b, n) in enumerate(t.tolist() for t in everyone)
    )
    raise ValueError(
        "Data-parallel training got different data on its ranks "
        f"({described}). Give every rank the same, whole dataset: lamina splits "
        "each global batch across the ranks itself."
    )


def _describe(batches: int, samples: int) -> str:
    text = "unknown length" if batches < 0 else f"{batches} batches"
    return text if samples < 0 else f"{text} of {samples} samples"


def bytes_from_primary(read):
    """`read()` on rank 0 (bytes or None), sent to every rank under an active
    data-parallel run as a length and a byte tensor (nothing is pickled);
    `read()` itself otherwise."""
    from lamina.distribution import distribution_lib

    active = distribution_lib.distribution()
    if active is None or active.world_size == 1:
        return read()
    group = _control_group()
    data = read() if active.rank == 0 else None
    length = torch.tensor([-1 if data is None else len(data)], dtype=torch.int64)
    dist.broadcast(length, src=0, group=group)
    size = int(length.item())
    if size <= 0:
        return None if size < 0 else b""
    if data is not None:
        dist.broadcast(torch.frombuffer(bytearray(data), dtype=torch.uint8), 0, group)
        return data
    buffer = torch.empty(size, dtype=torch.uint8)
    dist.broadcast(buffer, src=0, group=group)
    return buffer.numpy().tobytes()


def average_non_trainable(model) -> None:
    """Average the floating non-trainable weights (BatchNormalization's moving
    statistics) over ranks, in place. DDP averages gradients only, so each rank
    updates its own statistics from its own slice; as Keras's per-replica
    statistics are read, the ranks' values are averaged (fit does it at every
    epoch end, so evaluation, prediction and saving see one model).

    Under DDP with a custom train_step, it first checks that the replicas'
    trainable weights still agree (`check_replicas_agree`)."""
    if not dist.is_initialized():
        return
    check_replicas_agree(model)
    from torch.distributed.tensor import DTensor

    weights = [
        w
        for w in model.non_trainable_weights
        if isinstance(w, torch.Tensor)
        and w.is_floating_point()
        and not isinstance(w, DTensor)  # sharded by FSDP: one value already
    ]
    if not weights:
        return
    flat = torch.cat([w.detach().reshape(-1).float() for w in weights])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(dist.get_world_size())
    with torch.no_grad():
        for w, part in zip(weights, flat.split([w.numel() for w in weights])):
            w.copy_(part.view_as(w))


def check_replicas_agree(model) -> None:
    """Raise the same `RuntimeError` on every rank when a DDP model's trainable
    weights differ between ranks (compared by their sum and sum of squares).

    DDP averages the gradients of a backward pass through the model's own
    call; a custom train_step that calls sub-models directly (a GAN's
    `self.generator(...)`, `self.discriminator(...)`) bypasses it, so each
    rank would go on training its own replica on its own slice. Checked for
    custom train_steps only: the built-in one always calls the model."""
    from lamina.trainers.trainer import Trainer

    custom = type(model).train_step is not Trainer.train_step
    if model.__dict__.get("_ddp") is None or not custom:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return
    with torch.no_grad():  # per weight, in float64, with no float64 copies
        total = torch.stack([p.sum(dtype=torch.float64) for p in params]).sum()
        squares = torch.stack(
            [torch.linalg.vector_norm(p, dtype=torch.float64) for p in params]
        )
        mine = torch.stack([total, squares.square().sum()]).cpu()
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine, group=_control_group())
    if all(torch.allclose(other, everyone[0], rtol=1e-6) for other in everyone):
        return
    raise RuntimeError(
        f"The trainable weights of model '{model.name}' differ between the "
        "data-parallel ranks: its custom train_step's gradients were not "
        "averaged across processes. DistributedDataParallel averages the "
        "gradients of a step that calls the model itself, "
        "`y_pred = self(x, training=True)`; a step that calls sub-models "
        "directly (a GAN's `self.generator(...)` and `self.discriminator(...)`) "
        "bypasses it. Shard the model with "
        "lamina.distribution.set_distribution(lamina.distribution.FSDP()) "
        "(every sub-model averages its own gradients), or route every forward "
        "pass of the step through `self(...)`."
    )


def wrap(model, distribution):
    """Prepare `model` for `distribution`: FSDP shards it in place; DataParallel
    wraps it in `DistributedDataParallel`, kept outside the module tree."""
    from lamina.distribution.distribution_lib import FSDP

    separate_noise_per_rank(model)
    if isinstance(distribution, FSDP):
        return shard(model, distribution)
    from torch.nn.parallel import DistributedDataParallel

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    device_ids = [device.index] if device.type == "cuda" else None
    ddp = DistributedDataParallel(
        model, device_ids=device_ids, **distribution.ddp_kwargs
    )
    from lamina.trainers.trainer import Trainer

    if type(model).train_step is not Trainer.train_step:
        # lamina's train_step scales its loss by the rank's share of the global
        # batch; a custom one does not, so scale the gradients instead.
        ddp.register_comm_hook(model, _share_weighted_allreduce)
        # What the built-in train_step reads not to scale its loss too, when
        # a custom step calls it (`super().train_step(data)`).
        object.__setattr__(model, "_share_in_gradients", True)
    object.__setattr__(model, "_ddp", ddp)
    object.__setattr__(
        model, "_ddp_params", [id(p) for p in model.parameters() if p.requires_grad]
    )
    return ddp


# Added to a seed per rank: rank r's noise comes from seed + r * _RANK_STRIDE.
_RANK_STRIDE = 0x9E3779B1


def separate_noise_per_rank(model) -> None:
    """Give every rank its own random noise (Dropout masks, GaussianNoise, ...)
    from the layers' `SeedGenerator`s: on rank r each seed moves by
    `r * _RANK_STRIDE`, once per generator (torch's global generator, which
    unseeded layers draw from, is moved by `separate_global_generator`).

    Every rank would otherwise draw the same mask for its own slice of the
    batch: the slices' noise would be correlated, unlike one process's noise
    over the whole batch. Rank 0 keeps the single-process streams; the
    weights stay identical on every rank (only the gradients are shared).
    """
    if not (dist.is_initialized() and dist.get_rank()):
        return
    from lamina.random.seed_generator import SeedGenerator

    for layer in model._flatten_layers():
        for value in vars(layer).values():
            if isinstance(value, SeedGenerator):
                separate_seed_generator(value)


def separate_seed_generator(generator) -> None:
    """On rank r of a process group, move `generator`'s seed by
    `r * _RANK_STRIDE`, once; nothing on rank 0 or in one process.

    Also for Keras's global seed generator, which unseeded `lamina.random`
    calls draw from after `set_random_seed` (the same seed on every rank)."""
    rank = dist.get_rank() if dist.is_initialized() else 0
    if not rank or getattr(generator, "_rank_separated", False):
        return
    from lamina.random.seed_generator import _to_int32

    generator._seed = _to_int32(generator._seed + rank * _RANK_STRIDE)
    generator._rank_separated = True


_SEPARATED_SEED = [None]


def separate_global_generator() -> None:
    """On ranks other than 0, reseed torch's global generator from its seed
    plus `rank * _RANK_STRIDE`, unless that is the seed it already has: run at
    every fit/evaluate/predict, so a `set_random_seed` (the same seed on every
    rank) between them is separated again. Unseeded Dropout draws from it.
    Keras's global seed generator (unseeded `lamina.random` calls after
    `set_random_seed`) is moved too."""
    rank = dist.get_rank() if dist.is_initialized() else 0
    if not rank:
        return
    from lamina.random import seed_generator

    if seed_generator._global_generator is not None:
        # Made before this run (an unseeded draw): move it now. One made later
        # is moved as it is made (`seed_generator.global_draw_seed`).
        separate_seed_generator(seed_generator._global_generator)
    if torch.initial_seed() == _SEPARATED_SEED[0]:
        return
    seed = (torch.initial_seed() + rank * _RANK_STRIDE) % 2**63
    torch.manual_seed(seed)
    _SEPARATED_SEED[0] = seed


def _share_weighted_allreduce(model, bucket):
    """DDP communication hook: the average over ranks of each rank's gradients
    times its share of the global batch (`local * world / global`), which is
    the gradient of the global-batch mean even when the slices differ in size."""
    world = dist.get_world_size()
    buffer = bucket.buffer()
    buffer.mul_(model.__dict__.get("_shard_scale", 1.0) / world)
    future = dist.all_reduce(buffer, async_op=True).get_future()
    return future.then(lambda done: done.value()[0])


def shard(model, distribution):
    """`fully_shard` every top-level layer that has weights, then the model; the
    layers' weight lists are pointed at the new (sharded) parameters."""
    from torch.distributed.fsdp import FSDPModule, fully_shard

    from lamina.distribution.sharded_variable import as_sharded_variable

    if model.__dict__.get("_fsdp"):
        # Sharded already (fully_shard applies once per module). A layer left
        # gathered after evaluate/predict (`reshard_after_forward=False`)
        # shows its gathered copies in `parameters()`: reshard (no
        # communication), and take note of the trainable weights, which may
        # have changed (a layer frozen since): FSDP reduces only the
        # gradients that exist.
        for module in model.modules():
            if isinstance(module, FSDPModule):
                module.reshard()
        object.__setattr__(
            model, "_ddp_params", [id(p) for p in model.parameters() if p.requires_grad]
        )
        return model
    layers = model._flatten_layers()
    before = {id(layer): dict(layer._parameters) for layer in layers}
    kwargs = dict(distribution.fully_shard_kwargs)
    if "ignored_params" in inspect.signature(fully_shard).parameters:
        # A trainable layer's non-trainable weights are state its call updates
        # (BatchNormalization's moving statistics, seed states). FSDP would
        # update a gathered copy and drop it when it reshards: they stay whole
        # on every rank instead, averaged at each epoch's end as under DDP.
        kwargs["ignored_params"] = set(kwargs.get("ignored_params") or ()) | {
            weight
            for layer in layers
            if layer.trainable
            for weight in layer._parameters.values()
            if weight is not None and not weight.requires_grad
        }
    sharded = [
        layer for layer in model._layers if any(True for _ in layer.parameters())
    ]
    for layer in sharded:
        fully_shard(layer, **kwargs)
    fully_shard(model, **kwargs)
    # FSDP's root is the first sharded module to run forward. A custom
    # train_step that calls only sub-models (a GAN) would make each of them a
    # root of its own, which trains differently from one process: make the
    # model the root now (what its own first forward would do).
    get_state = getattr(model, "_get_fsdp_state", None)
    lazy_init = getattr(get_state(), "_lazy_init", None) if get_state else None
    if lazy_init is not None:
        lazy_init()
    # Each weight's FSDP module (the one whose reshard() registers its shard):
    # the top-level layer holding it, else the model.
    owners = {id(p): layer for layer in sharded for p in layer.parameters()}
    for layer in layers:
        replaced = {}
        for key, old in before[id(layer)].items():
            new = layer._parameters.get(key)
            if old is not None and new is not None and new is not old:
                # The shard keeps the Variable's API and attributes (name,
                # path, constraint, ...): set_weights, assign, numpy, files.
                as_sharded_variable(new, old, owners.get(id(new), model))
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
    from lamina.trainers.trainer import Trainer

    custom = type(model).train_step is not Trainer.train_step
    if custom:
        # FSDP averages the ranks' gradients; the built-in train_step scales
        # its loss by the rank's share of the global batch, a custom one does
        # not: scale each gradient by it as FSDP reduces it (every sharded
        # module, so a step calling sub-models, a GAN's, is weighted too),
        # or, on a torch without custom reductions, the gradients reaching
        # the model's outputs.
        reducing = _weight_reductions_by_share(model, [*sharded, model])
        object.__setattr__(model, "_share_in_reduction", reducing)
        object.__setattr__(model, "_share_in_gradients", True)
        hook = model.register_forward_hook(_share_weighted_outputs)
        object.__setattr__(model, "_share_hook", hook)
    object.__setattr__(model, "_fsdp", True)
    return model


def _weight_reductions_by_share(model, modules) -> bool:
    """Make every FSDP module of `modules` multiply the gradients it reduces
    by the rank's share of the global batch (`model._shard_scale`, 0 on a
    rank with no samples), as DDP's `_share_weighted_allreduce` does; False
    where this torch cannot customise FSDP's reduce-scatter."""
    try:
        from torch.distributed.fsdp._fully_shard._fsdp_collectives import (
            DefaultReduceScatter,
        )
    except ImportError:
        return False
    if not all(hasattr(m, "set_custom_reduce_scatter") for m in modules):
        return False
    owner = weakref.ref(model)

    class ShareWeightedReduceScatter(DefaultReduceScatter):
        def __call__(self, output_tensor, input_tensor, group, op, async_op=False):
            model = owner()
            share = 1.0 if model is None else model.__dict__.get("_shard_scale", 1.0)
            if share != 1.0:
                input_tensor.mul_(share)
            return super().__call__(output_tensor, input_tensor, group, op, async_op)

    comm, done = ShareWeightedReduceScatter(), []
    for module in modules:
        try:
            module.set_custom_reduce_scatter(comm)
        except ValueError:  # several parameter groups (`shard_placement_fn`)
            for other in done:
                other.set_custom_reduce_scatter(DefaultReduceScatter())
            return False
        done.append(module)
    return True


class _ScaleGradient(torch.autograd.Function):
    """The identity forward; the gradient times `scale` backward."""

    @staticmethod
    def forward(ctx, tensor, scale):
        ctx.scale = scale
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def _share_weighted_outputs(model, args, outputs):
    """Forward hook of an FSDP model with a custom train_step: the outputs'
    gradients times the rank's share of the global batch (`local * world /
    global`), so FSDP's average over ranks is the gradient of the global-batch
    mean even when the slices differ in size (0 on a rank with no samples),
    unless FSDP's reduce-scatter weights them (`_weight_reductions_by_share`).

    A loss may read the logits behind a softmax or sigmoid output
    (`_keras_logits`): they get the same scale, and are tied to the output
    with a zero-weighted term, as the built-in train_step ties its loss, so
    FSDP's backward hooks on the output still gather the weights."""
    share = model.__dict__.get("_shard_scale", 1.0)
    if model.__dict__.get("_share_in_reduction"):
        share = 1.0  # FSDP's reduce-scatter weights the gradients
    if not torch.is_grad_enabled():
        return outputs

    def scaled(tensor):
        if not isinstance(tensor, torch.Tensor) or not tensor.requires_grad:
            return tensor
        result = tensor
        if share != 1.0:
            result = _ScaleGradient.apply(tensor, share)
            for name in ("_keras_mask", "_keras_logits_from"):
                if getattr(tensor, name, None) is not None:
                    setattr(result, name, getattr(tensor, name))
        logits = getattr(tensor, "_keras_logits", None)
        if isinstance(logits, torch.Tensor) and logits.requires_grad:
            logits = logits + tensor.sum() * 0.0
            if share != 1.0:
                logits = _ScaleGradient.apply(logits, share)
            result._keras_logits = logits
        return result

    return tree.map_structure(scaled, outputs)


def batch_hooks_may_stop(callbacks) -> bool:
    """Whether a callback of `callbacks` (a CallbackList) has a train-batch hook
    that could set `stop_training` on one rank only (TerminateOnNaN reads its
    own rank's loss): fit then agrees on stopping after every execution."""
    from lamina.callbacks import History, ProgbarLogger

    hooks = callbacks._batch_hooks
    return any(
        not isinstance(callback, (History, ProgbarLogger))
        for name in ("on_train_batch_begin", "on_train_batch_end")
        for callback in hooks.get(name, ())
    )
