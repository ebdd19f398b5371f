"""lamina.tree's Keras 3 functions beyond flatten/map_structure, against keras.tree."""

import collections
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

from lamina import tree  # noqa: E402

keras = pytest.importorskip("keras")

Point = collections.namedtuple("Point", ["x", "y"])
OtherPoint = collections.namedtuple("Point", ["x", "y"])

# Structures whose inner dicts are already in sorted order: keras.tree on the
# torch backend sorts only the outermost dict (see test below).
STRUCTURES = [
    5,
    None,
    [],
    [1, (2, 3), [4, [5, None]]],
    {"b": [1, 2], "a": {"x": 3, "y": (4, 5)}},
    ({"a": 1, "c": [2, {"d": 3}]}, [Point(4, 5)]),
    Point([1, 2], {"k": 3}),
]


@pytest.mark.parametrize("structure", STRUCTURES)
def test_flatten_with_path_matches_keras(structure):
    assert tree.flatten_with_path(structure) == keras.tree.flatten_with_path(structure)


def test_flatten_with_path_sorts_nested_dict_keys_too():
    # keras.tree on torch leaves inner dicts unsorted; lamina sorts every dict,
    # as keras.tree does with its optree and dm-tree implementations.
    structure = {"b": {"z": 1, "y": 2}, "a": 3}
    assert tree.flatten_with_path(structure) == [
        (("a",), 3),
        (("b", "y"), 2),
        (("b", "z"), 1),
    ]
    assert [leaf for _, leaf in tree.flatten_with_path(structure)] == tree.flatten(
        structure
    )


def test_flatten_with_path_walks_ordered_dicts_in_insertion_order_like_flatten():
    # As keras.tree: an OrderedDict keeps insertion order (plain dicts sort),
    # and flatten_with_path agrees with flatten.
    structure = collections.OrderedDict(b=1, a=2)
    assert tree.flatten_with_path(structure) == [(("b",), 1), (("a",), 2)]
    assert tree.flatten(structure) == [1, 2]


SAME = [
    ([(0, 1)], [(2, 3)]),
    ({"a": [1, 2], "b": 3}, {"b": "x", "a": [None, 4]}),
    ({"a": 1}, collections.OrderedDict(a=2)),
    (Point(0, 1), Point(2, 3)),
    ([None, 1], [1, 2]),
    (1, "leaf"),
]
DIFFERENT = [
    ([1, 2], (1, 2)),
    ([1, 2], [1, [2]]),
    ([1, 2], [1, 2, 3]),
    ({"a": 1}, {"b": 1}),
    (Point(0, 1), OtherPoint(0, 1)),
    (Point(0, 1), (0, 1)),
    ({"a": [1]}, {"a": 1}),
]


@pytest.mark.parametrize("a, b", SAME)
def test_assert_same_structure_accepts_what_keras_accepts(a, b):
    keras.tree.assert_same_structure(a, b)
    tree.assert_same_structure(a, b)


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_assert_same_structure_rejects_what_keras_rejects(a, b):
    with pytest.raises(ValueError):
        keras.tree.assert_same_structure(a, b)
    with pytest.raises(ValueError, match="don't have the same nested structure"):
        tree.assert_same_structure(a, b)


def test_assert_same_structure_names_the_differing_path():
    with pytest.raises(ValueError, match=r"path \('a', 1\): a list of 2 items"):
        tree.assert_same_structure({"a": [1, [2, 3]]}, {"a": [1, (2, 3)]})


def test_assert_same_structure_check_types_is_deprecated():
    with pytest.warns(DeprecationWarning, match="check_types"):
        tree.assert_same_structure([1], [2], check_types=False)


@pytest.mark.parametrize(
    "a, b",
    [([0, 1], (2, 3)), (Point(0, 1), OtherPoint(2, 3)), ({"a": [1]}, {"a": (2,)})],
)
def test_assert_same_paths_ignores_sequence_types(a, b):
    keras.tree.assert_same_paths(a, b)
    tree.assert_same_paths(a, b)


def test_assert_same_paths_lists_missing_paths_like_keras():
    a, b = {"a": 1, "c": 2}, [3]
    with pytest.raises(ValueError) as theirs:
        keras.tree.assert_same_paths(a, b)
    with pytest.raises(ValueError) as ours:
        tree.assert_same_paths(a, b)
    assert "Paths in `a` missing in `b`" in str(ours.value)
    assert "Paths in `b` missing in `a`:\n{(0,)}" in str(ours.value)
    assert str(ours.value).splitlines()[0] == str(theirs.value).splitlines()[0]


@pytest.mark.parametrize(
    "shallow, func, structures",
    [
        ([None, None], len, ([[1, 1], [2, 2, 2]],)),
        ([None, [None, None]], str, ([[1, 1], [2, 2]],)),
        (
            {"b": None, "a": None},
            lambda x, y: (x, y),
            ({"a": [1], "b": 2}, {"a": 3, "b": 4}),
        ),
        (Point(None, None), lambda x: x, (Point([1], {"z": 2}),)),
        (None, lambda *xs: len(xs), ([1, 2], {"a": 3})),
    ],
)
def test_map_structure_up_to_matches_keras(shallow, func, structures):
    got = tree.map_structure_up_to(shallow, func, *structures)
    want = keras.tree.map_structure_up_to(shallow, func, *structures)
    assert got == want
    assert type(got) is type(want)


@pytest.mark.parametrize(
    "shallow, structure, match",
    [
        ([None, None], ([1, 1], [2, 2]), "a list of 2 items against a tuple"),
        ([None, [None, None]], [[1, 1], 2], r"shallower .* path \(1,\)"),
        ({"a": None}, {"b": 1}, "same nested structure"),
    ],
)
def test_map_structure_up_to_rejects_mismatched_structures(shallow, structure, match):
    with pytest.raises(ValueError):
        keras.tree.map_structure_up_to(shallow, str, structure)
    with pytest.raises(ValueError, match=match):
        tree.map_structure_up_to(shallow, str, structure)


def test_map_structure_up_to_checks_its_arguments():
    with pytest.raises(ValueError, match="at least one structure"):
        tree.map_structure_up_to([None], len)
    with pytest.raises(TypeError, match="callable `func`; got 3"):
        tree.map_structure_up_to([None], 3, [1])


@pytest.mark.parametrize(
    "structure",
    [
        {"b": [1, [2, 3]], "a": ({"z": [4]},)},
        [[], [[]], ([1],)],
        Point([1], (2, [3])),
        7,
    ],
)
def test_lists_to_tuples_matches_keras(structure):
    got = tree.lists_to_tuples(structure)
    assert got == keras.tree.lists_to_tuples(structure)
    assert not any(isinstance(leaf, list) for _, leaf in tree.flatten_with_path(got))


@pytest.mark.parametrize(
    "structure",
    [
        {"b": [(1, None), (2, 3)], "a": (4,), "c": "x", "d": []},
        [[1, 2], [None], [[1], [2]]],
        (None, 3),
        {"x": {"shape": (2, 3)}, "y": [(None,), 5]},
    ],
)
def test_map_shape_structure_matches_keras(structure):
    func = lambda s: ("S", tuple(s) if isinstance(s, (list, tuple)) else s)  # noqa: E731
    assert tree.map_shape_structure(func, structure) == keras.tree.map_shape_structure(
        func, structure
    )


def _double_ints(x):
    return x * 2 if isinstance(x, int) else None


def _lists_to_len(x):
    return len(x) if isinstance(x, list) else None


def _drop_lists(x):
    return tree.MAP_TO_NONE if isinstance(x, list) else None


def _keras_drop_lists(x):
    return keras.tree.MAP_TO_NONE if isinstance(x, list) else None


@pytest.mark.parametrize("top_down", [True, False])
@pytest.mark.parametrize(
    "func, keras_func",
    [
        (_double_ints, _double_ints),
        (_lists_to_len, _lists_to_len),
        (_drop_lists, _keras_drop_lists),
        (lambda x: None, lambda x: None),
    ],
)
@pytest.mark.parametrize(
    "structure", [{"a": [1, 2], "b": (3, [4])}, [1, [2, (3,)]], 5, Point([1], 2)]
)
def test_traverse_matches_keras(func, keras_func, structure, top_down):
    got = tree.traverse(func, structure, top_down=top_down)
    want = keras.tree.traverse(keras_func, structure, top_down=top_down)
    assert got == want
    assert type(got) is type(want)


def test_traverse_top_down_stops_at_replaced_nodes():
    seen = []

    def record(x):
        seen.append(x)
        return "list" if isinstance(x, list) else None

    assert tree.traverse(record, ([1, 2], 3)) == ("list", 3)
    assert seen == [([1, 2], 3), [1, 2], 3]


def test_traverse_bottom_up_sees_rebuilt_children():
    result = tree.traverse(
        lambda x: sum(x) if isinstance(x, list) else None, [[1, 2], [3]], top_down=False
    )
    assert result == 6


def test_traverse_rejects_non_callable():
    with pytest.raises(TypeError, match="callable `func`; got 5"):
        tree.traverse(5, [1])


def test_containers_keep_their_types():
    dd = collections.defaultdict(list, {"b": [1], "a": [2]})
    out = tree.map_structure_up_to({"a": None, "b": None}, len, dd)
    assert out == {"a": 1, "b": 1}
    mapped = tree.lists_to_tuples(dd)
    assert type(mapped) is collections.defaultdict
    assert mapped.default_factory is list and mapped == {"a": (2,), "b": (1,)}
    ordered = tree.traverse(lambda x: None, collections.OrderedDict(b=1, a=2))
    assert type(ordered) is collections.OrderedDict and list(ordered) == ["b", "a"]


def test_public_names_match_keras_tree():
    keras_names = {n for n in dir(keras.tree) if not n.startswith("_")}
    assert set(tree.__all__) == keras_names - {"register_tree_node_class"}
