"""Nested-structure helpers. Dicts are walked in sorted-key order and
`OrderedDict`s in insertion order, as Keras does."""

import collections
import warnings

# Sequences `tree` walks into; deques too, as Keras's torch tree (torch's pytree)
# does.
_SEQUENCES = (list, tuple, collections.deque)
_NESTED = (*_SEQUENCES, dict)


def _keys(mapping) -> list:
    """The keys of a dict in the order `tree` walks them: an `OrderedDict`'s
    insertion order, any other dict's sorted order (Keras's rule)."""
    if isinstance(mapping, collections.OrderedDict):
        return list(mapping)
    return sorted(mapping)


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
    """The leaves of `structure` in order.

    A dict's values come by sorted key, an `OrderedDict`'s in insertion order;
    `pack_sequence_as` reads them back the same way.

    Example:
    >>> lamina.tree.flatten({"b": [1, 2], "a": 3})
    [3, 1, 2]
    """
    if isinstance(structure, dict):
        return [leaf for key in _keys(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, _SEQUENCES):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(func, *structures, none_is_leaf=True):
    """Apply `func` leaf-wise over structures of the same shape; keep the shape.

    Args:
        func: Called with one leaf of each structure.
        *structures: Nested lists, tuples and dicts laid out alike: at every
            container of the first, the others hold the same kind of container
            (a dict of any dict type with the same keys; a list, tuple,
            namedtuple or deque of the same type and length). Below a leaf of
            the first they may nest deeper; that part goes to `func` whole.
        none_is_leaf: Whether `None` is a leaf passed to `func` (`True`, the
            default) or, where the first structure holds `None`, kept as
            `None` without calling `func` (`False`; then the other structures
            must hold `None` there too).

    Returns:
        A structure laid out like the first (the same container types, an
        `OrderedDict` or `defaultdict` included), holding `func`'s results.

    Raises:
        ValueError: No structures were given; the structures are laid out
            differently (the message names the first path that differs); or,
            with `none_is_leaf=False`, the first holds `None` where another
            holds a value.
    """
    if not structures:
        raise ValueError(
            "map_structure needs at least one structure after `func`; got none."
        )
    if not none_is_leaf:
        func = _skipping_none(func)
    if len(structures) == 1:
        return _map_one(func, structures[0])
    return _map_many(func, structures, ())


def _skipping_none(func):
    def wrapped(*leaves):
        if leaves[0] is not None:
            return func(*leaves)
        if any(leaf is not None for leaf in leaves):
            raise ValueError(
                "map_structure(none_is_leaf=False) found None in the first "
                f"structure and a value in others at the same place: {leaves!r}."
            )
        return None

    return wrapped


def _map_one(fn, structure):
    if isinstance(structure, dict):
        items = {k: _map_one(fn, v) for k, v in structure.items()}
        return items if type(structure) is dict else _rebuild(structure, items)
    if isinstance(structure, _SEQUENCES):
        return _rebuild(structure, [_map_one(fn, item) for item in structure])
    return fn(structure)


def _map_many(fn, structures, path):
    first = structures[0]
    if not isinstance(first, _NESTED):
        return fn(*structures)
    for other in structures[1:]:
        if not isinstance(other, _NESTED):
            raise _mismatch(
                "map_structure", path, first, other, f"expected {_kind(first)} in both"
            )
        _check_same_node(first, other, path, "map_structure")
    if isinstance(first, dict):
        items = {
            k: _map_many(fn, [s[k] for s in structures], path + (k,)) for k in first
        }
    else:
        items = [
            _map_many(fn, parts, path + (i,))
            for i, parts in enumerate(zip(*structures))
        ]
    return _rebuild(first, items)


def pack_sequence_as(structure, flat_sequence):
    """Inverse of `flatten`: put `flat_sequence` back into `structure`'s shape.

    Dict values are taken by sorted key, `OrderedDict` values in insertion
    order, as `flatten` gives them; the containers keep their types.

    Args:
        structure: The layout to fill; its leaves' values are unused.
        flat_sequence: An iterable with one value per leaf of `structure`.

    Returns:
        A structure laid out like `structure`, holding `flat_sequence`'s values.

    Raises:
        TypeError: `flat_sequence` is not iterable.
        ValueError: `flat_sequence` has more or fewer values than `structure`
            has leaves.
    """
    flat = list(flat_sequence)
    position = [0]

    def _pack(s):
        if isinstance(s, dict):
            return _rebuild(s, {k: _pack(s[k]) for k in _keys(s)})
        if isinstance(s, _SEQUENCES):
            return _rebuild(s, [_pack(item) for item in s])
        value = flat[position[0]]
        position[0] += 1
        return value

    try:
        result = _pack(structure)
    except IndexError:  # fewer values than leaves
        position[0] = -1
    if position[0] != len(flat):
        raise ValueError(
            f"pack_sequence_as: `flat_sequence` has {len(flat)} leaves, but "
            f"`structure` holds {len(flatten(structure))}."
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
    """`structure` with `fn` applied to each direct child, in `flatten`'s order."""
    if isinstance(structure, dict):
        return _rebuild(structure, {k: fn(structure[k]) for k in _keys(structure)})
    return _rebuild(structure, [fn(item) for item in structure])


def _kind(value) -> str:
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return f"a namedtuple {type(value).__name__}"
    return f"a {type(value).__name__}" if is_nested(value) else "a leaf"


def _mismatch(what: str, path, a, b, reason: str) -> ValueError:
    return ValueError(
        f"{what}: the two structures don't have the same nested structure at "
        f"path {path}: {_describe(a)} against {_describe(b)} ({reason})."
    )


def _describe(value) -> str:
    if isinstance(value, dict):
        return f"a {type(value).__name__} with keys {sorted(value, key=repr)}"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return f"a namedtuple {type(value).__name__} of {len(value)} items"
    if is_nested(value):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a leaf ({type(value).__name__})"


def _check_same_node(a, b, path, what: str) -> None:
    """Raise unless `a` and `b` (both nested) are the same kind of container."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) == set(b):
            return
        reason = "different keys"
    elif type(a) is type(b):
        if len(a) == len(b):
            return
        reason = "arity mismatch"
    else:
        reason = f"expected {_kind(a)} in both"
    raise _mismatch(what, path, a, b, reason)


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
            for key in _keys(value):
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
            raise _mismatch(
                "assert_same_structure", path, x, y, f"expected {_kind(x)} in both"
            )
        _check_same_node(x, y, path, "assert_same_structure")
        if isinstance(x, dict):
            for key in _keys(x):
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
                for key in _keys(shallow)
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
    if isinstance(structure, (tuple, collections.deque)):
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
