"""`compile(loss=...)` for models whose outputs nest containers in containers.

A model may return `{"a": {"c": t1, "d": t2}, "b": t3}` or `{"a": (t1, t2)}`.
Keras then reads `loss` (and `loss_weights`) as a structure laid over the
outputs: `{"a": {"c": "mse", "d": "mae"}}` gives two outputs a loss and `"b"`
none; a list of as many losses as the outputs has one per output, in the order
the outputs flatten (dict keys sorted). Here that structure is resolved once,
on the first batch, into one entry per flattened output, so each step runs the
same flat loop as a model with a list of outputs.
"""

from lamina import tree
from lamina.trainers.compile_utils import CompileStructureError


def is_deep(y_pred) -> bool:
    """Whether `y_pred` holds a container (dict, list, tuple) inside its top
    level: only such outputs take the nested rules."""
    if isinstance(y_pred, dict):
        values = y_pred.values()
    elif isinstance(y_pred, (list, tuple)):
        values = y_pred
    else:
        return False
    return any(isinstance(value, (dict, list, tuple)) for value in values)


class _Weighted:
    """One loss of the `loss` structure with its weight (None: 1)."""

    __slots__ = ("loss", "weight")

    def __init__(self, loss, weight):
        self.loss = loss
        self.weight = weight


def _is_weight(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _with_weights(loss, loss_weights):
    """`loss` with each loss replaced by a `_Weighted` (None stays None).
    `loss_weights` has `loss`'s structure, or is a flat list of one weight per
    loss (in `loss`'s flattened order), or one number for all."""

    def pair(spec, weight):
        return None if spec is None else _Weighted(spec, weight)

    if loss_weights is None or _is_weight(loss_weights):
        return tree.map_structure(lambda spec: pair(spec, loss_weights), loss)
    try:
        tree.assert_same_structure(loss, loss_weights)
    except (ValueError, TypeError):
        flat = tree.flatten(loss_weights)
        count = len(tree.flatten(loss))
        if len(flat) != count:
            raise ValueError(
                f"`loss_weights` must match the number of losses, got {count} "
                f"losses and {len(flat)} weights. Give one weight per loss, in "
                "the structure of `loss` or as a flat list in its order."
            ) from None
        loss_weights = tree.pack_sequence_as(loss, flat)
    return tree.map_structure(pair, loss, loss_weights)


def _leaf_count(value) -> int:
    return len(tree.flatten(value))


def _walk(loss, y_pred, path, found):
    """Lay the weighted `loss` structure over `y_pred`: record the `_Weighted`
    of each output path that has a loss in `found` (a dict, in the order the
    losses are given), raising where the two structures do not fit."""
    if loss is None:
        return
    if isinstance(loss, _Weighted):
        if tree.is_nested(y_pred):
            raise ValueError(
                f"compile() got one loss ({loss.loss!r}) at the path {path} of "
                "the model's outputs, where the outputs nest further "
                f"({_shape_of(y_pred)}). Give a loss per output there, in the "
                "same structure."
            )
        found[path] = loss
        return
    if (
        isinstance(loss, (list, tuple))
        and not any(isinstance(item, (dict, list, tuple)) for item in loss)
        and len(loss) == _leaf_count(y_pred)
    ):
        # Keras: a flat list with one loss per output (flattened) fits any
        # structure of outputs.
        loss = tree.pack_sequence_as(y_pred, list(loss))
        if isinstance(loss, _Weighted) or loss is None:
            return _walk(loss, y_pred, path, found)
    for key, item in _matched_items(loss, y_pred, path):
        _walk(item, y_pred[key], path + (key,), found)


def _matched_items(loss, y_pred, path):
    """`(key, item)` of each loss of the container `loss` that is not None,
    after checking that `loss` has `y_pred`'s kind and that each key is there."""
    if not isinstance(loss, type(y_pred)):
        raise CompileStructureError(
            f"The path: {path} in the `loss` argument, can't be found in the "
            f"model's output (`y_pred`). The outputs there are "
            f"{_shape_of(y_pred)}; the loss is {_shape_of(loss)}."
        )
    if isinstance(loss, dict):
        items = loss.items()
        present = lambda key: key in y_pred  # noqa: E731
    else:
        items = enumerate(loss)
        present = lambda key: key < len(y_pred)  # noqa: E731
    for key, item in items:
        if item is None:
            continue
        if not present(key):
            raise CompileStructureError(
                f"The path: {path + (key,)} in the `loss` argument, can't be "
                "found in either the model's output (`y_pred`) or in the labels "
                f"(`y_true`). The model's outputs are {_shape_of(y_pred)}."
            )
        yield key, item


def _shape_of(value):
    """`value`'s structure with each leaf shown as `*` (for messages)."""
    return tree.map_structure(
        lambda leaf: "*" if not isinstance(leaf, _Weighted) else leaf.loss, value
    )


def resolve(loss, loss_weights, y_pred):
    """Spread `loss` and `loss_weights` over the flattened outputs.

    Returns:
        `(paths, specs, weights, order)`: each output's path, its loss spec
        (None for none) and weight (a float), and the indices of the outputs
        with a loss in the order `loss` gives them (Keras logs them so).
    """
    weighted = _with_weights(loss, loss_weights)
    if not tree.is_nested(weighted):
        # One loss for every output.
        weighted = tree.map_structure(lambda _: weighted, y_pred)
    found = {}
    _walk(weighted, y_pred, (), found)
    paths = [path for path, _ in tree.flatten_with_path(y_pred)]
    index = {path: i for i, path in enumerate(paths)}
    specs = [found[p].loss if p in found else None for p in paths]
    weights = [
        1.0 if p not in found or found[p].weight is None else float(found[p].weight)
        for p in paths
    ]
    return paths, specs, weights, [index[p] for p in found]


def log_name(path, output_name, loss) -> str:
    """Keras's name for one output's loss: its path joined by `/`, a last
    list index replaced by the output's name (when known) or the loss's."""
    if path and isinstance(path[-1], int):
        path = path[:-1] + (output_name or loss.name,)
    return "/".join(str(part) for part in path)


def flat_targets(y_true, y_pred_leaves, specs, what="y_true"):
    """`y_true` (or sample weights) as a list with one entry per output.

    A structure with as many arrays as outputs is read in flattened order; one
    with as many as the outputs that have a loss goes to those; a single array
    (sample weights only) goes to every output.
    """
    count = len(y_pred_leaves)
    if y_true is None:
        return [None] * count
    if not tree.is_nested(y_true):
        if what == "sample_weight":
            return [y_true] * count
        flat = [y_true]
    else:
        flat = tree.flatten(y_true)
    if len(flat) == count:
        return flat
    with_loss = [i for i, spec in enumerate(specs) if spec is not None]
    if len(flat) == len(with_loss):
        result = [None] * count
        for i, value in zip(with_loss, flat):
            result[i] = value
        return result
    raise ValueError(
        f"{what} and y_pred have different structures.\n"
        f"{what}: {tree.map_structure(lambda _: '*', y_true)}\n"
        f"y_pred: {count} outputs, of which {len(with_loss)} have a loss.\n"
        f"Pass one array per output, in the structure of the model's outputs."
    )


def spread_metrics(metrics, y_pred, what="metrics"):
    """`metrics` (or `weighted_metrics`) laid over nested outputs: Keras wants
    the outputs' structure, with a metric, a list of metrics or None for each
    output. Returns one list of metric specs per flattened output."""

    def match(arg, pred):
        if not tree.is_nested(pred):
            if arg is None:
                return [[]]
            return [list(arg) if isinstance(arg, (list, tuple)) else [arg]]
        if isinstance(pred, dict):
            fits = isinstance(arg, dict) and set(arg) == set(pred)
            keys = sorted(pred) if fits else ()
        else:
            fits = isinstance(arg, (list, tuple)) and len(arg) == len(pred)
            keys = range(len(pred)) if fits else ()
        if not fits:
            raise ValueError(
                f"Invalid `{what}`. `{what}` should contain metrics objects and "
                "match the output structure of the model: "
                f"{tree.map_structure(lambda _: 'X', y_pred)}. Received: "
                f"{what}={metrics!r}"
            )
        return [group for key in keys for group in match(arg[key], pred[key])]

    return match(metrics, y_pred)


# --- losses over groups of outputs --------------------------------------------
#
# Keras also reads `loss` as a structure whose leaves may stand for a group of
# outputs: `loss=[fn, (l1, l2)]` for a model returning `(y1, y2)` applies `fn` to
# the whole tuple and `l1`, `l2` to each output (a list whose type differs from
# the outputs' gives each of its losses the same place), and `[l1, [l2, l3]]`
# gives the second output two losses. Such a loss is one entry here, with the
# path of the (sub)structure it reads.


def may_group(loss) -> bool:
    """Whether `loss` holds a container inside its top level: only then can a
    loss read a group of outputs (checked once, at build)."""
    if isinstance(loss, dict):
        items = loss.values()
    elif isinstance(loss, (list, tuple)):
        items = loss
    else:
        return False
    return any(isinstance(item, (dict, list, tuple)) for item in items)


def group_entries(loss, loss_weights, y_pred, output_names, make_loss):
    """Lay `loss` over `y_pred` by Keras's rules for groups of outputs.

    Args:
        loss: The `loss` given to compile().
        loss_weights: The `loss_weights` given to compile().
        y_pred: The model's outputs (or their specs).
        output_names: The model's flat output names ([] when unknown).
        make_loss: `(spec, path) -> Loss`, resolving one loss spec.

    Returns:
        A list of `(path, loss, weight, name)`, one per loss, in the order
        `loss` gives them; or None when every loss reads its own single
        output, which the flat and nested rules handle.
    """
    leaves = tree.flatten_with_path(y_pred)
    if len(output_names) != len(leaves):
        output_names = [None] * len(leaves)
    if (
        isinstance(loss, dict)
        and isinstance(y_pred, (list, tuple))
        and set(loss) == set(output_names)
    ):
        # A dict of losses for a list of outputs: by output name.
        loss = type(y_pred)([loss[name] for name in output_names])
        if isinstance(loss_weights, dict):
            loss_weights = [loss_weights.get(name) for name in output_names]
    names = tree.pack_sequence_as(y_pred, list(output_names))
    entries = []
    _walk_groups(
        _with_weights(loss, loss_weights), y_pred, names, (), entries, make_loss
    )
    leaf_paths = {path for path, _ in leaves}
    paths = [entry[0] for entry in entries]
    if len(set(paths)) == len(paths) and all(path in leaf_paths for path in paths):
        return None
    return entries


def _walk_groups(loss, y_pred, names, path, entries, make_loss):
    if loss is None:
        return
    if isinstance(loss, _Weighted):
        resolved = make_loss(loss.loss, path)
        entries.append(
            (path, resolved, loss.weight, _group_name(path, names, resolved))
        )
        return
    if isinstance(loss, (list, tuple)):
        if not any(tree.is_nested(item) for item in loss) and len(loss) == len(
            tree.flatten(y_pred)
        ):
            # One loss per output of the group, in flattened order.
            loss = tree.pack_sequence_as(y_pred, list(loss))
        elif not isinstance(y_pred, type(loss)):
            for item in loss:  # each loss of the list reads the same place
                _walk_groups(item, y_pred, names, path, entries, make_loss)
            return
        if not tree.is_nested(loss):
            return _walk_groups(loss, y_pred, names, path, entries, make_loss)
    for key, item in _matched_items(loss, y_pred, path):
        _walk_groups(item, y_pred[key], names[key], path + (key,), entries, make_loss)


def _group_name(path, names, loss) -> str:
    """Keras's log name of a loss at `path`: the path joined by `/`, a last
    list index replaced by the output's name (else the loss's); at the top
    of the outputs, their names joined by `_`."""
    if not tree.is_nested(names):
        label = names if names is not None else loss.name
        if not path:
            path = (label,)
        elif isinstance(path[-1], int):
            path = path[:-1] + (label,)
    name = "/".join(str(part) for part in path)
    if not name:
        flat = list(names) if isinstance(names, dict) else tree.flatten(names)
        name = loss.name if None in flat else "_".join(str(n) for n in flat)
    return name


def at_path(value, path):
    """The part of `value` at `path` (a tuple of keys and indices)."""
    for key in path:
        value = value[key]
    return value


def group_targets(y, y_pred, output_names, what="y_true"):
    """`y` (targets or sample weights) in `y_pred`'s structure, for losses
    that read groups of outputs; a single array of sample weights stays one
    (every loss takes it)."""
    if y is None:
        return None
    count = len(tree.flatten(y_pred))
    if not tree.is_nested(y) and what == "sample_weight":
        return y
    if (
        isinstance(y, dict)
        and isinstance(y_pred, (list, tuple))
        and set(y) == set(output_names)
    ):
        y = [y[name] for name in output_names]
    flat = tree.flatten(y)
    if len(flat) != count:
        raise ValueError(
            f"{what} and y_pred have different structures.\n"
            f"{what}: {tree.map_structure(lambda _: '*', y)}\n"
            f"y_pred: {tree.map_structure(lambda _: '*', y_pred)}\n"
            "Pass one array per output, in the structure of the model's outputs."
        )
    return tree.pack_sequence_as(y_pred, flat)
