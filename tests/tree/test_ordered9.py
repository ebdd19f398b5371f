"""lamina.tree walks an OrderedDict in insertion order (plain dicts and
defaultdicts by sorted key), keeps container types when it rebuilds, and
checks that the structures given to map_structure match, as keras.tree does."""

import collections
import os

import pytest

from lamina import tree

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

OD = collections.OrderedDict
Point = collections.namedtuple("Point", ["x", "y"])


def _defaultdict(pairs):
    d = collections.defaultdict(list)
    d.update(pairs)
    return d


STRUCTURES = [
    OD([("b", 1), ("a", 2), ("c", 3)]),
    OD([(3, "x"), (1, "y")]),
    {"b": 1, "a": 2},
    _defaultdict([("b", 1), ("a", 2)]),
    [OD([("b", 1), ("a", 2)]), {"b": 3, "a": 4}],
    OD([("b", {"d": 1, "c": 2}), ("a", [3, OD([("z", 4), ("y", 5)])])]),
    [{"z": OD([("y", 1), ("x", (2, 3))]), "a": [5]}],
]


def _strict_equal(a, b):
    """Equal values, types and, for ordered containers, order, at every level."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b) if isinstance(a, OD) else set(a) == set(b)
        if isinstance(a, collections.defaultdict):
            assert a.default_factory is b.default_factory
        for key in a:
            _strict_equal(a[key], b[key])
    elif isinstance(a, (list, tuple, collections.deque)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _strict_equal(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("structure", STRUCTURES)
def test_flatten_and_paths_follow_keras_order(structure):
    assert tree.flatten(structure) == keras.tree.flatten(structure)
    assert tree.flatten_with_path(structure) == keras.tree.flatten_with_path(structure)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_map_structure_keeps_types_and_order_like_keras(structure):
    ours = tree.map_structure(lambda v: v, structure)
    _strict_equal(ours, keras.tree.map_structure(lambda v: v, structure))
    pairs = tree.map_structure(lambda u, v: (u, v), structure, structure)
    _strict_equal(
        pairs, keras.tree.map_structure(lambda u, v: (u, v), structure, structure)
    )


@pytest.mark.parametrize("structure", STRUCTURES)
def test_pack_sequence_as_inverts_flatten_in_keras_order(structure):
    values = list(range(100, 100 + len(tree.flatten(structure))))
    ours = tree.pack_sequence_as(structure, values)
    _strict_equal(ours, keras.tree.pack_sequence_as(structure, values))
    assert tree.flatten(ours) == values


def test_dicts_nested_in_dicts_are_sorted_at_every_level():
    # Keras's documented rule (and its optree and dm-tree backends). Keras
    # 3.15.1 on torch sorts only the outermost of nested plain dicts; lamina
    # sorts every plain dict and defaultdict, wherever it sits.
    structure = {"z": OD([("y", 1), ("x", 2)]), "a": _defaultdict([("q", 3), ("p", 4)])}
    assert tree.flatten(structure) == [4, 3, 1, 2]
    assert [path for path, _ in tree.flatten_with_path(structure)] == [
        ("a", "p"),
        ("a", "q"),
        ("z", "y"),
        ("z", "x"),
    ]
    packed = tree.pack_sequence_as(structure, [10, 20, 30, 40])
    _strict_equal(
        packed,
        {"z": OD([("y", 30), ("x", 40)]), "a": _defaultdict([("q", 20), ("p", 10)])},
    )


def test_ordered_dict_values_come_in_insertion_order():
    structure = OD([("b", 1), ("a", 2)])
    assert tree.flatten(structure) == [1, 2]
    assert tree.flatten_with_path(structure) == [(("b",), 1), (("a",), 2)]
    packed = tree.pack_sequence_as(structure, ["first", "second"])
    assert list(packed.items()) == [("b", "first"), ("a", "second")]
    # A plain dict with the same keys still goes by sorted key.
    assert tree.flatten({"b": 1, "a": 2}) == [2, 1]


@pytest.mark.parametrize("top_down", [True, False])
def test_traverse_visits_ordered_dict_children_in_insertion_order(top_down):
    structure = [OD([("b", 1), ("a", 2)]), {"d": 3, "c": 4}]
    ours, theirs = [], []
    tree.traverse(
        lambda x: ours.append(x) if not tree.is_nested(x) else None,
        structure,
        top_down=top_down,
    )
    keras.tree.traverse(
        lambda x: theirs.append(x) if not keras.tree.is_nested(x) else None,
        structure,
        top_down=top_down,
    )
    assert ours == theirs == [1, 2, 4, 3]


def test_map_structure_keeps_defaultdict_factory():
    result = tree.map_structure(lambda v: v * 10, _defaultdict([("a", 1)]))
    assert isinstance(result, collections.defaultdict)
    assert result.default_factory is list
    assert result == {"a": 10}


def test_lists_to_tuples_walks_into_deques_like_keras():
    structure = collections.deque([1, [2, [3]]])
    _strict_equal(
        tree.lists_to_tuples(structure), keras.tree.lists_to_tuples(structure)
    )
    assert tree.lists_to_tuples(structure) == collections.deque([1, (2, (3,))])


@pytest.mark.parametrize(
    "a, b, match",
    [
        ([1, 2], [1, 2, 3], "arity mismatch"),
        ([1], (1,), "expected a list"),
        ((1, 2), Point(1, 2), "expected a tuple"),
        (Point(1, 2), (1, 2), "namedtuple Point"),
        ({"a": 1}, {"b": 1}, "different keys"),
        ([1, [2]], [1, 2], r"path \(1,\)"),
        ({"a": 1}, [1], "expected a dict"),
    ],
)
def test_map_structure_rejects_structures_laid_out_differently(a, b, match):
    with pytest.raises(ValueError):
        keras.tree.map_structure(lambda *v: v, a, b)
    with pytest.raises(ValueError, match=match):
        tree.map_structure(lambda *v: v, a, b)


def test_map_structure_accepts_deeper_or_other_dict_types_like_keras():
    f = lambda *v: v  # noqa: E731
    deeper = ([1, 2], [1, [2]])
    assert tree.map_structure(f, *deeper) == keras.tree.map_structure(f, *deeper)
    mixed = (
        {"a": 1, "b": 2},
        OD([("b", 3), ("a", 4)]),
        _defaultdict([("a", 5), ("b", 6)]),
    )
    assert tree.map_structure(f, *mixed) == {"a": (1, 4, 5), "b": (2, 3, 6)}
    assert tree.map_structure(f, *mixed) == keras.tree.map_structure(f, *mixed)


def test_map_structure_needs_a_structure():
    with pytest.raises(ValueError, match="at least one structure"):
        tree.map_structure(len)


def test_map_structure_none_is_leaf_false_follows_the_first_structure():
    f = lambda *v: v  # noqa: E731
    args = ([1, 2], [1, None])
    assert tree.map_structure(f, *args, none_is_leaf=False) == [(1, 1), (2, None)]
    assert keras.tree.map_structure(f, *args, none_is_leaf=False) == [(1, 1), (2, None)]
    with pytest.raises(ValueError, match="None"):
        tree.map_structure(f, [None], [1], none_is_leaf=False)


@pytest.mark.parametrize(
    "structure, flat", [(10, []), ([10, 20], [1]), (10, [1, 2]), ([10, 20], [1, 2, 3])]
)
def test_pack_sequence_as_rejects_a_wrong_count_with_value_error(structure, flat):
    with pytest.raises(ValueError):
        keras.tree.pack_sequence_as(structure, flat)
    expected = len(tree.flatten(structure))
    with pytest.raises(ValueError, match=f"has {len(flat)} leaves.*holds {expected}"):
        tree.pack_sequence_as(structure, flat)


def test_assert_same_structure_messages_say_what_was_expected():
    with pytest.raises(ValueError, match="expected a tuple in both"):
        tree.assert_same_structure((), 1)
    with pytest.raises(ValueError, match="arity mismatch"):
        tree.assert_same_structure((1, 2), (1,))
    # dict, OrderedDict and defaultdict with the same keys match, as in Keras.
    tree.assert_same_structure({"a": 1, "b": 2}, OD([("b", 1), ("a", 2)]))
    keras.tree.assert_same_structure({"a": 1, "b": 2}, OD([("b", 1), ("a", 2)]))
