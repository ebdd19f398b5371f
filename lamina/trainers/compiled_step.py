"""The whole train step as one `torch.compile` graph (`jit_compile=True`).

One graph holds the forward pass, the loss, the gradients
(`torch.autograd.grad`, traced because `trace_autograd_ops` is on while it is
called), the optimizer update and the loss-tracker and metric updates; with
`steps_per_execution=N` it holds up to `MAX_FUSED_STEPS` such steps (4 for
models with convolutions), so Python and the compiled function's guards are
paid once per group of batches.

What stays on the host: the optimizer's per-step numbers (learning rate,
bias corrections), computed by the same code as the eager step and passed in as
one small tensor, so a new step never recompiles; and the step counter. The
batch axis is dynamic, so the last, smaller batch of an epoch reuses the graph.
"""

import torch

from lamina import tree
from lamina.backend.dtypes import to_torch_dtype
from lamina.backend.tensors import host_to_device
from lamina.trainers.data_adapters import data_adapter_utils
from lamina.trainers.trainer_utils import (
    compile_batch_dynamic,
    detach,
    has_convolutions,
    traces_autograd_grad,
)

# Steps unrolled into one graph at most. Each graph call pays a fixed cost
# (torch.compile's guards and wrappers, the host-side scalars, stacking the
# batches): ~100-150 us on a 2-core CPU, as much as a whole step of the bench
# tutorial MLP. Unrolling 8 steps rather than 4 halves it per step: bench
# tutorial MLP, steps_per_execution=8, process CPU time, alternating runs under
# load: 99-129 us/step (8 per graph) against 128-166 us/step (4 per graph),
# for ~6 s more compiling. Models with convolutions are bound by their kernels
# (the bench CNN: ~30 ms per step) and each unrolled convolutional step adds
# ~4-7 s of compiling: they stay at 4. Bench CNN, steps_per_execution=8, both
# caps and the hand-written loop in one process, 31 round-robin fit passes, 4
# runs: 4 per graph 2-4% faster than 2 (1 per graph slower still). Cold
# compile on the shared 2-core CPU (`TORCHINDUCTOR_CACHE_DIR=$(mktemp -d)
# .venv/bin/python bench/run_all.py --only "CNN 28x28x1, b128" --sides
# torch,lamina_jit,lamina_spe`): 26-38 s at 4 per graph, 21-36 s at 2; 36-49 s
# at 4 while the first execution also compiled a forward-only graph
# (`_outside_whole_step` in _step_setup.py stopped that).
MAX_FUSED_STEPS = 8
MAX_FUSED_CONV_STEPS = 4

# On the CPU, models with more trainable weight bytes than this run one step
# per graph call. Between unrolled steps the weights and optimizer slots are
# new buffers, not updated in place, and above ~1 MiB of weights writing them
# costs more (fresh pages from the allocator) than the per-call overhead saved.
# 3-layer MLPs, batch 64, Adam, 1 vs 4 steps per graph (bench/fused_steps_sweep.py):
# 0.39 MiB of weights 1.33x faster fused, 0.77 MiB 1.16x, 1.27 MiB 1.08x,
# 1.90 MiB 0.84x, 2.66 MiB 0.78x; the bench MLP-784 (2.55 MiB, batch 128) ran 3.56 ms/step
# unfused and 4.47 ms fused. GPUs allocate from torch's cache and keep fusing.
CPU_FUSED_WEIGHT_BYTES = 2**20

# Experimental, off: replay compiled steps on CUDA as CUDA graphs (inductor's
# cudagraph trees), which removes the per-kernel launch cost that bounds small
# models on a GPU. Not yet measured or tested on a GPU; `bench/run_all.py
# --device cuda` times it as the `lamina_cg` side. No effect off CUDA.
CUDA_GRAPHS = False


# Unrolled steps are checked against eager training on torch 2.13 and newer.
# torch 2.11 computes them wrongly for some models (a two-input model with
# Concatenate and Adam: losses 10% off eager from the second fused step on,
# with or without shuffling), so older releases run one step per graph call.
FUSES_STEPS = torch.__version__ >= (2, 13)


def fused_steps(steps, weight_bytes=0, device_type="cpu", convolutional=False):
    """Steps per graph call for `steps_per_execution=steps`: the largest divisor
    of `steps` not above the cap (`MAX_FUSED_STEPS`, `MAX_FUSED_CONV_STEPS`
    for models with convolutions), so one graph and no second compile for a
    remainder; 1 on the CPU for models over `CPU_FUSED_WEIGHT_BYTES`, and 1
    on torch releases before 2.13 (`FUSES_STEPS`)."""
    if not FUSES_STEPS or (
        device_type == "cpu" and weight_bytes > CPU_FUSED_WEIGHT_BYTES
    ):
        return 1
    cap = MAX_FUSED_CONV_STEPS if convolutional else MAX_FUSED_STEPS
    return max(k for k in range(1, min(steps, cap) + 1) if steps % k == 0)


def unsupported_reason(model):
    """Why `model`'s train step cannot be one graph (None when it can).

    Called after the first (eager) step, which built the layers, the optimizer
    and the compiled losses and metrics and left each weight's gradient.
    """
    from lamina.trainers.trainer import Trainer

    if not traces_autograd_grad():
        return "a torch release that cannot trace torch.autograd.grad"
    if not model._trainable_params:
        return "no trainable weights (each step only reports the loss)"
    if type(model).train_step is not Trainer.train_step:
        return "a custom train_step"
    if model.__dict__.get("_distribution") is not None:
        return "data parallelism (DDP/FSDP)"
    if model._loss_scale is not None:
        return "dynamic loss scaling (mixed_float16)"
    if not model.optimizer._compiled_update_supported():
        return "an optimizer feature that updates on the host"
    if any(p.grad is None for p in model._trainable_params):
        return "weights that receive no gradient"
    return None


def whole_step_for(model, steps):
    """`model`'s compiled whole train step for a group of `steps` batches, or
    None (no `jit_compile`, a short group, the first step of a fit still to
    run eagerly, or a model that cannot be one graph: see `unsupported_reason`).
    Made on first use and kept on the model while its trainable weights stay
    the same."""
    if steps != model.steps_per_execution or not model._jit_applies():
        return None
    params = model._trainable_params
    if params is None:
        return None
    whole_step = model.__dict__.get("_whole_step")
    if whole_step is None or (
        # The same list as the last check (every step of a fit): no walk.
        whole_step.checked_list is not params and not _same(whole_step.params, params)
    ):
        whole_step = CompiledTrainStep(model, steps)
        object.__setattr__(model, "_whole_step", whole_step)
    whole_step.checked_list = params
    return whole_step if whole_step.ready else None


def reusable_params(model):
    """At the start of a later `fit()`: the trainable weights, when `model`
    has a ready compiled step over exactly these (its first step need not run
    eagerly; with `steps_per_execution=N` that would be N steps), else None."""
    whole_step = model.__dict__.get("_whole_step")
    if whole_step is None or not whole_step.ready:
        return None
    params = model.trainable_weights
    return params if _same(whole_step.params, params) else None


def _stacked(batches):
    """`batches` as one nest of tensors with a new leading axis of steps, or
    None when their structures or shapes differ. Every step in the graph then
    shares one symbolic batch size, so the compiled call takes one size
    instead of one per tensor per step (each size is a host-to-tensor
    conversion per call) and guards a few tensors instead of every batch's.
    Batches that lie back to back in memory (the array adapter gathers a
    group's rows at once) are viewed, not copied."""
    leaves = [tree.flatten(batch) for batch in batches]
    first = leaves[0]
    if any(len(other) != len(first) for other in leaves[1:]):
        return None
    columns = []
    for parts in zip(*leaves):
        column = _stack(parts)
        if column is None:
            return None
        columns.append(column)
    return tree.pack_sequence_as(batches[0], columns)


def _stack(parts):
    first = parts[0]
    if not all(
        isinstance(t, torch.Tensor)
        and t.shape == first.shape
        and t.dtype == first.dtype
        for t in parts
    ):
        return None
    base, size = first._base, first.nbytes
    if base is not None and all(
        t._base is base
        and t.is_contiguous()
        and t.data_ptr() == first.data_ptr() + i * size
        for i, t in enumerate(parts)
    ):
        return first.as_strided(
            (len(parts), *first.shape), (first.numel(), *first.stride())
        )
    return torch.stack(parts)


def _same(weights, others):
    return [id(w) for w in weights] == [id(w) for w in others]


class CompiledTrainStep:
    """Runs `len(batches)` train steps of `model` in one compiled call.

    Args:
        model: A compiled, built model whose first train step ran eagerly.
        steps: Steps per call (`steps_per_execution`), run as graph calls of
            `fused_steps(steps)` steps each; a shorter final group of an epoch
            runs through the eager step instead of compiling a second graph.
    """

    def __init__(self, model, steps):
        self.model = model
        self.steps = steps
        self.params = list(model._trainable_params)
        self.checked_list = None  # the weight list whole_step_for last matched
        self.reason = unsupported_reason(model)
        self.ready = self.reason is None
        if not self.ready:
            return
        for param in self.params:
            param.grad = None  # the graph never writes .grad: free the last ones
        self.optimizer = model.optimizer
        self.dtype = to_torch_dtype(self.optimizer._scalar.__name__)
        self.device = self.params[0].device
        weight_bytes = sum(p.numel() * p.element_size() for p in self.params)
        self.fused = fused_steps(
            steps, weight_bytes, self.device.type, has_convolutions(model)
        )
        cuda_graphs = CUDA_GRAPHS and self.device.type == "cuda"
        if self.fused == 1:
            self._compiled = compile_batch_dynamic(
                self._run_one, model, trace_autograd=True, cuda_graphs=cuda_graphs
            )
        else:
            self._compiled = compile_batch_dynamic(
                self._run,
                model,
                trace_autograd=True,
                batch_axis=1,
                cuda_graphs=cuda_graphs,
            )

    def __call__(self, batches):
        k = self.fused
        if k == 1:
            for batch in batches:
                self._compiled(batch, self._scalars(1))
            return
        for start in range(0, len(batches), k):
            chunk = batches[start : start + k]
            stacked = _stacked(chunk)
            if stacked is None:
                # Batches of different sizes (an epoch's last, shorter batch
                # among full ones): eagerly, rather than compile a second graph.
                for batch in chunk:
                    self.model.train_step(batch)
                continue
            self._compiled(stacked, self._scalars(len(chunk)))

    def _scalars(self, steps):
        """The optimizer's host numbers for the next `steps` updates, as one
        flat tensor on the weights' device (one row of numbers per step)."""
        optimizer = self.optimizer
        rows = []
        for _ in range(steps):
            rows.extend(optimizer._host_step_scalars())
            optimizer._finish_update()
        # Queued, not waited for, on a GPU.
        return host_to_device(torch.tensor(rows, dtype=self.dtype), self.device)

    def _run_one(self, batch, scalars):
        self._one_step(batch, scalars.unbind(0))

    def _run(self, stacked, scalars):
        steps = tree.flatten(stacked)[0].shape[0]
        for i, row in enumerate(scalars.view(steps, -1).unbind(0)):
            batch = tree.map_structure(lambda t, i=i: t[i], stacked)
            self._one_step(batch, row.unbind(0))

    def _one_step(self, batch, scalars):
        model = self.model
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(batch)
        y_pred, loss = model._forward_and_loss(x, y, sample_weight, True)
        grads = torch.autograd.grad(self.optimizer.scale_loss(loss), self.params)
        with torch.no_grad():
            self.optimizer._apply_tensors(list(grads), self.params, None, scalars)
            # The batch size stays symbolic (int() would specialize on it).
            batch_size = tree.flatten(x)[0].shape[0]
            model._loss_tracker.update_state(loss.detach(), sample_weight=batch_size)
            if y is not None and model._compile_metrics.has_metrics:
                model._update_compiled_metrics(y, detach(y_pred), sample_weight)
