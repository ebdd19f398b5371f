"""model.summary(): the Keras 3 table of layers, output shapes and parameters."""

import numpy as np

from lamina.utils import io_utils

_HEADERS = ("Layer (type)", "Output Shape", "Param #", "Connected to")
_MIN_WIDTHS = (31, 22, 13)
_MIN_WIDTHS_GRAPH = (19, 17, 10, 17)


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
    return ",\n".join(parts) if parts else "-"


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


def _rows(model, expand_nested, graph, prefix=""):
    rows = []
    layers = getattr(model, "_operations", None) or model.layers
    for layer in layers:
        name = f"{prefix}{layer.name} ({type(layer).__name__})"
        if type(layer).__name__ == "OpLayer":
            name = f"{prefix}{layer.name} ({layer.keras_class_name})"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [name, _output_shape_of(layer, model), params]
        if graph:
            row.append(_connected_to(layer, model))
        rows.append(row)
        if expand_nested and hasattr(layer, "layers") and layer.layers:
            rows.extend(
                _rows(layer, expand_nested, False, prefix=prefix + "   └ ")
                if not graph
                else [
                    r + [""]
                    for r in _rows(layer, expand_nested, False, prefix=prefix + "   └ ")
                ]
            )
    return rows


def print_summary(
    model,
    line_length=None,
    positions=None,
    print_fn=None,
    expand_nested=False,
    show_trainable=False,
    layer_range=None,
):
    """Print (or pass to `print_fn`, line by line) Keras's summary table."""
    print_fn = print_fn or io_utils.print_msg
    graph = _is_graph(model)
    headers = _HEADERS if graph else _HEADERS[:3]
    rows = _rows(model, expand_nested, graph)
    if layer_range is not None:
        start, stop = layer_range
        names = [r[0].split(" (")[0].strip() for r in rows]
        rows = rows[names.index(start) : names.index(stop) + 1]
    minimums = _MIN_WIDTHS_GRAPH if graph else _MIN_WIDTHS
    widths = []
    for i, (minimum, header) in enumerate(zip(minimums, headers)):
        cells = [line for r in rows for line in r[i].split("\n")]
        widths.append(max([minimum, len(header)] + [len(c) for c in cells]))
    if line_length:
        widths[0] += max(line_length - (sum(widths) + 3 * len(widths) + 1), 0)
    spans = [w + 2 for w in widths]

    def rule(left, fill, mid, right):
        return left + mid.join(fill * s for s in spans) + right

    def lines_of(values, bar):
        split = [v.split("\n") for v in values]
        height = max(len(s) for s in split)
        out = []
        for k in range(height):
            cells = []
            for i, parts in enumerate(split):
                text = parts[k] if k < len(parts) else ""
                text = text.rjust(widths[i]) if i == 2 else text.ljust(widths[i])
                cells.append(f" {text} ")
            out.append(bar + bar.join(cells) + bar)
        return out

    lines = [f'Model: "{model.name}"', rule("┏", "━", "┳", "┓")]
    lines += lines_of(headers, "┃")
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
