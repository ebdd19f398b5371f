"""`vectorize`: a function over scalars (or over core shapes given by a NumPy
gufunc `signature`) turned into one that maps over any leading axes.

It runs on `torch.vmap`, so the function must be written with tensor ops (no
`.item()`, no Python branches on values).
"""

import functools
import math
import re

import torch

from lamina.ops._utils import to_tensor

_DIMS = r"\([\w ,]*\)"
_SIGNATURE = re.compile(rf"^{_DIMS}(?:,{_DIMS})*->{_DIMS}(?:,{_DIMS})*$")


def _parse_signature(signature: str):
    compact = signature.replace(" ", "")
    if not _SIGNATURE.match(compact):
        raise ValueError(
            "ops.vectorize expects a signature like '(m,n),(n)->(m)'; got "
            f"signature={signature!r}."
        )
    inputs, outputs = compact.split("->")

    def groups(text):
        return [
            tuple(d for d in group.split(",") if d)
            for group in re.findall(r"\(([\w,]*)\)", text)
        ]

    return groups(inputs), groups(outputs)


def vectorize(pyfunc, *, excluded=None, signature=None):
    """`pyfunc` made to broadcast over the leading (non-core) axes of its inputs.

    Args:
        pyfunc: A function of tensors, written with `lamina.ops` or torch.
        excluded: Positions (ints) or names (strs) of arguments passed through
            unchanged, not vectorized. Defaults to none.
        signature: A NumPy generalized-ufunc signature such as `"(n),(n)->()"`
            naming the core axes of each input and output. Defaults to scalars
            in, scalars out.

    Returns:
        The vectorized function.

    Example:
    >>> dot = lamina.ops.vectorize(lambda a, b: (a * b).sum(), signature="(n),(n)->()")
    >>> dot(lamina.ops.ones((4, 3)), lamina.ops.ones((3,))).tolist()
    [3.0, 3.0, 3.0, 3.0]
    """
    if not callable(pyfunc):
        raise TypeError(f"ops.vectorize expects a callable; got {pyfunc!r}.")
    excluded = set(excluded or ())
    input_core = None if signature is None else _parse_signature(signature)[0]

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        mapped = [i for i in range(len(args)) if i not in excluded]
        mapped_kwargs = [k for k in kwargs if k not in excluded]
        tensors = [to_tensor(args[i]) for i in mapped]
        tensors += [to_tensor(kwargs[k]) for k in mapped_kwargs]
        cores = input_core if input_core is not None else [()] * len(tensors)
        if len(cores) != len(tensors):
            raise ValueError(
                f"ops.vectorize's signature {signature!r} names {len(cores)} "
                f"inputs; the call passed {len(tensors)} vectorized arguments."
            )
        for t, core in zip(tensors, cores):
            if t.ndim < len(core):
                raise ValueError(
                    f"ops.vectorize's signature {signature!r} needs inputs of rank "
                    f">= {len(core)}; got shape {tuple(t.shape)}."
                )
        batch = torch.broadcast_shapes(
            *(t.shape[: t.ndim - len(c)] for t, c in zip(tensors, cores))
        )
        flat = [
            t.broadcast_to(batch + t.shape[t.ndim - len(c) :]).reshape(
                (math.prod(batch),) + t.shape[t.ndim - len(c) :]
            )
            for t, c in zip(tensors, cores)
        ]

        def call(*values):
            new_args = list(args)
            for i, v in zip(mapped, values):
                new_args[i] = v
            new_kwargs = dict(kwargs)
            for k, v in zip(mapped_kwargs, values[len(mapped) :]):
                new_kwargs[k] = v
            return pyfunc(*new_args, **new_kwargs)

        out = torch.vmap(call)(*flat)

        def restore(t):
            return t.reshape(batch + t.shape[1:])

        if isinstance(out, (tuple, list)):
            return type(out)(restore(t) for t in out)
        return restore(out)

    return wrapped
