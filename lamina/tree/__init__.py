"""lamina.tree: walk nested structures (lists, tuples, dicts) of tensors, as `keras.tree`."""

from lamina.tree.tree_api import flatten, is_nested, map_structure, pack_sequence_as

__all__ = ["flatten", "is_nested", "map_structure", "pack_sequence_as"]
