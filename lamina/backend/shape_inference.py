"""Output shapes of any computation without running it on data.

`compute_output_spec(fn, *args, **kwargs)` runs `fn` once on fake tensors (torch's
FakeTensorMode: shapes and dtypes only, no memory, no compute) with every unknown
(`None`) size replaced by a probe size. It runs twice with two probe sizes; axes
whose size follows the probe are reported as `None`. Where an unknown size is
not the batch's, a third, large probe follows: a stride-8 convolution maps
both 2 and 3 to 1, and only a large size shows that the axis still varies. A
computation that fails
for the first probe sizes (`reshape(x, (-1, 8))` of a `(None, 4)` tensor needs
an even batch) is tried again with larger ones before its error is raised. A
computation that needs values (a shape argument computed from tensors) runs on
real tensors of ones. One that fits no probe pair because an unknown size
must equal a known one (the contracted axis of `matmul` of `(None, None)` and
`(16, 8)`) is tried again with that size pinned to each known size of the
inputs in turn; one where an unknown size meets a known one in a broadcast
gets a last run with unknown sizes of 1.
"""

import contextlib
import functools
import itertools
import logging
import warnings

import numpy as np
import torch
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    DynamicOutputShapeException,
    FakeTensorMode,
)

from lamina import tree
from lamina.backend.dtypes import standardize_dtype, to_torch_dtype
from lamina.backend.keras_tensor import KerasTensor
from lamina.backend.variables import Variable

_PROBE_SIZES = (2, 3)
# The third probe (fake tensors only), for unknown sizes past the batch axis.
_LARGE_PROBE_SIZE = 97
# Tried in turn only after the first probes fail: batches that divide by 2, 3, 4.
_RETRY_PROBE_SIZES = ((4, 8), (6, 12), (24, 48))
# The sizes a layer first called during a run may see for an unknown batch.
PROBE_BATCH_SIZES = frozenset(
    (1, _PROBE_SIZES[0]) + tuple(pair[0] for pair in _RETRY_PROBE_SIZES)
)
# How many pinnings `_pinned_probe` tries before giving up (it runs only on the
# way to an error, which it should not delay much).
_MAX_PINNINGS = 24
_DEPTH = [0]


def inferring() -> bool:
    """True while `compute_output_spec` is running a computation on fake tensors."""
    return _DEPTH[0] > 0


_DATA_DEPENDENT = (DataDependentOutputException, DynamicOutputShapeException)


def _fake_from_spec(spec, probe, mode, device):
    if not isinstance(spec, KerasTensor):
        return spec
    shape = [probe if d is None else d for d in spec.shape]
    if spec.dtype == "string":
        # Text stays in NumPy: a custom layer calling StringLookup (or
        # TextVectorization) inside its `call` gets empty strings to map.
        return np.full(shape, "", dtype=object)
    dtype = to_torch_dtype(spec.dtype)
    if mode is None:
        return torch.ones(shape, dtype=dtype, device=device)
    with mode:
        return torch.empty(shape, dtype=dtype, device=device)


def _run_probes(fn, args, kwargs, modules, device, fake, probes):
    """`fn`'s results for each of the `probes` sizes, on fake tensors or real
    ones."""
    results = []
    for probe in probes:
        mode = FakeTensorMode(allow_non_fake_inputs=True) if fake else None
        fake_args = tree.map_structure(
            lambda s, p=probe, m=mode: _fake_from_spec(s, p, m, device), args
        )
        fake_kwargs = tree.map_structure(
            lambda s, p=probe, m=mode: _fake_from_spec(s, p, m, device), kwargs
        )
        _DEPTH[0] += 1
        try:
            with (
                _as_plain_parameters(modules, (args, kwargs))
                if fake
                else contextlib.nullcontext(),
                _quiet_fake_tensor_log() if fake else contextlib.nullcontext(),
                mode if fake else contextlib.nullcontext(),
                torch.no_grad(),
                # The second probe repeats the first: its warnings are noise.
                _no_warnings() if results else contextlib.nullcontext(),
            ):
                results.append(fn(*fake_args, **fake_kwargs))
        finally:
            _DEPTH[0] -= 1
    return results


@functools.cache
def _fake_mode_takes_variables() -> bool:
    """Whether FakeTensorMode computes with lamina Variables (Parameter
    subclasses). Releases before mid-2026 (torch 2.11 among them) refuse every
    Parameter subclass ("Multiple dispatch failed ... returned NotImplemented")."""
    weight = Variable(torch.zeros(1), requires_grad=False)
    try:
        with FakeTensorMode(allow_non_fake_inputs=True):
            torch.empty(1) + weight
    except TypeError:
        return False
    return True


_DEMOTED = []  # Variables passing as plain Parameters during an inference


@contextlib.contextmanager
def _as_plain_parameters(modules, values=()):
    """On torch releases whose FakeTensorMode refuses Parameter subclasses, the
    weights of `modules`, the Variables among `values` (an op's constant
    arguments: `ops.matmul(x, layer.kernel)`), and those built during the
    inference (see `variable_made`), are plain `nn.Parameter`s for the
    duration."""
    if _fake_mode_takes_variables():
        yield
        return
    start = len(_DEMOTED)
    for module in modules:
        for weight in module.parameters():
            _demote(weight)
    for value in tree.flatten(values):
        if isinstance(value, Variable):
            _demote(value)
    try:
        yield
    finally:
        for weight in _DEMOTED[start:]:
            weight.__class__ = Variable
            for name in _DEMOTED_API:
                weight.__dict__.pop(name, None)
        del _DEMOTED[start:]


def variable_made(weight):
    """Called for each new Variable: one made while inferring, on a torch whose
    FakeTensorMode refuses Parameter subclasses, passes as a plain Parameter
    until the inference ends."""
    if inferring() and not _fake_mode_takes_variables():
        _demote(weight)


def _demote(weight):
    if type(weight) is Variable:  # not one an outer inference already demoted
        weight.__class__ = torch.nn.Parameter
        # What a call() may use of a Variable's own API keeps working: the
        # assignments do nothing while shapes are inferred (Keras's symbolic
        # build assigns nothing either).
        weight.__dict__.update(
            assign=lambda value: weight,
            assign_add=lambda value: weight,
            assign_sub=lambda value: weight,
            value=weight,
        )
        _DEMOTED.append(weight)


_DEMOTED_API = ("assign", "assign_add", "assign_sub", "value")


_FAKE_TENSOR_LOG = logging.getLogger("torch._subclasses.fake_tensor")


@contextlib.contextmanager
def _quiet_fake_tensor_log():
    """torch logs a failed meta kernel on fake tensors as an error, stack and
    all; a probe size the computation refuses is expected here (another is
    tried, or the error is raised to the caller), not worth a log."""
    level = _FAKE_TENSOR_LOG.level
    _FAKE_TENSOR_LOG.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        _FAKE_TENSOR_LOG.setLevel(level)


@contextlib.contextmanager
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def compute_output_spec(fn, *args, modules=(), **kwargs):
    """KerasTensors describing what `fn(*args, **kwargs)` would return.

    `args`/`kwargs` may hold KerasTensors (nested in lists/dicts) and plain values.
    `modules`: the layers whose weights `fn` reads.
    """
    from lamina.backend.device import get_device

    device = get_device()
    try:
        results = _probe(fn, args, kwargs, modules, device, _PROBE_SIZES)
    except (RuntimeError, ValueError, TypeError, IndexError) as error:
        if not any(
            isinstance(v, KerasTensor) and None in v.shape
            for v in tree.flatten((args, kwargs))
        ):
            raise  # no unknown size: other probe sizes change nothing
        results = None
        for probes in _RETRY_PROBE_SIZES:
            try:
                results = _probe(fn, args, kwargs, modules, device, probes)
                break
            except (RuntimeError, ValueError, TypeError, IndexError):
                continue
        if results is None:
            pinned = _pinned_probe(fn, args, kwargs, modules, device)
            if pinned is not None:
                args, kwargs, results = pinned
        if results is None:
            broadcast = _broadcast_probe(fn, args, kwargs, modules, device)
            if broadcast is None:
                raise error from None
            return broadcast

    def _to_spec(a, b, c=None):
        if not isinstance(a, torch.Tensor):
            return a
        if a.ndim != b.ndim:
            raise ValueError(
                "The output rank of this computation depends on the batch size "
                f"({tuple(a.shape)} vs {tuple(b.shape)}); lamina cannot infer a "
                "symbolic shape for it. Define compute_output_shape()."
            )
        if c is None or c.ndim != a.ndim:
            c = a
        shape = tuple(
            None if x != y or x != z else int(x)
            for x, y, z in zip(a.shape, b.shape, c.shape)
        )
        return KerasTensor(shape, dtype=standardize_dtype(a.dtype))

    large = _large_probe(fn, args, kwargs, modules, device)
    if large is not None:
        return tree.map_structure(_to_spec, results[0], results[1], large)
    return tree.map_structure(_to_spec, results[0], results[1])


def _pinned_probe(fn, args, kwargs, modules, device):
    """For a computation no probe pair fits because an unknown size must equal
    a known one (a contraction, a concatenation's other axes, a convolution's
    channels): one unknown size, then two, pinned to each known size (above 1)
    of the inputs in turn, the others probed as usual. The pinned sizes count
    as known, as the computation allows no other. `(args, kwargs, results)`
    with the pinned inputs, or None if no pinning fits."""
    leaves = tree.flatten((args, kwargs))
    specs = [v for v in leaves if isinstance(v, KerasTensor)]
    unknown = [
        (i, axis)
        for i, v in enumerate(specs)
        for axis, d in enumerate(v.shape)
        if d is None
    ]
    known = sorted({d for v in specs for d in v.shape if d is not None and d > 1})
    if not known:
        return None
    choices = (
        tuple(zip(places, sizes))
        for count in (1, 2)
        for places in itertools.combinations(unknown, count)
        for sizes in itertools.product(known, repeat=count)
    )
    for pins in itertools.islice(choices, _MAX_PINNINGS):
        shapes = [list(v.shape) for v in specs]
        for (i, axis), size in pins:
            shapes[i][axis] = size
        pinned = iter(
            KerasTensor(tuple(shape), dtype=v.dtype, sparse=v.sparse)
            for v, shape in zip(specs, shapes)
        )
        new_args, new_kwargs = tree.map_structure(
            lambda v, pinned=pinned: next(pinned) if isinstance(v, KerasTensor) else v,
            (args, kwargs),
        )
        try:
            with _no_warnings():
                results = _probe(
                    fn, new_args, new_kwargs, modules, device, _PROBE_SIZES
                )
        except Exception:  # noqa: BLE001 - the caller raises the first error
            continue
        return new_args, new_kwargs, results
    return None


def _broadcast_probe(fn, args, kwargs, modules, device):
    """The last resort for a computation no probe pair fits: an unknown size
    meeting a known one in a broadcast (`add` of `(None, 3)` and `(2, None)`)
    refuses 2 and 3 alike. Size 1 broadcasts with anything: one run on fake
    tensors with every unknown size 1, where an output axis of size 1 may have
    followed the probe and is reported unknown. None if that fails too."""
    try:
        with _no_warnings():
            result = _run_probes(fn, args, kwargs, modules, device, True, (1,))[0]
    except Exception:  # noqa: BLE001 - the caller raises the first error
        return None

    def _to_spec(a):
        if not isinstance(a, torch.Tensor):
            return a
        shape = tuple(None if x == 1 else int(x) for x in a.shape)
        return KerasTensor(shape, dtype=standardize_dtype(a.dtype))

    return tree.map_structure(_to_spec, result)


def _large_probe(fn, args, kwargs, modules, device):
    """`fn`'s result on fake tensors of `_LARGE_PROBE_SIZE` for every unknown
    size, where one lies past the batch axis; None where there is none or the
    computation refuses that size (a reshape it does not divide, a value read)."""
    if not any(
        isinstance(v, KerasTensor) and None in v.shape[1:]
        for v in tree.flatten((args, kwargs))
    ):
        return None
    try:
        with _no_warnings():
            return _run_probes(
                fn, args, kwargs, modules, device, True, (_LARGE_PROBE_SIZE,)
            )[0]
    except Exception:  # noqa: BLE001 - the two small probes stand on their own
        return None


# torch's fake tensors skip its dtype checks for these (uint16 + int8 gives
# uint16 there; real tensors refuse it, and lamina's ops then compute in int64
# and return Keras's int32): computations on them are probed on real tensors,
# through the same retry as eager ops.
_UNCHECKED_ON_FAKE = ("uint16", "uint32")


def _with_unsigned_retry(fn):
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (NotImplementedError, RuntimeError, ValueError) as error:
            from lamina.ops.operation import _retry_unsigned

            return _retry_unsigned(fn, args, kwargs, error)

    return run


def _probe(fn, args, kwargs, modules, device, probes):
    if any(
        isinstance(v, KerasTensor) and v.dtype in _UNCHECKED_ON_FAKE
        for v in tree.flatten((args, kwargs))
    ):
        return _run_probes(
            _with_unsigned_retry(fn), args, kwargs, modules, device, False, probes
        )
    try:
        return _run_probes(fn, args, kwargs, modules, device, True, probes)
    except _DATA_DEPENDENT:
        # `fn` reads values, e.g. ops.tile(x, repeats) with repeats computed
        # from ops.shape(x): run it on real tensors of ones, as Keras does.
        return _run_probes(fn, args, kwargs, modules, device, False, probes)
    except (RuntimeError, TypeError) as error:
        # NumPy meeting a tensor (`kernel * np_mask`) asks a fake tensor for
        # its values (`.numpy()`), which it has none of (a RuntimeError), or
        # one on a GPU (a TypeError, "can't convert cuda:0 ... to numpy"): use
        # real ones too.
        if "numpy" not in str(error):
            raise
        return _run_probes(fn, args, kwargs, modules, device, False, probes)
