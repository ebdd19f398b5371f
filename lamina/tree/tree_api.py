"""Nested-structure helpers. Dicts are walked in sorted-key order, as Keras does."""


def is_nested(structure) -> bool:
    return isinstance(structure, (list, tuple, dict))


def flatten(structure) -> list:
    """The leaves of `structure` in order (dict values by sorted key)."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(fn, *structures):
    """Apply `fn` leaf-wise over structures of the same shape; keep the shape."""
    first = structures[0]
    if isinstance(first, dict):
        return {k: map_structure(fn, *(s[k] for s in structures)) for k in first}
    if isinstance(first, (list, tuple)):
        items = [map_structure(fn, *parts) for parts in zip(*structures)]
        if isinstance(first, tuple) and hasattr(first, "_fields"):
            return type(first)(*items)
        return type(first)(items)
    return fn(*structures)


def pack_sequence_as(structure, flat_sequence):
    """Inverse of `flatten`: put `flat_sequence` back into `structure`'s shape."""
    flat = list(flat_sequence)
    position = [0]

    def _pack(s):
        if isinstance(s, dict):
            packed = {k: _pack(s[k]) for k in sorted(s)}
            return {k: packed[k] for k in s}
        if isinstance(s, (list, tuple)):
            items = [_pack(item) for item in s]
            return type(s)(items)
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
