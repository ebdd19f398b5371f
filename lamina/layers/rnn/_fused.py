"""Whole-sequence RNN kernels of PyTorch (cuDNN on GPU, oneDNN or ATen on CPU) run
on weights kept in Keras's layout, with Keras's masking semantics.

The cells convert their weights to PyTorch's layout on every call (a transpose
and, for GRU, a gate reorder: a few small copies), so autograd flows back to
the Keras-layout parameters and files keep speaking Keras.

Masks need no host sync. Keras skips a masked step: the state is carried and
the output repeats the previous one (zeros before the first unmasked step).

- GRU: an extra input column, 1 at masked steps, adds `+_BIG` to the update
  gate, so `z` is exactly 1 there and `h` passes through (up to one rounding
  of `n + z * (h - n)`; the sigmoid saturates to exactly 1.0 in float32,
  bfloat16 and float16, and its gradient to exactly 0, so nothing leaks into
  the weights' gradients).
- LSTM and simple RNN: each sequence's unmasked steps are moved to the front
  (a stable sort of the mask), the kernel runs on these right-padded
  sequences, and the outputs are gathered back. For LSTM an extra column
  forces `i = 0` and `f = 1` on the padding, so the final carry `c` is exact.
"""

import warnings

import torch

_BIG = 1e4
_CUDNN_COPY_WARNING = "RNN module weights are not part of single contiguous"


def lstm_weights(kernel, recurrent_kernel, bias):
    """Keras LSTM weights -> PyTorch's `[w_ih, w_hh, b_ih, b_hh]`.

    Both use the gate order i, f, c (g), o, so a transpose suffices; Keras's
    single bias becomes `b_ih` and `b_hh` is zero.
    """
    return _torch_weights(kernel.t(), recurrent_kernel.t(), bias, None)


def gru_weights(kernel, recurrent_kernel, bias):
    """Keras GRU (`reset_after=True`) weights -> PyTorch's GRU weights.

    Keras orders the gates z, r, h; PyTorch r, z, n. Keras's bias `(2, 3H)` is
    `[input_bias, recurrent_bias]`, PyTorch's `b_ih` and `b_hh`.
    """

    def reorder(t):  # (..., 3H) in z, r, h -> r, z, h
        z, r, h = t.chunk(3, dim=-1)
        return torch.cat([r, z, h], dim=-1)

    b_ih = b_hh = None
    if bias is not None:
        b_ih, b_hh = reorder(bias[0]), reorder(bias[1])
    return _torch_weights(
        reorder(kernel).t(), reorder(recurrent_kernel).t(), b_ih, b_hh
    )


def simple_rnn_weights(kernel, recurrent_kernel, bias):
    """Keras SimpleRNN weights -> PyTorch's `[w_ih, w_hh, b_ih, b_hh]`."""
    return _torch_weights(kernel.t(), recurrent_kernel.t(), bias, None)


def _torch_weights(w_ih, w_hh, b_ih, b_hh):
    if b_ih is None:
        b_ih = w_ih.new_zeros(w_ih.shape[0])
    if b_hh is None:
        b_hh = w_hh.new_zeros(w_hh.shape[0])
    return [w_ih, w_hh, b_ih, b_hh]


def run(
    mode,
    sequences,
    initial_state,
    weights,
    mask=None,
    go_backwards=False,
    return_sequences=False,
    zero_output_for_mask=False,
):
    """Run a whole sequence through one fused PyTorch RNN kernel.

    Args:
        mode: `"lstm"`, `"gru"`, `"rnn_tanh"` or `"rnn_relu"`.
        sequences: `(batch, time, features)`.
        initial_state: `[h]`, or `[h, c]` for LSTM, each `(batch, units)`.
        weights: `[w_ih, w_hh, b_ih, b_hh]` in PyTorch's layout.
        mask: Optional `(batch, time)` mask; False marks a skipped step.

    Returns:
        `(last_output, outputs, states)` as Keras's `backend.rnn` returns them:
        `outputs` is `(batch, time, units)` (in processing order) when
        `return_sequences`, else `(batch, 1, units)`.
    """
    dtype = sequences.dtype
    weights = [w if w.dtype == dtype else w.to(dtype) for w in weights]
    states = [s if s.dtype == dtype else s.to(dtype) for s in initial_state]
    if go_backwards:
        sequences = sequences.flip(1)
        mask = None if mask is None else mask.flip(1)
    if mask is None:
        outputs, states = _kernel(mode, sequences, states, weights)
        last = states[0]
        return last, outputs if return_sequences else last[:, None], states
    mask = mask.to(torch.bool)
    seen = mask.cumsum(1)  # unmasked steps so far, (batch, time)
    if mode == "gru":
        flag = (~mask).to(dtype)[..., None]
        units = states[0].shape[-1]
        column = torch.zeros(3 * units, dtype=dtype, device=sequences.device)
        column[units : 2 * units] = _BIG  # PyTorch's z gate
        weights = [torch.cat([weights[0], column[:, None]], 1)] + weights[1:]
        outputs, states = _kernel(
            mode, torch.cat([sequences, flag], -1), states, weights
        )
    else:
        outputs, states = _run_compacted(mode, sequences, states, weights, mask, seen)
    keep = mask if zero_output_for_mask else seen > 0
    outputs = torch.where(keep[..., None], outputs, 0.0)
    last = outputs[:, -1]
    return last, outputs if return_sequences else last[:, None], states


def _run_compacted(mode, sequences, states, weights, mask, seen):
    batch, steps = mask.shape
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    compact = sequences.gather(1, order[..., None].expand_as(sequences))
    lengths = seen[:, -1]
    if mode == "lstm":
        units = states[0].shape[-1]
        padding = torch.arange(steps, device=mask.device) >= lengths[:, None]
        compact = torch.cat([compact, padding.to(compact.dtype)[..., None]], -1)
        column = compact.new_zeros(4 * units)
        column[:units] = -_BIG  # input gate i = 0
        column[units : 2 * units] = _BIG  # forget gate f = 1
        weights = [torch.cat([weights[0], column[:, None]], 1)] + weights[1:]
    h0 = states[0]
    outputs, new_states = _kernel(mode, compact, states, weights)
    index = (seen - 1).clamp(min=0)
    outputs = outputs.gather(1, index[..., None].expand(batch, steps, h0.shape[-1]))
    h = torch.where((lengths > 0)[:, None], outputs[:, -1], h0)
    return outputs, [h] + new_states[1:]


def _kernel(mode, x, states, weights):
    # cuDNN wants one buffer; oneDNN and ATen take the separate (transposed)
    # views as they are, where a copy of each would only cost time.
    params = _flatten(weights) if x.is_cuda else weights
    train = torch.is_grad_enabled()
    with _quiet_cudnn(x):
        if mode == "lstm":
            hx = (states[0][None].contiguous(), states[1][None].contiguous())
            out, h, c = torch.lstm(x, hx, params, True, 1, 0.0, train, False, True)
            return out, [h[0], c[0]]
        fn = {"gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}
        hx = states[0][None].contiguous()
        out, h = fn[mode](x, hx, params, True, 1, 0.0, train, False, True)
        return out, [h[0]]


def _flatten(weights):
    # One buffer in cuDNN's order (w_ih, w_hh, b_ih, b_hh) lets cuDNN use the
    # weights in place instead of compacting them on every call.
    flat = torch.cat([w.reshape(-1) for w in weights])
    views, offset = [], 0
    for w in weights:
        views.append(flat[offset : offset + w.numel()].view(w.shape))
        offset += w.numel()
    return views


class _quiet_cudnn:
    """Silence cuDNN's advice to call `flatten_parameters()`: these weights are
    rebuilt from Keras-layout parameters on every call by design."""

    def __init__(self, x):
        self._active = x.is_cuda
        self._context = warnings.catch_warnings() if self._active else None

    def __enter__(self):
        if self._active:
            self._context.__enter__()
            warnings.filterwarnings("ignore", message=_CUDNN_COPY_WARNING)

    def __exit__(self, *exc):
        if self._active:
            self._context.__exit__(*exc)
