"""Unique default names (`dense`, `dense_1`, ...) as Keras gives them."""

import re
import sys
import threading

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


def auto_name(prefix: str) -> str:
    """`prefix` in snake case, made unique: `"KerasTensor"` gives
    `keras_tensor`, then `keras_tensor_1`, ... (Keras's default object names)."""
    return uniquify(to_snake_case(prefix))


def get_uid(prefix: str = "") -> int:
    """Count calls per `prefix` in this session: 1 the first time, then 2, 3, ...

    Layers take their default names from the same counters (the first `Dense`
    is `dense`, the next `dense_1`), as in Keras, and `clear_session()` resets
    them.

    Example:
    >>> lamina.backend.get_uid("block"), lamina.backend.get_uid("block")
    (1, 2)
    """
    count = _NAME_COUNTS.get(prefix, 0) + 1
    _NAME_COUNTS[prefix] = count
    return count


def reset_uids() -> None:
    """Restart every name counter (what `clear_session` does to names)."""
    _NAME_COUNTS.clear()


def get_object_name(obj) -> str:
    """A default name for `obj`: its `name`, else its (function) `__name__`
    or its class name, in snake case, as Keras names metrics and losses."""
    if hasattr(obj, "name"):
        return obj.name
    if hasattr(obj, "__name__"):
        return to_snake_case(obj.__name__)
    return to_snake_case(type(obj).__name__)


def clear_session(free_memory=True) -> None:
    """Forget the names handed out, so the next Dense is `dense` again.

    Args:
        free_memory: Whether to also run Python's garbage collector (and
            release the CUDA allocator's cached blocks), so that memory held
            by deleted models is freed at once. A full collection can take a
            noticeable fraction of a second; pass `False` where
            `clear_session` runs often (between tests, say). Defaults to
            `True`, as in Keras.
    """
    reset_uids()
    if free_memory:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()


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


# --- name scopes: the prefixes of variable and layer paths --------------------
#
# Keras pushes a scope for a layer around its build and its call, so a weight's
# path lists the layers whose call or build created it ("sequential/dense/kernel").
# lamina keeps the per-call fast path free of that bookkeeping: the layers enclosing
# a build are read from the Python call stack instead (frames of `Layer.__call__`,
# of the build wrapper and of Sequential's graph build), once per layer, when it is
# built. Scopes opened with `name_scope` are kept on a stack and placed among those
# layers by the frame that opened them.

_SCOPES = threading.local()
_LAYER_SCOPE_CODES = set()
_LAYER_CODES_REGISTERED = []


def _scope_stack() -> list:
    stack = getattr(_SCOPES, "stack", None)
    if stack is None:
        stack = _SCOPES.stack = []
    return stack


def register_scope_function(function) -> None:
    """Mark `function(self, ...)` as opening the scope of the layer `self` while
    it runs (as Keras's layer `__call__` and `build` do)."""
    _LAYER_SCOPE_CODES.add(function.__code__)


class name_scope:
    """A context manager that prefixes the paths of variables created inside it.

    `with name_scope("encoder"):` makes a layer first built inside the block get
    the path `encoder/dense`, and its weights `encoder/dense/kernel`, as in Keras.

    Args:
        name: The scope's name, a string without `/`.
        caller: The object opening the scope (a layer, a metric), if any.
        deduplicate: When `True`, entering the scope of the same `caller` and
            `name` as the innermost open scope adds no level. Defaults to `True`.
        override_parent: A path that replaces the enclosing scopes, so the
            scope sits at `override_parent/name`. Defaults to `None`, or to the
            path `caller` was first built under.

    Raises:
        ValueError: If `name` is not a string or contains `/`.

    Example:
    >>> with lamina.name_scope("block"):
    ...     layer = lamina.layers.Dense(2)
    ...     _ = layer(np.ones((1, 3), "float32"))
    >>> layer.kernel.path
    'block/dense/kernel'
    """

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError(
                "name_scope: `name` must be a string without '/'; got "
                f"name={name!r}. Nest two scopes for a two-level path."
            )
        self.name = name
        self.caller = caller
        self.deduplicate = deduplicate
        if override_parent is None and deduplicate:
            override_parent = getattr(caller, "_parent_path", None)
        self.override_parent = override_parent
        self._frame = None

    def __enter__(self):
        self._frame = sys._getframe(1)
        _scope_stack().append(self)
        return self

    def __exit__(self, *exc):
        stack = _scope_stack()
        if stack and stack[-1] is self:
            stack.pop()
        elif self in stack:
            stack.remove(self)
        self._frame = None


def current_path(exclude=None, record=True) -> str:
    """The scope path at the caller, e.g. `"sequential/block"` inside the call of
    a layer `block` of a Sequential model named `sequential`.

    Layers met on the way that had no parent path yet get it recorded (Keras
    fixes a layer's parent path when its scope is first opened), unless
    `record` is `False`. `exclude` is a layer left out (the one being built).
    """
    return _resolve(_enclosing_scopes(exclude), record)


def _layer_scope_codes() -> set:
    if not _LAYER_CODES_REGISTERED:
        # Lazy: the layer modules import this one.
        from lamina.layers.layer import Layer
        from lamina.models.sequential import Sequential

        register_scope_function(Layer.__call__)
        register_scope_function(Sequential._build_graph)
        _LAYER_CODES_REGISTERED.append(True)
    return _LAYER_SCOPE_CODES


def _enclosing_scopes(exclude) -> list:
    """Open scopes and layers enclosing the caller, outermost first."""
    stack = _scope_stack()
    by_frame = {}
    for entry in stack:
        by_frame.setdefault(id(entry._frame), []).append(entry)
    codes = _layer_scope_codes()
    found, items = set(), []  # innermost first
    frame = sys._getframe(2)
    while frame is not None:
        entries = by_frame.get(id(frame))
        if entries:
            items.extend(reversed(entries))
            found.update(id(e) for e in entries)
        if frame.f_code in codes:
            layer = frame.f_locals.get("self")
            if layer is not None and layer is not exclude:
                items.append(layer)
        frame = frame.f_back
    items.reverse()
    return [e for e in stack if id(e) not in found] + items


def _resolve(items, record) -> str:
    parts, previous = [], (None, None)
    for item in items:
        if isinstance(item, name_scope):
            if item.deduplicate and item.caller is not None:
                if (item.caller, item.name) == previous:
                    continue
            if item.override_parent is not None:
                parts = [p for p in item.override_parent.split("/") if p]
            parts.append(item.name)
            previous = (item.caller, item.name)
            continue
        if previous[0] is item:
            continue  # the same layer's __call__, build and graph frames
        parent = item.__dict__.get("_parent_path")
        if parent is None:
            parent = "/".join(parts)
            if record:
                item.__dict__["_parent_path"] = parent
                item.__dict__.setdefault("_path", join_path(parent, item.name))
        parts = [p for p in parent.split("/") if p] + [item.name]
        previous = (item, item.name)
    return "/".join(parts)


def join_path(*parts) -> str:
    """`"a"`, `""`, `"b"` -> `"a/b"`: the non-empty parts joined with `/`."""
    return "/".join(p for p in parts if p)
