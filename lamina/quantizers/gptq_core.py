"""GPTQ calibration over a model: token windows from the config's dataset,
then block after block, the Hessians of each Dense / EinsumDense's inputs and
the rounding of its kernel, as Keras 3.15.1's `gptq_core` does it."""

import contextlib
import math
import re

import numpy as np
import torch

from lamina.quantizers.gptq import GPTQ

STRUCTURE_ERROR = (
    "For {mode!r} mode, a valid quantization structure must be provided either "
    "via `config.quantization_layer_structure` or by overriding "
    "`model.get_quantization_layer_structure(mode)`. The structure should be a "
    "dictionary with keys 'pre_block_layers' and 'sequential_blocks', e.g. "
    "{{'pre_block_layers': [embedding], 'sequential_blocks': [block_1, block_2]}}."
)


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def get_dataloader(
    tokenizer,
    sequence_length,
    dataset,
    num_samples=128,
    *,
    strategy="strided",
    seed=42,
    stride=None,
    eos_id=None,
):
    """`num_samples` token windows of `sequence_length` from `dataset`, as an
    int32 array `(num_samples, 1, sequence_length)`.

    Strings are tokenized with `tokenizer.tokenize` (an `eos_id` goes between
    documents), token arrays are flattened; all are joined and repeated until
    there are enough tokens. Window starts are `"strided"` (evenly stepped from
    an offset derived from `seed`), `"linspace"` or `"random"`.

    Raises:
        TypeError: if `dataset` is not an iterable of samples.
        ValueError: for an empty dataset, too few tokens or an unknown
            strategy.
    """
    if not hasattr(dataset, "__iter__") or isinstance(dataset, (str, bytes)):
        raise TypeError(
            "The `dataset` argument must be an iterable of calibration samples "
            "(a list of strings, a generator, a NumPy array of tokens). Got type: "
            f"{type(dataset).__name__}. Please pass the loaded dataset directly; "
            "a dataset name such as 'wikitext2' is not downloaded for you."
        )
    samples = list(dataset)
    if not samples:
        raise ValueError(
            "Provided dataset is empty: the calibration `dataset` has no samples."
        )
    pieces = []
    if isinstance(samples[0], str):
        for i, text in enumerate(samples):
            pieces.append(_to_numpy(tokenizer.tokenize(text)).reshape(-1))
            if eos_id is not None and i < len(samples) - 1:
                pieces.append(np.array([eos_id], dtype=np.int32))
    else:
        for sample in samples:
            pieces.append(_to_numpy(sample).reshape(-1).astype(np.int32, copy=False))
    tokens = np.concatenate(pieces, axis=0).astype(np.int32, copy=False)
    needed = num_samples * sequence_length
    if tokens.size < needed:
        tokens = np.tile(tokens, math.ceil(needed / max(1, tokens.size)))
    max_start = tokens.size - sequence_length
    if max_start < 0:
        raise ValueError(
            f"Not enough tokens to form one calibration sample of length "
            f"{sequence_length} (have {tokens.size})."
        )
    if strategy == "random":
        starts = np.random.default_rng(seed).integers(
            0, max_start + 1, size=num_samples, dtype=np.int64
        )
    elif strategy == "linspace":
        starts = np.linspace(0, max_start, num_samples, dtype=np.int64)
    elif strategy == "strided":
        if stride is None:
            stride = max(1, (max_start + 1) // num_samples)
        # Keras's offset: the hash of a tuple holding a str, so it changes
        # with PYTHONHASHSEED; within one process it matches Keras's.
        offset = (
            abs(hash(("gptq-calib", seed))) % (max_start + 1) if max_start > 0 else 0
        )
        starts = (offset + np.arange(num_samples, dtype=np.int64) * stride) % (
            max_start + 1
        )
    else:
        raise ValueError(
            f"Unknown calibration sampling strategy {strategy!r}; expected "
            "'strided', 'linspace' or 'random'."
        )
    windows = np.lib.stride_tricks.sliding_window_view(tokens, sequence_length)
    return windows[starts].astype(np.int32)[:, None, :]


def should_quantize_layer(layer, filters) -> bool:
    """Whether `filters` (a regex or list of regexes on the layer name, or a
    callable taking the layer; `None` for all) selects `layer`."""
    if filters is None:
        return True
    if isinstance(filters, str):
        return re.search(filters, layer.name) is not None
    if isinstance(filters, (list, tuple)):
        return any(re.search(pattern, layer.name) for pattern in filters)
    if callable(filters):
        return bool(filters(layer))
    return True


def find_layers_in_block(block, mode="gptq") -> dict:
    """`{path: layer}` of the Dense and EinsumDense layers without sub-layers
    in `block` (the block itself included) that carry a `mode` policy."""
    from lamina.layers.core.dense import Dense
    from lamina.layers.core.einsum_dense import EinsumDense

    found = {}
    for layer in block._flatten_layers():
        if (
            len(layer._flatten_layers()) == 1
            and isinstance(layer, (Dense, EinsumDense))
            and layer.dtype_policy.quantization_mode == mode
        ):
            found[layer.path] = layer
    return found


@contextlib.contextmanager
def stream_inputs(layers, update):
    """While open, each call of a layer in `{name: layer}` first passes its
    first input to `update(name, inputs)`."""
    missing = object()
    saved = {}

    def hooked(name, call):
        def call_and_record(*args, **kwargs):
            update(name, args[0] if args else kwargs["inputs"])
            return call(*args, **kwargs)

        return call_and_record

    try:
        for name, layer in layers.items():
            saved[name] = layer.__dict__.get("call", missing)
            layer.call = hooked(name, layer.call)
        yield
    finally:
        for name, layer in layers.items():
            if saved.get(name, missing) is missing:
                layer.__dict__.pop("call", None)
            else:
                layer.call = saved[name]


def _as_batch(value):
    return value.unsqueeze(0) if value.ndim == 2 else value


def run_blockwise(dataloader, config, structure, filters, mode, calibrate):
    """Feed the windows through `pre_block_layers`, then through each of the
    `sequential_blocks` in turn: `calibrate(block, layers, inputs)` quantizes
    the block's selected layers, and the block's (now quantized) outputs,
    first batch element each, are the next block's inputs (Keras's scheme).

    Raises:
        ValueError: if the structure names no blocks.
    """
    from lamina.utils.progbar import Progbar

    pre_layers = structure.get("pre_block_layers", [])
    blocks = structure.get("sequential_blocks", [])
    if not blocks:
        raise ValueError(
            "No sequential blocks found in the provided structure to quantize; "
            "give them under 'sequential_blocks'."
        )
    with torch.no_grad():
        inputs = []
        for batch in dataloader:
            batch = torch.as_tensor(np.asarray(batch), dtype=torch.int32)
            for layer in pre_layers:
                batch = layer(batch)
            inputs.append(batch)
        inputs = inputs[: min(config.num_samples, len(inputs))]
        progbar = Progbar(target=len(blocks))
        for index, block in enumerate(blocks):
            layers = {
                name: layer
                for name, layer in find_layers_in_block(block, mode).items()
                if should_quantize_layer(layer, filters)
            }
            if layers:
                calibrate(block, layers, inputs)
            if index < len(blocks) - 1:
                inputs = [block(_as_batch(x))[0] for x in inputs]
            progbar.update(index + 1)


def calibrate_with(make_state, record, finish):
    """The per-block step of `run_blockwise` for one algorithm: a state per
    layer from its float kernel (`make_state`), fed every input the block's
    calibration windows send that layer (`record(state, rows)`), then the
    layer rounded from the state's `quantize()` (`finish(layer, *results)`)."""
    from lamina.layers.core import _quantized_gptq

    def calibrate(block, layers, inputs):
        states = {
            name: make_state(_quantized_gptq.float_kernel(layer))
            for name, layer in layers.items()
        }

        def update(name, x):
            state = states[name]
            record(state, x.reshape(-1, state.rows))

        with stream_inputs(layers, update):
            for x in inputs:
                block(_as_batch(x))
        for name, layer in layers.items():
            finish(layer, *states.pop(name).quantize())

    return calibrate


def quantize_blockwise(config, structure, filters, mode, calibrate):
    """Keras's checks, the token windows of `config.dataset`, then
    `run_blockwise` with `calibrate` (GPTQ's or AWQ's `calibrate_with`)."""
    check_calibration_inputs(config, structure, mode)
    dataloader = get_dataloader(
        config.tokenizer,
        config.sequence_length,
        config.dataset,
        num_samples=config.num_samples,
    )
    run_blockwise(
        dataloader[: config.num_samples], config, structure, filters, mode, calibrate
    )


def check_calibration_inputs(config, structure, mode):
    """Keras's checks before calibrating, in its order.

    Raises:
        ValueError: without a structure, or without a dataset or tokenizer.
    """
    if structure is None:
        raise ValueError(STRUCTURE_ERROR.format(mode=mode))
    if config.dataset is None or config.tokenizer is None:
        raise ValueError(
            f"{mode.upper()} quantization requires a dataset and a tokenizer. "
            f"Please provide them in the `{mode.upper()}Config`."
        )


def gptq_quantize(config, quantization_layer_structure, filters=None):
    """Calibrate and quantize the GPTQ-prepared layers of the blocks in
    `quantization_layer_structure` with the windows of `config.dataset`."""
    from lamina.layers.core import _quantized_gptq

    calibrate = calibrate_with(
        lambda kernel: GPTQ(kernel, config),
        GPTQ.update_hessian_with_batch,
        _quantized_gptq.finish,
    )
    quantize_blockwise(config, quantization_layer_structure, filters, "gptq", calibrate)
