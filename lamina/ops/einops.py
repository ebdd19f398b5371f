"""`rearrange` of `keras.ops.einops`: einops-style axis reshuffling.

A pattern such as `"b (h p) w c -> b h (p w c)"` names the axes of the input
(left) and of the result (right); parentheses merge or split axes. Splits need
all but one size given as keyword arguments (`p=2`). Ellipses (`...`) and
anonymous axes (`1`, `()`) are not supported.
"""

import math
import re

from lamina.ops._utils import Tensor, to_tensor
from lamina.ops.operation import op

_TOKEN = re.compile(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S+")


def _parse(pattern: str, side: str) -> list:
    """A pattern side as a list of groups (lists of axis names)."""
    groups, current = [], None
    for token in _TOKEN.findall(side):
        if token == "(":
            if current is not None:
                raise ValueError(f"ops.rearrange: nested parentheses in {pattern!r}.")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"ops.rearrange: unbalanced ')' in {pattern!r}.")
            groups.append(current)
            current = None
        elif token.isidentifier():
            (groups if current is None else current).append(
                [token] if current is None else token
            )
        else:
            raise ValueError(
                f"ops.rearrange supports axis names and parentheses only; got "
                f"{token!r} in pattern {pattern!r}."
            )
    if current is not None:
        raise ValueError(f"ops.rearrange: unbalanced '(' in {pattern!r}.")
    return groups


@op
def rearrange(tensor, pattern: str, **axes_lengths) -> Tensor:
    """`tensor` with its axes reordered, merged or split as `pattern` says.

    Example:
    >>> x = lamina.ops.zeros((2, 3, 4))
    >>> tuple(lamina.ops.rearrange(x, "b h w -> b (w h)").shape)
    (2, 12)
    >>> tuple(lamina.ops.rearrange(x, "b (h p) w -> b h p w", p=3).shape)
    (2, 1, 3, 4)
    """
    x = to_tensor(tensor)
    if not isinstance(pattern, str) or pattern.count("->") != 1:
        raise ValueError(
            "ops.rearrange expects a pattern 'left -> right', e.g. "
            f"'b h w -> b (h w)'; got pattern={pattern!r}."
        )
    left, right = (_parse(pattern, side) for side in pattern.split("->"))
    left_names = [name for group in left for name in group]
    right_names = [name for group in right for name in group]
    if sorted(left_names) != sorted(right_names) or len(set(left_names)) != len(
        left_names
    ):
        raise ValueError(
            "ops.rearrange expects each axis name once on each side of the "
            f"pattern; got {pattern!r}."
        )
    if len(left) != x.ndim:
        raise ValueError(
            f"ops.rearrange: the pattern {pattern!r} names {len(left)} input axes, "
            f"but the tensor has shape {tuple(x.shape)}."
        )
    # 1. The size of every named axis, splitting grouped input axes.
    sizes = {}
    for group, dim in zip(left, x.shape):
        unknown = [name for name in group if name not in axes_lengths]
        known = math.prod(axes_lengths[name] for name in group if name in axes_lengths)
        if len(unknown) > 1 or (not unknown and known != dim) or dim % known:
            raise ValueError(
                f"ops.rearrange cannot split an axis of size {dim} into {group} "
                f"with axes_lengths={axes_lengths}."
            )
        for name in group:
            sizes[name] = axes_lengths.get(name, dim // known)
    # 2. Split, permute, merge.
    x = x.reshape([sizes[name] for name in left_names])
    x = x.permute([left_names.index(name) for name in right_names])
    return x.reshape([math.prod(sizes[name] for name in group) for group in right])


__all__ = ["rearrange"]
