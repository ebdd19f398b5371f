"""Helpers of the training loop: lazy logs, mode switching, conversions, checks."""

import collections.abc
import contextlib
import types

import numpy as np
import torch

from lamina import backend, tree


class MetricLogs(collections.abc.MutableMapping):
    """Logs that compute metric results on first access, then keep them.

    Writable, as Keras's dict is: a custom `train_step` may add to the logs
    `super().train_step(data)` returns.
    """

    __slots__ = ("_model", "_values")

    def __init__(self, model):
        self._model = model
        self._values = None

    def _compute(self):
        if self._values is None:
            values = {}
            for metric in self._model.metrics:
                result = metric.result()
                if isinstance(result, dict):
                    values.update(result)
                else:
                    values[metric.name] = result
            # Keras: in `self.metrics` order (the loop sorts what callbacks,
            # History and evaluate see; a direct call keeps this order).
            self._values = values
        return self._values

    def __getitem__(self, key):
        return self._compute()[key]

    def __setitem__(self, key, value):
        self._compute()[key] = value

    def __delitem__(self, key):
        del self._compute()[key]

    def __iter__(self):
        return iter(self._compute())

    def __len__(self):
        return len(self._compute())

    def __repr__(self):
        return repr(self._compute())


def compile_batch_dynamic(
    fn, model=None, trace_autograd=False, batch_axis=0, cuda_graphs=False
):
    """`torch.compile(fn)` set up for a model's steps; call it with tensors
    (nests of them) and plain values.

    - The batch axis (`batch_axis` of every tensor argument with more axes
      than that) is marked dynamic on the first call, and tensors are passed
      at storage offset 0 (a batch sliced from the middle of the data is a
      view torch.compile guards on): the last partial batch of an epoch, and
      later fits, reuse the graph.
    - `fn` runs from a private copy of its code object: torch.compile keeps
      graphs, and its limit of 8 recompiles, per code object, so every model
      (they share lamina's step functions) gets its own.
    - Automatic dynamic shapes are off around the call: torch keys them by
      source line, so one model's shapes would make the next model's weights
      symbolic (slower kernels; one inductor lowering even fails).
    - `trace_autograd`: trace `torch.autograd.grad` into the graph (on only
      around the call; a whole train step needs it).
    - On the CPU (where `model`'s weights are) inductor writes its wrapper in
      C++ (`cpp_wrapper`) unless the model has convolutions: allocating
      buffers and calling kernels from C++ instead of Python takes 8-13% off
      a compiled step of the bench tutorial MLP (jit 2.29x -> 2.48-2.54x,
      4-step graphs 3.83x -> 4.34-4.46x) for ~1 s more compiling. The bench
      CNN's steps are kernel-bound (no gain) and its compiles grew 6 -> 10 s
      (jit) and 24 -> 31 s (4-step graphs), so convolutional models keep the
      Python wrapper, as GPUs do (not measured there).
    - `cuda_graphs`: inductor replays the graph as a CUDA graph.
    - On a GPU with torch before 2.13, inductor does not reorder loops to fuse
      more kernels: torch 2.11's reordering failed an assertion on the H200 on
      a mixed_bfloat16 train step.
    """
    options = {"cpp_wrapper": True} if _cpp_wrapper_pays(model) else {}
    if cuda_graphs:
        options["triton.cudagraphs"] = True
    if torch.__version__ < (2, 13) and _on_gpu(model):
        options["loop_ordering_after_fusion"] = False
    compiled = torch.compile(_private_copy(fn), options=options or None)
    marked = [False]

    def call(*args):
        args = tree.map_structure(_at_offset_zero, args)
        if not marked[0]:
            marked[0] = True
            for leaf in tree.flatten(args):
                if isinstance(leaf, torch.Tensor) and leaf.ndim > batch_axis:
                    torch._dynamo.maybe_mark_dynamic(leaf, batch_axis)
        config = torch._dynamo.config
        dynamic_shapes = config.automatic_dynamic_shapes
        config.automatic_dynamic_shapes = False
        if trace_autograd:
            traced_before = config.trace_autograd_ops
            config.trace_autograd_ops = True
        try:
            return compiled(*args)
        finally:
            config.automatic_dynamic_shapes = dynamic_shapes
            if trace_autograd:
                config.trace_autograd_ops = traced_before

    return call


def traces_autograd_grad():
    """Whether this torch's compiler can trace `torch.autograd.grad` into a
    graph (the `trace_autograd_ops` setting; older releases lack it)."""
    return hasattr(torch._dynamo.config, "trace_autograd_ops")


def _on_gpu(model) -> bool:
    return model is not None and model._device().type == "cuda"


def _cpp_wrapper_pays(model) -> bool:
    if model is None:
        return False
    return model._device().type == "cpu" and not has_convolutions(model)


def has_convolutions(model) -> bool:
    """Whether `model` has convolution layers (its compiled steps are bound by
    their kernels, not by the per-call cost around them)."""
    from lamina.layers.convolutional._base_conv import ConvLayerBase

    return any(isinstance(layer, ConvLayerBase) for layer in model._flatten_layers())


def _private_copy(fn):
    """`fn` (a function or bound method) running from a fresh code object."""
    bound_to = getattr(fn, "__self__", None)
    function = getattr(fn, "__func__", fn)
    copy = types.FunctionType(
        function.__code__.replace(),
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    return copy if bound_to is None else types.MethodType(copy, bound_to)


def _at_offset_zero(value):
    if isinstance(value, torch.Tensor) and value.storage_offset() != 0:
        return value.clone()
    return value


def set_mode(model, training) -> None:
    """Set the torch train/eval flag of every module without marking it as the
    user's choice (see Layer.train): fit/evaluate/predict pass `training` to the
    model explicitly; the flag matters to plain torch modules inside."""
    training = bool(training)
    for module in model.modules():
        if module.training is not training:
            # `training` is a plain instance attribute of nn.Module: writing it
            # directly skips Layer.__setattr__ (a fixed cost of every
            # fit/evaluate/predict call, per module).
            module.__dict__["training"] = training


def spec_of(value):
    """A KerasTensor with the batch's concrete shape (for shape-only passes)."""
    from lamina.backend.keras_tensor import KerasTensor

    if value is None:
        return None
    return KerasTensor(tuple(value.shape), dtype=value.dtype)


def batch_size_of(x) -> int:
    flat = tree.flatten(x)
    first = flat[0]
    if first is None:  # an optional input given as None (Input(optional=True))
        first = next((v for v in flat if v is not None), None)
        if first is None:
            raise ValueError("The batch holds no input tensor, only None.")
    return int(first.shape[0])


def detach(structure):
    if isinstance(structure, torch.Tensor):
        return structure.detach()
    return tree.map_structure(
        lambda t: t.detach() if isinstance(t, torch.Tensor) else t, structure
    )


def to_python(logs) -> dict:
    """Device tensors to Python floats, the single-valued ones in one transfer;
    a metric with several values (e.g. `F1Score(average=None)`) gives a NumPy
    array, as in Keras."""
    if not logs:
        return {}
    keys = list(logs)
    values = [logs[k] for k in keys]
    # 0-d tensors become floats; a metric of shape (1,) (F1Score with
    # average=None over one class) stays an array, as Keras logs it.
    scalars = [v for v in values if isinstance(v, torch.Tensor) and v.ndim == 0]
    if scalars:
        flat = torch.stack([t.detach().float() for t in scalars]).tolist()
        it = iter(flat)
        values = [
            next(it) if isinstance(v, torch.Tensor) and v.ndim == 0 else v
            for v in values
        ]
    values = [_to_numpy(v) if isinstance(v, torch.Tensor) else v for v in values]
    return {
        k: (float(v) if isinstance(v, (np.floating, np.integer)) else v)
        for k, v in zip(keys, values)
    }


def python_logs(logs) -> dict:
    """`to_python(logs)` with its keys sorted and a nested dict's entries in
    its place, as Keras's `pythonify_logs` makes every logs dict (a custom step
    returning `{m.name: m.result() for m in self.metrics}` logs the compiled
    metrics as one dict)."""
    return to_python(_flattened(logs))


def _flattened(logs) -> dict:
    flat = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            flat.update(_flattened(value))
        else:
            flat[key] = value
    return flat


def _to_numpy(tensor):
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16
        tensor = tensor.float()
    return tensor.numpy()


def should_validate(epoch, validation_freq) -> bool:
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq


def check_positive_int(value, name, allow_zero=False):
    low = 0 if allow_zero else 1
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or (value < low)
    ):
        raise ValueError(f"`{name}` must be an int >= {low}; got {name}={value!r}.")


# A predict batch runs through the model in blocks of rows whose largest
# activation stays under this many bytes: below glibc's 32 MiB mmap threshold,
# so each block reuses heap memory instead of faulting in fresh pages. On the
# bench CNN (1024-image batches, 88 MB first activation) that makes eager
# predict 1.6x -> 2.3-3.1x the hand-written loop. On the CPU only: a GPU's
# caching allocator has no such threshold, and there each block is one more
# pass of kernel launches (the H200 ran the bench CNN's predict at 0.19x with
# six blocks per batch, 48 convolution calls where the loop made 8).
PREDICT_BLOCK_BYTES = 16 * 2**20


def predict_block_rows(model):
    """Rows per block for `predict` batches (larger batches are split), or
    None to run whole batches: only on the CPU, for a Sequential/functional
    model of lamina's own layers, which are per-sample in inference (no
    Lambda, op, wrapped torch module, stateful RNN or custom layer, whose rows
    might interact) and whose activation sizes are known."""
    from lamina.backend.dtypes import to_torch_dtype
    from lamina.layers.core.input_layer import InputLayer
    from lamina.layers.core.lambda_layer import Lambda
    from lamina.layers.core.op_layer import OpLayer
    from lamina.layers.core.torch_module_wrapper import TorchModuleWrapper
    from lamina.models.functional import Functional
    from lamina.models.sequential import Sequential

    if type(model).call not in (Sequential.call, Functional.call):
        return None
    if model._device().type != "cpu":
        return None
    largest = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, InputLayer):
            continue
        if (
            isinstance(layer, (Lambda, OpLayer, TorchModuleWrapper))
            or not type(layer).__module__.startswith("lamina.")
            or getattr(layer, "stateful", False)
            or not layer._inbound_nodes
        ):
            return None
        for node in layer._inbound_nodes:
            for output in node.output_tensors:
                shape = output.shape[1:]
                if any(size is None for size in shape):
                    return None
                itemsize = to_torch_dtype(output.dtype).itemsize
                largest = max(largest, int(np.prod(shape)) * itemsize)
    return max(PREDICT_BLOCK_BYTES // max(largest, 1), 1)


def _chain_classes():
    """Built-in layers whose `call` on a tensor in their compute dtype is all
    their `__call__` does in inference (no mask made, no cast, no sub-layer)."""
    from lamina import layers as L

    return {
        L.Dense, L.EinsumDense, L.Activation, L.ReLU, L.LeakyReLU, L.ELU,
        L.Softmax, L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D,
        L.SpatialDropout3D, L.GaussianNoise, L.GaussianDropout, L.AlphaDropout,
        L.Flatten, L.Reshape, L.Permute, L.RepeatVector, L.Conv1D, L.Conv2D,
        L.Conv3D, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D,
        L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D,
        L.GlobalAveragePooling1D, L.GlobalAveragePooling2D,
        L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.BatchNormalization,
        L.LayerNormalization,
    }  # fmt: skip


def _chained_layers(model):
    """The layers of a Sequential model, or of a functional one whose graph is
    a straight line (one input, each layer called once on the previous
    layer's one output, the last one's output the model's), in order, with
    the rank a batch must have and the dtype the model casts it to (None:
    the first layer's); None for any other model."""
    from lamina.backend.keras_tensor import KerasTensor
    from lamina.models.functional import Functional
    from lamina.models.sequential import Sequential

    if type(model).call is Sequential.call:
        start = model._input_layer
        if start is None:
            return model._call_layers, None, None
        return model._call_layers, len(start.batch_shape), start.output.dtype
    if type(model).call is not Functional.call:
        return None
    if not (
        isinstance(model._inputs_struct, KerasTensor)
        and isinstance(model._returned_struct, KerasTensor)
    ):
        return None  # a list, tuple or dict: `call` packs the structure
    previous, chained = id(model._flat_inputs[0]), []
    for layer, simple, arg_id, _, _, outputs in model._plan:
        if not simple or arg_id != previous or len(outputs) != 1:
            return None
        chained.append(layer)
        previous = outputs[0]
    if previous != id(model._flat_outputs[0]):
        return None
    return chained, model._input_ranks[0], model._flat_inputs[0].dtype


def predict_chain(model):
    """For `predict` of a Sequential or straight-line functional model of
    plain built-in layers (see `_chain_classes`), `(calls, dtype, device,
    ndim, mixed)`: the layers' `call`s with whether each takes `training`,
    what a batch must be for them to run one after another without the
    per-layer `__call__`, and whether they run in one autocast region (a
    mixed policy). None otherwise.

    Each `__call__` costs ~4 us of Python around `call` (its checks, torch's
    module call), which is most of a small model's predict time per batch on
    a GPU: the tutorial MLP's three Dense layers went 39 -> 23 us per call on
    the CPU, against 27 us for the hand-written torch module. Under
    mixed_bfloat16 a call of the model costs ~9 us per layer more than its
    layers' `call`s in one region: tutorial MLP, batches of 8, 139 -> 102 us
    per batch, the hand-written module 102 us with autocast entered per batch
    (CPU). Values do not change: the same `call`s run on the same tensors, in
    the same autocast region, with the casts each `__call__` would make."""
    from lamina.layers.attention._attention_utils import no_global_hooks

    found = _chained_layers(model)
    if (
        found is None
        or not found[0]
        or model._forward_hooks
        or model._forward_pre_hooks
        or not no_global_hooks()
    ):
        return None
    chained, ndim, input_dtype = found
    allowed = _chain_classes()
    calls, dtype = [], chained[0]._compute_torch_dtype
    mixed = chained[0]._mixed
    casts = (None, "float32", "float64", backend.standardize_dtype(dtype))
    if mixed and input_dtype not in casts:
        return None  # the model's own cast of a batch would round differently
    for layer in chained:
        if (
            type(layer) not in allowed
            or not layer.built
            or layer._mixed != mixed
            or (mixed and not layer.autocast)
            or layer._compute_torch_dtype != dtype
            or layer.activity_regularizer is not None
            or layer.quantization_mode is not None
            or layer._compute_mask_overridden
            or layer._forward_hooks
            or layer._forward_pre_hooks
            or "call" in layer.__dict__  # LoRA, a quantizer's hook
            or "forward" in layer.__dict__  # rematerialization
        ):
            return None
        calls.append((layer.call, layer._call_has_training_arg))
    return tuple(calls), dtype, model._device(), ndim, mixed


def run_chain(chain, fallback):
    """`fallback(x)` (the model's call) computed by the chain of `predict_chain`
    for a plain tensor batch it fits, else by `fallback` itself (which also
    explains a failure, as a layer's `__call__` does)."""
    calls, dtype, device, ndim, mixed = chain

    def run(h):
        for call, takes_training in calls:
            if mixed and h.dtype != dtype and h.is_floating_point():
                h = h.to(dtype)  # as the layer's __call__ casts its input
            h = call(h, training=False) if takes_training else call(h)
        return h

    def predict(x):
        if (
            type(x) is not torch.Tensor
            or (x.dtype != dtype and not (mixed and x.dtype == torch.float32))
            or x.device != device
            or (ndim is not None and x.ndim != ndim)
        ):
            return fallback(x)
        try:
            if not mixed:
                return run(x)
            with torch.autocast(device.type, dtype=dtype):
                return run(x)
        except RuntimeError:
            return fallback(x)

    return predict


@contextlib.contextmanager
def autocast_casts_kept(model, callbacks):
    """Inside: autocast's low-precision copies of the float32 weights last from
    one batch of `evaluate` to the next, as in a hand-written loop under one
    `torch.autocast` (torch drops them when the outermost autocast region ends,
    and each model call is a region of its own). Under a mixed policy that is
    one cast per weight per evaluation instead of per batch: tutorial MLP,
    mixed_bfloat16, CPU, evaluate over 65,536 samples, 713 -> 643 ms at batch
    32, 48 -> 46 ms at batch 1024. (torch keeps no such copies under
    `inference_mode`, which `predict` runs in.)

    Not where something may assign weights between batches, since autocast
    would go on using the copies of the old values: a custom `test_step`, or
    callbacks acting at the batches (other than the progress bar). Nor under
    data parallelism, where FSDP gathers each layer's weights only while it
    runs: kept copies of them all would undo the sharding's memory saving."""
    from lamina.trainers.trainer import Trainer

    if (
        type(model).test_step is not Trainer.test_step
        or model.__dict__.get("_distribution") is not None
        or callbacks.runs_batch_hooks("test")
    ):
        yield
        return
    torch.autocast_increment_nesting()
    try:
        yield
    finally:
        if torch.autocast_decrement_nesting() == 0:
            torch.clear_autocast_cache()


def in_blocks(fn, x, rows):
    """`fn(x)` computed `rows` samples at a time and joined along axis 0 (the
    same values: each block's rows are independent of the others')."""
    leaves = tree.flatten(x)
    total = leaves[0].shape[0]
    if total <= rows or not all(isinstance(t, torch.Tensor) for t in leaves):
        return fn(x)
    parts = [
        fn(tree.map_structure(lambda t, s=start: t[s : s + rows], x))
        for start in range(0, total, rows)
    ]
    return tree.map_structure(lambda *pieces: torch.cat(pieces), *parts)


def step_logs_error(logs) -> TypeError:
    """The error for a custom train_step/test_step that returned no dict of
    logs."""
    return TypeError(
        "train_step() and test_step() must return a dict of logs, mapping "
        "metric names to values (e.g. {'loss': loss}); got "
        f"{type(logs).__name__} {logs!r:.80}."
    )
