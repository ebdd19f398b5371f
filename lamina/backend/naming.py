"""Unique default names (`dense`, `dense_1`, ...) as Keras gives them."""

import re

_NAME_COUNTS = {}


def to_snake_case(name: str) -> str:
    """`"BatchNormalization"` -> `"batch_normalization"`, as Keras converts class names."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def uniquify(prefix: str) -> str:
    """`prefix` the first time, then `prefix_1`, `prefix_2`, ..."""
    count = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Forget the names handed out, so the next Dense is `dense` again."""
    _NAME_COUNTS.clear()


def defining_class(cls):
    """The user-facing class behind one that torch made at run time (FSDP's
    `fully_shard` turns a `Dense` into an `FSDPDense` subclass); names, configs
    and file layouts use this one."""
    while (cls.__module__ or "").startswith("torch.distributed"):
        bases = [
            b
            for b in cls.__bases__
            if not (b.__module__ or "").startswith("torch.distributed")
        ]
        if not bases:
            break
        cls = bases[0]
    return cls
