"""model.summary(): the Keras 3 table of layers, output shapes and parameters."""

import math
import re
import shutil

import numpy as np

from lamina.utils import io_utils

_HEADERS = ("Layer (type)", "Output Shape", "Param #", "Connected to")
# Keras's defaults: the table's width (capped by the terminal's) and the
# columns' right edges as fractions of it; "Trainable" adds 12 characters.
_LINE_LENGTH, _LINE_LENGTH_GRAPH, _TRAINABLE_EXTRA = 88, 108, 12
_POSITIONS, _POSITIONS_GRAPH = (0.45, 0.80, 1.0), (0.3, 0.56, 0.74, 1.0)


def readable_memory_size(num_bytes: float) -> str:
    """`10.79 KB`-style sizes with 1024-based units, as Keras prints them."""
    units = ["B", "KB", "MB", "GB", "TB"]
    size = float(num_bytes)
    for unit in units:
        if size < 1024 or unit == units[-1]:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TB"


def _weights_size(weights):
    count = sum(int(np.prod(tuple(w.shape))) for w in weights)
    size = sum(int(np.prod(tuple(w.shape))) * w.element_size() for w in weights)
    return count, size


def _format_shape(shape):
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_format_shape(s) for s in shape)
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _model_nodes(model, layer):
    node_ids = getattr(model, "_node_ids", None)
    if node_ids is None:
        return []
    return [n for n in layer._inbound_nodes if id(n) in node_ids]


def _output_shape_of(layer, model):
    shapes = getattr(model, "_output_shapes", None)
    layers = getattr(model, "_call_layers", None)
    if shapes and layers and layer in layers:
        return _format_shape(shapes[list(layers).index(layer)])
    nodes = _model_nodes(model, layer) or layer._inbound_nodes
    if nodes:
        outputs = [tuple(t.shape) for t in nodes[-1].output_tensors]
        if len(outputs) == 1:
            return _format_shape(outputs[0])
        if outputs:  # Keras: a layer's several outputs print as a list
            return "[" + _format_shape(list(outputs)) + "]"
    return _built_output_shape(layer)


def _built_output_shape(layer):
    """Keras: a layer never called in a graph (one a subclassed model creates
    and builds in its own `build`) shows the shape it outputs for the input
    shape it was built with."""
    config = layer.get_build_config() if layer.built else None
    if not config:
        return "?"
    try:
        if "input_shape" in config:
            shape = layer.compute_output_shape(config["input_shape"])
        else:
            shape = layer.compute_output_shape(**config["shapes_dict"])
        flat = _flat_shapes(shape)
    except (NotImplementedError, ValueError, TypeError, RuntimeError):
        return "?"
    if len(flat) == 1:
        return _format_shape(flat[0])
    return "[" + _format_shape(flat) + "]"


def _flat_shapes(value):
    if isinstance(value, dict):
        return [s for key in sorted(value) for s in _flat_shapes(value[key])]
    if all(d is None or isinstance(d, int) for d in value):
        return [tuple(value)]
    return [s for item in value for s in _flat_shapes(item)]


def _connected_to(layer, model):
    node_ids = model._node_ids
    parts = []
    for node in _model_nodes(model, layer):
        for tensor in node.input_tensors:
            producer, index, tensor_index = tensor._keras_history
            kept = [n for n in producer._inbound_nodes if id(n) in node_ids]
            node = producer._inbound_nodes[index]
            position = kept.index(node) if node in kept else index
            parts.append(f"{producer.name}[{position}][{tensor_index}]")
    return ", ".join(parts) if parts else "-"


def _is_graph(model) -> bool:
    """Keras adds a "Connected to" column unless every layer is called once on one
    tensor (a model that reads like a stack)."""
    if getattr(model, "_node_ids", None) is None:
        return False
    for layer in model._operations:
        nodes = _model_nodes(model, layer)
        if len(nodes) > 1 or any(len(n.input_tensors) > 1 for n in nodes):
            return True
    # Two calls at the same depth from the outputs (two heads, two inputs).
    depth = {}
    for node in reversed(model._nodes):  # outputs first
        node_depth = depth.setdefault(id(node), 0)
        for parent in node.parent_nodes:
            depth[id(parent)] = max(depth.get(id(parent), 0), node_depth + 1)
    depths = [depth[id(node)] for node in model._nodes]
    return len(set(depths)) < len(depths)


def _trainable_mark(layer) -> str:
    if not getattr(layer, "weights", None):
        return "-"
    return "Y" if layer.trainable else "N"


def _rows(model, expand_nested, graph, show_trainable, level=0):
    rows = []
    layers = getattr(model, "_operations", None) or model.layers
    prefix = "   " * level + "└ " if level else ""
    for layer in layers:
        name = f"{prefix}{layer.name} ({type(layer).__name__})"
        if type(layer).__name__ == "OpLayer":
            name = f"{prefix}{layer.name} ({layer.keras_class_name})"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [name, _output_shape_of(layer, model), params]
        if graph:
            row.append(_connected_to(layer, model) if not level else "-")
        if show_trainable:
            row.append(_trainable_mark(layer))
        rows.append(row)
        if expand_nested and hasattr(layer, "layers") and layer.layers:
            rows.extend(_rows(layer, expand_nested, graph, show_trainable, level + 1))
    return rows


def _column_widths(line_length, positions, columns):
    """Each column's width inside its borders (padding included), laid out as
    Keras's rich table is: right edges at `positions` (fractions of
    `line_length`), then shrunk or widened evenly to fill `line_length`."""
    widths, current = [], 0
    for position in positions:
        width = int(position * line_length) - current
        if width < 4:
            raise ValueError(
                "Insufficient console width to print summary: with "
                f"line_length={line_length} and positions={list(positions)}, a "
                "column would be narrower than 4 characters. Pass a larger "
                "line_length."
            )
        widths.append(width + 2)
        current += width
    if len(widths) != columns:
        raise ValueError(
            f"summary(): `positions` needs {columns} entries (one right edge per "
            f"column); got {len(positions)}: {list(positions)}."
        )
    room = line_length - (columns + 1)  # the borders take one character each
    excess = sum(widths) - room
    if excess > 0:  # every column gives up an equal share, rounded
        left, shares = excess, columns
        for i, width in enumerate(widths):
            take = min(width, round(left / shares))
            widths[i] = width - take
            left, shares = left - take, shares - 1
    elif excess < 0:  # the spare room is handed out by width, rounded up
        left, total = -excess, sum(widths)
        for i, width in enumerate(widths):
            give = math.ceil(width * left / total) if total > 0 else left
            widths[i] = width + give
            left, total = left - give, total - width
    return [max(w - 2, 1) for w in widths]


def _wrap(text, width):
    """`text` broken into lines of at most `width` characters at spaces (a
    word alone too long for its line is cut with "…"), as rich wraps cells."""
    lines = []
    for paragraph in text.split("\n"):
        words = re.findall(r"\s*\S+\s*", paragraph) or [""]
        line = ""
        for word in words:
            if line and len(line) + len(word.rstrip()) > width:
                lines.append(line.rstrip())
                line = word.lstrip()
            else:
                line += word
        lines.append(line.rstrip())
    return [ln if len(ln) <= width else ln[: width - 1] + "…" for ln in lines]


def print_summary(
    model,
    line_length=None,
    positions=None,
    print_fn=None,
    expand_nested=False,
    show_trainable=False,
    layer_range=None,
):
    """Print (or pass to `print_fn`, line by line) Keras's summary table.

    Args:
        model: The model to describe.
        line_length: The table's width in characters. Defaults to Keras's (88,
            108 with the "Connected to" column, 12 more with `show_trainable`),
            at most the terminal's width less 4.
        positions: The columns' right edges as fractions of `line_length`
            (Keras's defaults `[0.45, 0.8, 1.0]`, `[0.3, 0.56, 0.74, 1.0]` with
            "Connected to"); with `show_trainable` they are scaled by 0.9 and
            the "Trainable" column ends at 1.0.
        print_fn: Called with each line; defaults to printing.
        expand_nested: Whether to list the layers of nested models too.
        show_trainable: Whether to add a "Trainable" column: "Y" or "N" for a
            layer with weights, "-" for one without.
        layer_range: `(first, last)` layer names (inclusive) to list.

    Raises:
        ValueError: If a column would be narrower than 4 characters.
    """
    print_fn = print_fn or io_utils.print_msg
    graph = _is_graph(model)
    headers = list(_HEADERS if graph else _HEADERS[:3])
    justify = ["left", "left", "right", "left"][: len(headers)]
    default_length = _LINE_LENGTH_GRAPH if graph else _LINE_LENGTH
    positions = list(positions or (_POSITIONS_GRAPH if graph else _POSITIONS))
    if show_trainable:
        default_length += _TRAINABLE_EXTRA
        positions = [p * 0.9 for p in positions] + [1.0]
        headers.append("Trainable")
        justify.append("center")
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    widths = _column_widths(line_length or default_length, positions, len(headers))
    rows = _rows(model, expand_nested, graph, show_trainable)
    if layer_range is not None:
        start, stop = layer_range
        names = [r[0].split(" (")[0].strip() for r in rows]
        rows = rows[names.index(start) : names.index(stop) + 1]
    spans = [w + 2 for w in widths]

    def rule(left, fill, mid, right):
        return left + mid.join(fill * s for s in spans) + right

    def lines_of(values, bar, bottom=False):
        split = [_wrap(v, widths[i]) for i, v in enumerate(values)]
        height = max(len(s) for s in split)
        if bottom:  # header cells sit on the rule below them
            split = [[""] * (height - len(s)) + s for s in split]
        out = []
        for k in range(height):
            cells = []
            for i, parts in enumerate(split):
                text = parts[k] if k < len(parts) else ""
                if justify[i] == "right":
                    text = text.rjust(widths[i])
                elif justify[i] == "center":
                    left = (widths[i] - len(text)) // 2
                    text = (" " * left + text).ljust(widths[i])
                else:
                    text = text.ljust(widths[i])
                cells.append(f" {text} ")
            out.append(bar + bar.join(cells) + bar)
        return out

    lines = [f'Model: "{model.name}"', rule("┏", "━", "┳", "┓")]
    lines += lines_of(headers, "┃", bottom=True)
    lines.append(rule("┡", "━", "╇", "┩"))
    for i, values in enumerate(rows):
        lines += lines_of(values, "│")
        if i < len(rows) - 1:
            lines.append(rule("├", "─", "┼", "┤"))
    lines.append(rule("└", "─", "┴", "┘"))
    trainable_count, trainable_size = _weights_size(model.trainable_weights)
    frozen_count, frozen_size = _weights_size(model.non_trainable_weights)
    total_count = trainable_count + frozen_count
    total_size = trainable_size + frozen_size
    optimizer = getattr(model, "optimizer", None)
    optimizer_vars = (
        list(getattr(optimizer, "variables", []) or [])
        if getattr(optimizer, "built", False)
        else []
    )
    if optimizer_vars:
        opt_count, opt_size = _weights_size(optimizer_vars)
        total_count += opt_count
        total_size += opt_size
    lines.append(f" Total params: {total_count:,} ({readable_memory_size(total_size)})")
    lines.append(
        f" Trainable params: {trainable_count:,} "
        f"({readable_memory_size(trainable_size)})"
    )
    lines.append(
        f" Non-trainable params: {frozen_count:,} ({readable_memory_size(frozen_size)})"
    )
    if optimizer_vars:
        lines.append(
            f" Optimizer params: {opt_count:,} ({readable_memory_size(opt_size)})"
        )
    for text in lines:
        print_fn(text)
