"""Nested-structure helpers. Dicts are walked in sorted-key order, as Keras does."""

import collections
import warnings

# Sequences `tree` walks into; deques too, as Keras's torch tree (torch's pytree)
# does.
_SEQUENCES = (list, tuple, collections.deque)
_NESTED = (*_SEQUENCES, dict)


def is_nested(structure) -> bool:
    """Whether `structure` is a container `tree` walks into (list, tuple, deque,
    dict).

    Args:
        structure: Any object.

    Returns:
        `True` for a list, tuple (namedtuples included), deque or dict, else
        `False` (tensors, arrays, numbers and strings are leaves).
    """
    return isinstance(structure, _NESTED)


def flatten(structure) -> list:
    """The leaves of `structure` in order (dict values by sorted key)."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, _SEQUENCES):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(func, *structures, none_is_leaf=True):
    """Apply `func` leaf-wise over structures of the same shape; keep the shape.

    Args:
        func: Called with one leaf of each structure.
        *structures: Nested lists, tuples and dicts laid out alike.
        none_is_leaf: Whether `None` is a leaf passed to `func` (`True`, the
            default) or left as `None` without calling `func` (`False`; then
            the structures must have `None` at the same places).

    Returns:
        A structure laid out like the first, holding `func`'s results.

    Raises:
        ValueError: With `none_is_leaf=False`, if some structures hold `None`
            where others hold a value.
    """
    if not none_is_leaf:
        return _map_structure(_skipping_none(func), *structures)
    return _map_structure(func, *structures)


def _skipping_none(func):
    def wrapped(*leaves):
        if all(leaf is None for leaf in leaves):
            return None
        if any(leaf is None for leaf in leaves):
            raise ValueError(
                "map_structure(none_is_leaf=False) found None in some "
                f"structures and a value in others at the same place: {leaves!r}."
            )
        return func(*leaves)

    return wrapped


def _map_structure(fn, *structures):
    first = structures[0]
    if isinstance(first, dict):
        return {k: _map_structure(fn, *(s[k] for s in structures)) for k in first}
    if isinstance(first, _SEQUENCES):
        items = [_map_structure(fn, *parts) for parts in zip(*structures)]
        return _rebuild(first, items)
    return fn(*structures)


def pack_sequence_as(structure, flat_sequence):
    """Inverse of `flatten`: put `flat_sequence` back into `structure`'s shape."""
    flat = list(flat_sequence)
    position = [0]

    def _pack(s):
        if isinstance(s, dict):
            packed = {k: _pack(s[k]) for k in sorted(s)}
            return {k: packed[k] for k in s}
        if isinstance(s, _SEQUENCES):
            return _rebuild(s, [_pack(item) for item in s])
        value = flat[position[0]]
        position[0] += 1
        return value

    result = _pack(structure)
    if position[0] != len(flat):
        raise ValueError(
            f"pack_sequence_as got {len(flat)} values for a structure with "
            f"{position[0]} leaves."
        )
    return result


# --- Keras 3's other tree functions ------------------------------------------
# Nested means list, tuple (namedtuples included) or dict (OrderedDict and
# defaultdict included); everything else, None included, is a leaf.


class MAP_TO_NONE:
    """Return this from a `traverse` function to put `None` in the result
    (returning `None` itself means "leave this sub-structure as it is")."""


def _rebuild(like, items):
    """A container of `like`'s kind holding `items` (a dict for dicts, keeping
    `like`'s key order; a list of values for sequences)."""
    if isinstance(like, dict):
        values = {key: items[key] for key in like}
        if type(like) is dict:
            return values
        if hasattr(like, "default_factory"):  # defaultdict
            return type(like)(like.default_factory, values)
        return type(like)(values)
    if isinstance(like, tuple) and hasattr(like, "_fields"):
        return type(like)(*items)
    if isinstance(like, collections.deque):
        return type(like)(items, maxlen=like.maxlen)
    return type(like)(items)


def _map_children(fn, structure):
    """`structure` with `fn` applied to each direct child (dicts by sorted key)."""
    if isinstance(structure, dict):
        return _rebuild(structure, {k: fn(structure[k]) for k in sorted(structure)})
    return _rebuild(structure, [fn(item) for item in structure])


def _describe(value) -> str:
    if isinstance(value, dict):
        return f"a {type(value).__name__} with keys {sorted(value, key=repr)}"
    if is_nested(value):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a leaf ({type(value).__name__})"


def _check_same_node(a, b, path, what: str) -> None:
    """Raise unless `a` and `b` (both nested) are the same kind of container."""
    if isinstance(a, dict) and isinstance(b, dict):
        same = set(a) == set(b)
    else:
        same = type(a) is type(b) and len(a) == len(b)
    if not same:
        raise ValueError(
            f"{what}: the two structures don't have the same nested structure "
            f"at path {path}: {_describe(a)} against {_describe(b)}."
        )


def flatten_with_path(structure) -> list:
    """The leaves of `structure` as `(path, leaf)` pairs, in `flatten`'s order.

    A path is a tuple of list/tuple indices and dict keys (namedtuples use
    indices). A leaf at the top has the path `()`.

    Example:
    >>> lamina.tree.flatten_with_path({"b": [1, 2], "a": 3})
    [(('a',), 3), (('b', 0), 1), (('b', 1), 2)]
    """
    pairs = []

    def walk(value, path):
        if isinstance(value, dict):
            for key in sorted(value):
                walk(value[key], path + (key,))
        elif isinstance(value, _SEQUENCES):
            for index, item in enumerate(value):
                walk(item, path + (index,))
        else:
            pairs.append((path, value))

    walk(structure, ())
    return pairs


def assert_same_structure(a, b, check_types=None) -> None:
    """Raise a ValueError unless `a` and `b` nest the same way.

    At every level both must be the same container type with the same length
    (a list is not a tuple; namedtuples must be the same class), or both dicts
    (of any dict type) with the same keys. Leaves may differ.

    Args:
        a: A nested structure.
        b: A nested structure.
        check_types: Deprecated in Keras 3 and without effect; passing it warns.
            `assert_same_paths` is the looser check.

    Raises:
        ValueError: The structures differ; the message names the first path.
    """
    if check_types is not None:
        warnings.warn(
            "assert_same_structure's `check_types` argument is deprecated and has "
            "no effect; remove it. For a check that treats lists, tuples and "
            "namedtuples alike, use lamina.tree.assert_same_paths().",
            DeprecationWarning,
            stacklevel=2,
        )

    def walk(x, y, path):
        x_nested, y_nested = is_nested(x), is_nested(y)
        if not x_nested and not y_nested:
            return
        if x_nested != y_nested:
            raise ValueError(
                "assert_same_structure: the two structures don't have the same "
                f"nested structure at path {path}: {_describe(x)} against "
                f"{_describe(y)}."
            )
        _check_same_node(x, y, path, "assert_same_structure")
        if isinstance(x, dict):
            for key in sorted(x):
                walk(x[key], y[key], path + (key,))
        else:
            for index, (u, v) in enumerate(zip(x, y)):
                walk(u, v, path + (index,))

    walk(a, b, ())


def assert_same_paths(a, b) -> None:
    """Raise a ValueError unless `a` and `b` have the same leaf paths.

    Looser than `assert_same_structure`: lists, tuples and namedtuples with the
    same indices match; only the paths (indices and keys) are compared.

    Raises:
        ValueError: Listing the paths found in one structure only.
    """
    a_paths = {path for path, _ in flatten_with_path(a)}
    b_paths = {path for path, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        message = "`a` and `b` don't have the same paths."
        if a_paths - b_paths:
            message += f"\nPaths in `a` missing in `b`:\n{a_paths - b_paths}"
        if b_paths - a_paths:
            message += f"\nPaths in `b` missing in `a`:\n{b_paths - a_paths}"
        raise ValueError(message)


def map_structure_up_to(shallow_structure, func, *structures):
    """Apply `func` to the sub-structures of `structures` at the leaves of
    `shallow_structure`; deeper nesting is passed to `func` whole.

    Args:
        shallow_structure: The layout to map over; its leaves' values are unused.
        func: Called with one argument per structure.
        *structures: Structures that nest like `shallow_structure` at least as
            deep.

    Returns:
        A structure laid out like `shallow_structure`.

    Raises:
        ValueError: No `structures`, or one is shallower than or laid out
            differently from `shallow_structure`.
        TypeError: `func` is not callable.

    Example:
    >>> lamina.tree.map_structure_up_to([None, None], len, [[1, 1], [2, 2, 2]])
    [2, 3]
    """
    if not structures:
        raise ValueError(
            "map_structure_up_to needs at least one structure after `func`; got none."
        )
    if not callable(func):
        raise TypeError(f"map_structure_up_to expects a callable `func`; got {func!r}.")

    def walk(shallow, parts, path):
        if not is_nested(shallow):
            return func(*parts)
        for part in parts:
            if not is_nested(part):
                raise ValueError(
                    "map_structure_up_to: a structure is shallower than "
                    f"`shallow_structure` at path {path}: expected "
                    f"{_describe(shallow)}, got {_describe(part)}."
                )
            _check_same_node(shallow, part, path, "map_structure_up_to")
        if isinstance(shallow, dict):
            items = {
                key: walk(shallow[key], [p[key] for p in parts], path + (key,))
                for key in sorted(shallow)
            }
        else:
            items = [
                walk(child, [p[i] for p in parts], path + (i,))
                for i, child in enumerate(shallow)
            ]
        return _rebuild(shallow, items)

    return walk(shallow_structure, structures, ())


def traverse(func, structure, top_down: bool = True):
    """Visit every sub-structure of `structure` (itself and each leaf included)
    and build a new structure from `func`'s answers.

    Top-down (the default), `func` sees a node before its children: `None`
    means "descend into it", anything else replaces the node (and its children
    are not visited). Bottom-up, children are rebuilt first, then `func` sees
    the rebuilt node: `None` keeps it, anything else replaces it. Return
    `MAP_TO_NONE` to put `None` in the result.

    Raises:
        TypeError: `func` is not callable.

    Example:
    >>> lamina.tree.traverse(lambda x: x * 10 if isinstance(x, int) else None,
    ...                      {"a": [1, 2], "b": 3})
    {'a': [10, 20], 'b': 30}
    """
    if not callable(func):
        raise TypeError(f"traverse expects a callable `func`; got {func!r}.")

    def visit(node):
        if top_down:
            result = func(node)
            if result is None:
                return _map_children(visit, node) if is_nested(node) else node
        else:
            node = _map_children(visit, node) if is_nested(node) else node
            result = func(node)
            if result is None:
                return node
        return None if result is MAP_TO_NONE else result

    return visit(structure)


def lists_to_tuples(structure):
    """`structure` with every list, at every depth, turned into a tuple.

    Example:
    >>> lamina.tree.lists_to_tuples({"a": [1, [2, 3]]})
    {'a': (1, (2, 3))}
    """
    if isinstance(structure, dict):
        return _map_children(lists_to_tuples, structure)
    if isinstance(structure, list):
        return tuple(lists_to_tuples(item) for item in structure)
    if isinstance(structure, tuple):
        return _map_children(lists_to_tuples, structure)
    return structure


def _is_shape(value) -> bool:
    return isinstance(value, (list, tuple)) and all(
        d is None or isinstance(d, int) for d in value
    )


def map_shape_structure(func, structure):
    """Like `map_structure`, but a list or tuple of ints and `None`s (a shape)
    is one leaf: `func` gets the whole shape.

    Example:
    >>> lamina.tree.map_shape_structure(len, {"x": (None, 3), "y": [(2,), (4, 5)]})
    {'x': 2, 'y': [1, 2]}
    """
    if _is_shape(structure) or not is_nested(structure):
        return func(structure)
    return _map_children(lambda child: map_shape_structure(func, child), structure)
