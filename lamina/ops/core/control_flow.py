"""Control flow of `keras.ops.core`, run eagerly in Python over torch tensors
(as Keras's torch backend does): `cond`, `switch`, `while_loop`, `fori_loop`,
`scan`, `associative_scan`, `map`, `vectorized_map`, and `custom_gradient`.

Structures of tensors (lists, tuples, dicts) are walked with `lamina.tree`.
"""

import builtins

import torch

from lamina import tree
from lamina.ops._utils import to_tensor
from lamina.ops.operation import op


def _check_callable(name: str, arg: str, fn):
    if not callable(fn):
        raise TypeError(f"ops.{name}: `{arg}` should be a callable; got {arg}={fn!r}.")


@op
def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()` (a Python branch: `pred` is read
    on the host).

    Example:
    >>> lamina.ops.cond(True, lambda: 1, lambda: 2)
    1
    """
    _check_callable("cond", "true_fn", true_fn)
    _check_callable("cond", "false_fn", false_fn)
    if isinstance(pred, torch.Tensor) and (pred.device.type == "meta" or _inferring()):
        # Shape inference (a symbolic `pred`): either branch may run, so both
        # must give the same structure, shapes and dtypes, as Keras checks.
        return _same_branches(true_fn(), false_fn())
    return true_fn() if bool(pred) else false_fn()


def _inferring() -> bool:
    from lamina.backend.shape_inference import inferring

    return inferring()


def _same_branches(true_out, false_out):
    def describe(value):
        if isinstance(value, torch.Tensor):
            return (tuple(value.shape), value.dtype)
        return value if value is None else type(value).__name__

    try:
        tree.assert_same_structure(true_out, false_out)
        same = builtins.all(
            describe(t) == describe(f)
            for t, f in zip(tree.flatten(true_out), tree.flatten(false_out))
        )
    except (ValueError, TypeError):
        same = False
    if not same:
        raise ValueError(
            "ops.cond expects `true_fn` and `false_fn` to return the same "
            "structure of tensors with the same shapes and dtypes; got "
            f"{tree.map_structure(describe, true_out)} and "
            f"{tree.map_structure(describe, false_out)}."
        )
    return true_out


@op
def switch(index, branches, *operands):
    """`branches[index](*operands)`, with `index` clipped to the valid range.

    Example:
    >>> lamina.ops.switch(5, [lambda x: x + 1, lambda x: x * 10], 2)
    20
    """
    if not branches:
        raise ValueError("ops.switch expects a non-empty list of `branches`.")
    for branch in branches:
        _check_callable("switch", "branches", branch)
    index = builtins.min(builtins.max(int(index), 0), len(branches) - 1)
    return branches[index](*operands)


@op
def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Runs `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (and fewer
    than `maximum_iterations` iterations have run); returns the final
    `loop_vars`, a single value when a single (non-tuple) value was given.

    Example:
    >>> int(lamina.ops.while_loop(lambda i: i < 10, lambda i: i + 3, 0))
    12
    """
    _check_callable("while_loop", "cond", cond)
    _check_callable("while_loop", "body", body)
    is_sequence = isinstance(loop_vars, (tuple, list))
    values = tuple(loop_vars) if is_sequence else (loop_vars,)
    values = tuple(tree.map_structure(to_tensor, v) for v in values)
    if _inferring():
        # Shape inference (symbolic loop_vars): the loop keeps the loop
        # variables' shapes and dtypes, so they are the result, as in Keras;
        # running it on stand-in values might never end.
        return values if is_sequence else values[0]
    iteration = 0
    while maximum_iterations is None or iteration < maximum_iterations:
        if not bool(cond(*values)):
            break
        values = body(*values)
        values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
        iteration += 1
    return values if is_sequence else values[0]


@op
def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for `i` in `range(lower, upper)`; returns `val`.

    Example:
    >>> lamina.ops.fori_loop(0, 4, lambda i, total: total + i, 0)
    6
    """
    _check_callable("fori_loop", "body_fun", body_fun)
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


@op
def scan(f, init, xs=None, length=None, reverse: bool = False, unroll=1):
    """Carries a state through `f(carry, x) -> (carry, y)` over the leading axis
    of `xs` (a tensor or a structure of tensors), as `jax.lax.scan`.

    Returns `(final_carry, ys)` with the `y`s stacked on a new leading axis.
    Without `xs`, `f` gets `None` and runs `length` times. `reverse` runs from
    the last element (the `ys` keep their positions). `unroll` is accepted for
    Keras compatibility (the loop runs in Python).

    Example:
    >>> carry, ys = lamina.ops.scan(lambda c, x: (c + x, c + x), 0.0, np.array([1.0, 2.0, 3.0]))
    >>> float(carry), ys.tolist()
    (6.0, [1.0, 3.0, 6.0])
    """
    _check_callable("scan", "f", f)
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(
            "ops.scan expects `unroll` to be a positive int or a bool (`unroll` "
            f"must be an positive integer or boolean.); got unroll={unroll!r}."
        )
    if xs is None and length is None:
        raise ValueError(
            "ops.scan needs `xs` to scan over or a `length`; got no `xs` to scan "
            "over and `length` not provided."
        )
    xs_flat = [] if xs is None else [to_tensor(x) for x in tree.flatten(xs)]
    n = int(length) if length is not None else xs_flat[0].shape[0]
    if builtins.any(x.shape[0] != n for x in xs_flat):
        raise ValueError(
            f"ops.scan expects every tensor of `xs` to have {n} rows (the scan "
            f"length); got leading sizes {[x.shape[0] for x in xs_flat]}."
        )
    init_flat = [to_tensor(v) for v in tree.flatten(init)]
    carry = (
        tree.pack_sequence_as(init, init_flat)
        if tree.is_nested(init)
        else (init_flat[0])
    )
    steps = range(n - 1, -1, -1) if reverse else range(n)
    ys = []
    for i in steps:
        x = None
        if xs is not None:
            rows = [x[i] for x in xs_flat]
            x = tree.pack_sequence_as(xs, rows) if tree.is_nested(xs) else rows[0]
        carry, y = f(carry, x)
        ys.append([torch.zeros_like(v) for v in init_flat] if y is None else y)
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    stacked = tree.map_structure(lambda *column: torch.stack(column), *ys)
    return carry, stacked


@op
def associative_scan(f, elems, reverse: bool = False, axis: int = 0):
    """Inclusive prefix scan of `elems` along `axis` with an associative `f`,
    as `jax.lax.associative_scan`: element `i` of the result is
    `f(... f(f(e0, e1), e2) ..., ei)`.

    `elems` is a tensor or a structure of tensors of the same length along
    `axis`; `f(a, b)` combines two such structures of equal-shaped slices
    (the axis is kept). Runs in `ceil(log2(n))` calls of `f` (the
    Hillis-Steele scan), so `f` must be associative.

    Example:
    >>> lamina.ops.associative_scan(lambda a, b: a + b, np.arange(1, 5)).tolist()
    [1, 3, 6, 10]
    """
    _check_callable("associative_scan", "f", f)
    flat = [to_tensor(e) for e in tree.flatten(elems)]
    nested = tree.is_nested(elems)
    n = flat[0].shape[axis]
    if builtins.any(e.shape[axis] != n for e in flat):
        raise ValueError(
            "ops.associative_scan expects every tensor of `elems` to have the "
            f"same size along axis {axis} (the scanned, first dimension by "
            f"default); got shapes {[tuple(e.shape) for e in flat]}."
        )
    if reverse:
        flat = [torch.flip(e, (axis,)) for e in flat]

    def pack(items):
        return tree.pack_sequence_as(elems, items) if nested else items[0]

    offset = 1
    while offset < n:
        earlier = [e.narrow(axis, 0, n - offset) for e in flat]
        later = [e.narrow(axis, offset, n - offset) for e in flat]
        combined = tree.flatten(f(pack(earlier), pack(later)))
        flat = [
            torch.cat([e.narrow(axis, 0, offset), c], dim=axis)
            for e, c in zip(flat, combined)
        ]
        offset *= 2
    if reverse:
        flat = [torch.flip(e, (axis,)) for e in flat]
    return pack(flat)


@op
def map(f, xs):
    """`f` applied to each row of `xs` (a tensor or structure of tensors,
    sliced along the leading axis), the results stacked.

    Example:
    >>> lamina.ops.map(lambda x: x * 2, np.array([1, 2])).tolist()
    [2, 4]
    """
    _check_callable("map", "f", f)
    _, ys = scan(lambda _, x: ((), f(x)), (), xs)
    return ys


@op
def vectorized_map(function, elements):
    """`function` applied to each row of `elements` along the leading axis,
    vectorised with `torch.vmap` (one batched call, no Python loop).

    Example:
    >>> lamina.ops.vectorized_map(lambda x: x.sum(), np.array([[1, 2], [3, 4]])).tolist()
    [3, 7]
    """
    _check_callable("vectorized_map", "function", function)
    elements = tree.map_structure(to_tensor, elements)
    return torch.vmap(function)(elements)


class _CustomGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, forward_fn, *args):
        result = forward_fn(*args)
        if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
            raise TypeError(
                "ops.custom_gradient expects the decorated function to return "
                "(output, grad_fn); got "
                f"{type(result).__name__}."
            )
        output, ctx.grad_fn = result
        ctx.save_for_backward(*[a for a in args if isinstance(a, torch.Tensor)])
        ctx.tensor_positions = [isinstance(a, torch.Tensor) for a in args]
        return output

    @staticmethod
    def backward(ctx, upstream):
        saved = iter(ctx.saved_tensors)
        args = [
            next(saved) if is_tensor else None for is_tensor in ctx.tensor_positions
        ]
        grads = ctx.grad_fn(*args, upstream=upstream)
        grads = grads if isinstance(grads, (tuple, list)) else (grads,)
        return (None, *grads)


@op
def custom_gradient(f):
    """Decorator giving `f` a hand-written gradient, as Keras's torch backend.

    `f(*args)` returns `(output, grad_fn)`; `grad_fn(*args, upstream=g)`
    returns the gradient of each positional argument of `f` given the gradient
    `g` of `output` (a tuple for several arguments).

    Example:
    >>> import torch
    >>> @lamina.ops.custom_gradient
    ... def clipped_identity(x):
    ...     return x, lambda *args, upstream: upstream.clamp(-1.0, 1.0)
    >>> x = torch.tensor(2.0, requires_grad=True)
    >>> (clipped_identity(x) * 5.0).backward()
    >>> float(x.grad)
    1.0
    """
    _check_callable("custom_gradient", "f", f)

    def wrapper(*args, **kwargs):
        if kwargs:
            return _CustomGradient.apply(lambda *a: f(*a, **kwargs), *args)
        return _CustomGradient.apply(f, *args)

    wrapper.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapper.__doc__ = getattr(f, "__doc__", None)
    return wrapper


__all__ = [
    "associative_scan",
    "cond",
    "custom_gradient",
    "fori_loop",
    "map",
    "scan",
    "switch",
    "vectorized_map",
    "while_loop",
]
