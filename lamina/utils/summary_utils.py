"""model.summary(): the Keras 3 table of layers, output shapes and parameters."""

import numpy as np

_HEADERS = ("Layer (type)", "Output Shape", "Param #")
_MIN_WIDTHS = (31, 22, 13)


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


def _output_shape_of(layer, model):
    from lamina.backend.keras_tensor import KerasTensor

    shapes = getattr(model, "_output_shapes", None)
    layers = getattr(model, "_call_layers", None)
    if shapes and layers and layer in layers:
        return _format_shape(shapes[list(layers).index(layer)])
    if layer._inbound_nodes:
        outputs = layer._inbound_nodes[-1].output_tensors
        outputs = [t.shape for t in outputs if isinstance(t, KerasTensor)]
        if len(outputs) == 1:
            return _format_shape(outputs[0])
        if outputs:
            return _format_shape(list(outputs))
    return "?"


def _rows(model, expand_nested, prefix=""):
    rows = []
    for layer in model.layers:
        name = f"{prefix}{layer.name} ({type(layer).__name__})"
        if layer.built:
            params = f"{layer.count_params():,}"
        else:
            params = "0 (unbuilt)"
        rows.append((name, _output_shape_of(layer, model), params))
        if expand_nested and hasattr(layer, "layers") and layer.layers:
            rows.extend(_rows(layer, expand_nested, prefix=prefix + " └ "))
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
    print_fn = print_fn or (lambda line: print(line))
    rows = _rows(model, expand_nested)
    if layer_range is not None:
        start, stop = layer_range
        names = [layer.name for layer in model.layers]
        rows = rows[names.index(start) : names.index(stop) + 1]
    widths = [
        max([w, len(h)] + [len(r[i]) for r in rows])
        for i, (w, h) in enumerate(zip(_MIN_WIDTHS, _HEADERS))
    ]
    if line_length:
        extra = max(line_length - (sum(widths) + 3 * 3 + 1), 0)
        widths[0] += extra
    cells = [w + 2 for w in widths]

    def line(left, fill, mid, right):
        return left + mid.join(fill * c for c in cells) + right

    def row(values, bar):
        text = [
            f" {values[0].ljust(widths[0])} ",
            f" {values[1].ljust(widths[1])} ",
            f" {values[2].rjust(widths[2])} ",
        ]
        return bar + bar.join(text) + bar

    lines = [
        f'Model: "{model.name}"',
        line("┏", "━", "┳", "┓"),
        row(_HEADERS, "┃"),
        line("┡", "━", "╇", "┩"),
    ]
    for i, values in enumerate(rows):
        lines.append(row(values, "│"))
        if i < len(rows) - 1:
            lines.append(line("├", "─", "┼", "┤"))
    lines.append(line("└", "─", "┴", "┘"))
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
