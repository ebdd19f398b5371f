"""plot_model and model_to_dot: the graph of a model's layers, as Graphviz DOT.

lamina writes the DOT source itself, so `model_to_dot` and `.dot` files need
nothing installed. Drawing PNG/SVG/PDF needs Graphviz's `dot` program
(https://graphviz.org/download/); pydot is used when installed (then
`model_to_dot` returns a `pydot.Dot`, as Keras does) but is not required.
"""

import os
import shutil
import subprocess

from lamina.utils.summary_utils import _format_shape

_NO_GRAPHVIZ = (
    "You must install graphviz for `plot_model` to work: it draws {fmt} files "
    "with Graphviz's `dot` program, which was not found on PATH. Install Graphviz (e.g. `apt-get install graphviz`, `brew "
    "install graphviz` or `conda install graphviz`; see "
    "https://graphviz.org/download/), or write the graph as DOT text with "
    "to_file='model.dot', which needs nothing installed."
)


class DotGraph:
    """DOT source of a model graph, with the part of `pydot.Dot`'s API that
    plotting uses: `to_string()`, `create(format)` and `write(path, format)`."""

    def __init__(self, source: str):
        self.source = source

    def to_string(self) -> str:
        return self.source

    def create(self, format: str = "png", prog: str = "dot") -> bytes:
        """The graph drawn by Graphviz in `format` (png, svg, pdf, ...)."""
        if format in ("dot", "raw", "gv"):
            return self.source.encode("utf-8")
        binary = shutil.which(prog)
        if binary is None:
            raise OSError(_NO_GRAPHVIZ.format(fmt=format.upper()))
        result = subprocess.run(
            [binary, f"-T{format}"],
            input=self.source.encode("utf-8"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise OSError(
                f"Graphviz `dot -T{format}` failed: "
                f"{result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout

    def write(self, path, format: str = "raw", prog: str = "dot") -> None:
        with open(path, "wb") as f:
            f.write(self.create(format, prog))


def check_pydot() -> bool:
    """Whether pydot is importable."""
    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return True


def check_graphviz() -> bool:
    """Whether Graphviz's `dot` program is on PATH (needed for images)."""
    return shutil.which("dot") is not None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_model(layer) -> bool:
    return hasattr(layer, "_nodes") or hasattr(layer, "_call_layers")


def _shapes_text(shapes) -> str:
    if not shapes:
        return "?"
    if len(shapes) == 1:
        return _format_shape(shapes[0])
    return "[" + ", ".join(_format_shape(s) for s in shapes) + "]"


class _Writer:
    def __init__(self, options):
        self.options = options
        self.lines = []
        self.count = 0

    def node(self, layer, in_shapes, out_shapes, indent) -> str:
        opts = self.options
        self.count += 1
        node_id = f"n{self.count}"
        title = type(layer).__name__
        if opts["show_layer_names"]:
            title = f"{layer.name} ({title})"
        lines = [title]
        activation = getattr(layer, "activation", None)
        if opts["show_layer_activations"] and activation is not None:
            name = getattr(activation, "__name__", type(activation).__name__)
            lines.append(f"Activation: {name}")
        if opts["show_dtype"]:
            dtype = getattr(layer, "dtype", None)
            lines.append(f"dtype: {getattr(dtype, 'name', dtype)}")
        if opts["show_shapes"]:
            if in_shapes is not None:
                lines.append(f"Input shape: {_shapes_text(in_shapes)}")
            lines.append(f"Output shape: {_shapes_text(out_shapes)}")
        if opts["show_trainable"]:
            lines.append(f"Trainable: {'Y' if layer.trainable else 'N'}")
        label = "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in lines)
        self.lines.append(f'{indent}{node_id} [label="{label}"];')
        return node_id

    def edge(self, sources, targets, indent) -> None:
        for source in sources:
            for target in targets:
                self.lines.append(f"{indent}{source} -> {target};")

    def model(self, model, indent) -> tuple:
        """Draw `model`'s layers; return (entry node ids, exit node ids)."""
        if hasattr(model, "_nodes"):
            return self._functional(model, indent)
        return self._sequential(model, indent)

    def layer(self, layer, in_shapes, out_shapes, indent) -> tuple:
        if self.options["expand_nested"] and _is_model(layer) and layer.built:
            self.count += 1
            self.lines.append(f"{indent}subgraph cluster_{self.count} {{")
            self.lines.append(f"{indent}  label={_quote(layer.name)};")
            self.lines.append(f"{indent}  style=dashed;")
            ends = self.model(layer, indent + "  ")
            self.lines.append(f"{indent}}}")
            return ends
        node_id = self.node(layer, in_shapes, out_shapes, indent)
        return [node_id], [node_id]

    def _functional(self, model, indent) -> tuple:
        ends, entries = {}, []
        output_ids = {id(t) for t in getattr(model, "_flat_outputs", [])}
        exits = []
        for node in model._nodes:
            is_input = not node.parent_nodes
            in_shapes = (
                None if is_input else [tuple(t.shape) for t in node.input_tensors]
            )
            out_shapes = [tuple(t.shape) for t in node.output_tensors]
            first, last = self.layer(node.layer, in_shapes, out_shapes, indent)
            ends[id(node)] = last
            if is_input:
                entries.extend(first)
            for parent in node.parent_nodes:
                if id(parent) in ends:
                    self.edge(ends[id(parent)], first, indent)
            if any(id(t) in output_ids for t in node.output_tensors):
                exits.extend(last)
        return entries, exits

    def _sequential(self, model, indent) -> tuple:
        layers = list(model.layers)
        shapes = list(getattr(model, "_output_shapes", None) or [])
        try:
            previous = tuple(model.input_shape)
        except (AttributeError, ValueError, TypeError):
            previous = None
        entries, exits = [], []
        for i, layer in enumerate(layers):
            out = shapes[i] if i < len(shapes) else None
            first, last = self.layer(
                layer,
                None if previous is None else [previous],
                None if out is None else [tuple(out)],
                indent,
            )
            if i == 0:
                entries = first
            else:
                self.edge(exits, first, indent)
            exits, previous = last, (None if out is None else tuple(out))
        return entries, exits


def _dot_source(model, options, rankdir, dpi, splines) -> str:
    if not getattr(model, "built", False):
        raise ValueError(
            f"model_to_dot needs a built model; model '{model.name}' is not built "
            "yet. Call it on data, call model.build(input_shape), or start it with "
            "lamina.Input(...)."
        )
    if not _is_model(model):
        raise TypeError(
            "model_to_dot expects a Sequential or functional model; got "
            f"{type(model).__name__}. A subclassed model has no static graph: "
            "use model.summary() instead."
        )
    if rankdir not in ("TB", "LR"):
        raise ValueError(
            f"model_to_dot expects `rankdir` to be 'TB' or 'LR'; got rankdir={rankdir!r}."
        )
    writer = _Writer(options)
    writer.model(model, "  ")
    header = [
        f"digraph {_quote(model.name)} {{",
        f"  graph [rankdir={rankdir}, dpi={dpi}, splines={splines}, concentrate=true];",
        '  node [shape=box, style="rounded,filled", fillcolor="#f0f4ff", '
        'fontname="Helvetica"];',
    ]
    return "\n".join(header + writer.lines + ["}", ""])


def model_to_dot(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    subgraph=False,
    show_layer_activations=False,
    show_trainable=False,
    splines="ortho",
    **kwargs,
):
    """The graph of a Sequential or functional model as Graphviz DOT.

    Args:
        model: A built Sequential or functional model.
        show_shapes: Show each layer's input and output shapes.
        show_dtype: Show each layer's dtype.
        show_layer_names: Show layer names besides their classes.
        rankdir: `"TB"` (top to bottom) or `"LR"` (left to right).
        expand_nested: Draw nested models' layers inside a dashed box.
        dpi: Resolution of drawn images.
        subgraph: Accepted for Keras compatibility (ignored).
        show_layer_activations: Show activations of layers that have one.
        show_trainable: Show whether each layer is trainable.
        splines: Graphviz edge style. Defaults to `"ortho"`.

    Returns:
        A `pydot.Dot` when pydot is installed (as Keras), else a lamina
        `DotGraph`; both have `to_string()` (the DOT text) and `write()`.
    """
    if kwargs:
        raise ValueError(f"model_to_dot got unrecognized arguments {sorted(kwargs)}.")
    options = {
        "show_shapes": show_shapes,
        "show_dtype": show_dtype,
        "show_layer_names": show_layer_names,
        "expand_nested": expand_nested,
        "show_layer_activations": show_layer_activations,
        "show_trainable": show_trainable,
    }
    source = _dot_source(model, options, rankdir, dpi, splines)
    if check_pydot():
        import pydot

        return pydot.graph_from_dot_data(source)[0]
    return DotGraph(source)


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=False,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
    splines="ortho",
    **kwargs,
):
    """Draw a model's graph into `to_file`.

    The format follows the extension: `.png` (default), `.svg`, `.pdf`, ...
    need Graphviz's `dot` program; `.dot`/`.gv` write the DOT text and need
    nothing. Arguments are those of `model_to_dot`.

    Returns:
        An `IPython.display.Image` of the file when IPython is installed and
        the file is an image (for in-line display in notebooks), else None.

    Raises:
        ImportError: An image format was asked for and Graphviz is not
            installed (as Keras raises); the message says how to install it.
    """
    if "layer_range" in kwargs:
        raise ValueError("plot_model: `layer_range` is not supported (nor in Keras 3).")
    dot = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        splines=splines,
        **kwargs,
    )
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    if extension in ("dot", "gv"):
        extension = "raw"
    if extension != "raw" and not check_graphviz():
        # Keras: ImportError, as for a missing pydot.
        raise ImportError(_NO_GRAPHVIZ.format(fmt=extension.upper()))
    DotGraph(dot.to_string()).write(to_file, format=extension)
    if extension in ("png", "jpg", "jpeg", "gif"):
        try:
            from IPython import display
        except ImportError:
            return None
        return display.Image(filename=to_file)
    return None
