"""`model.export(path, format=...)`: a model for inference outside lamina.

- `format="torch"`: a `torch.export` program saved with `torch.export.save`
  (`.pt2`); `torch.export.load(path).module()(x)` runs it with PyTorch alone.
- `format="onnx"`: an ONNX file (through `torch.onnx.export`'s `torch.export`
  based exporter) for onnxruntime and other ONNX runtimes; needs the optional
  `onnx` and `onnxscript` packages (`pip install "lamina[onnx]"`).

The model runs in inference mode (`training=False`: dropout off, batch
normalization on its moving statistics). Unknown axes of the input signature
(`None`, always including the batch axis) stay dynamic where the model allows.
"""

import contextlib
import os
import warnings

import numpy as np
import torch

from lamina.backend import floatx, get_device, standardize_dtype, to_torch_dtype
from lamina.saving import file_utils

FORMATS = ("torch", "onnx")

_ONNX_MISSING = (
    "model.export(format='onnx') needs the optional packages onnx and "
    "onnxscript, which are not installed. Install them with "
    '`pip install "lamina[onnx]"` (or `pip install onnx onnxscript`; add '
    "onnxruntime to run the file), or export with format='torch'."
)

# ONNX files over 2 GB keep their weights in a side file; such a file cannot
# be renamed into place with the model, so it is written directly.
_ONNX_EXTERNAL_DATA_BYTES = 1 << 30

# Example size of the batch axis (shared by all inputs); other unknown axes get
# 5, 7, ...: torch.export specializes sizes 0 and 1, and distinct sizes keep
# unrelated axes from being assumed equal.
_PROBE_SIZE = 3


def export_model(model, filepath, format="torch", input_signature=None, **kwargs):
    """Export `model` for inference to `filepath` (see the module docstring).

    Args:
        model: A built lamina model (or layer).
        filepath: Where to write: a `.pt2` file for "torch", `.onnx` for "onnx".
        format: `"torch"` or `"onnx"`. Defaults to `"torch"`.
        input_signature: The inputs' shapes and dtypes, in the structure the
            model is called with: `lamina.InputSpec`s, KerasTensors
            (`lamina.Input(...)`), tensors, arrays, or shape tuples (float32).
            A list of one such structure is accepted too (Keras's form).
            Defaults to the model's inputs (functional and Sequential models
            with an `Input`) or the shapes it was built with.
        **kwargs: Passed on to `torch.export.export` ("torch") or
            `torch.onnx.export` ("onnx"), e.g. `opset_version=18`.

    Raises:
        ValueError: Unknown format, or no input signature can be found.
        ImportError: format="onnx" without the onnx packages.
    """
    kwargs.pop("verbose", None)  # Keras prints a summary; lamina prints nothing
    if format not in FORMATS:
        raise ValueError(
            f"model.export() got format={format!r}; lamina exports "
            f"{list(FORMATS)}: 'torch' (a torch.export .pt2 file) or 'onnx'. "
            "Keras's TensorFlow, OpenVINO and LiteRT formats need their own "
            "frameworks; export to ONNX and convert from there."
        )
    if format == "onnx":
        _check_onnx_installed()
    signature = _input_signature(model, input_signature)
    filepath = os.fspath(filepath)
    with _quiet_export():
        program = _torch_program(model, signature, kwargs if format == "torch" else {})
        if format == "torch":
            with file_utils.atomic_write(filepath) as tmp_path:
                with open(tmp_path, "wb") as f:
                    torch.export.save(program, f)
            return
        onnx_program = torch.onnx.export(
            program,
            (signature.example,),
            dynamo=True,
            verbose=False,
            input_names=signature.names,
            **kwargs,
        )
        _name_batch_axis(onnx_program, program)
    if _parameter_bytes(model) > _ONNX_EXTERNAL_DATA_BYTES:
        onnx_program.save(filepath, external_data=True)
        return
    with file_utils.atomic_write(filepath) as tmp_path:
        onnx_program.save(tmp_path, external_data=False)


def _check_onnx_installed():
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ImportError(_ONNX_MISSING) from None


class _Signature:
    """Example inputs (the model's call structure), their dynamic axes and names."""

    def __init__(self, example, dynamic, names):
        self.example = example
        self.dynamic = dynamic
        self.names = names


def _input_signature(model, input_signature):
    if input_signature is None:
        specs = _model_specs(model)
    else:
        specs = input_signature
        if (
            isinstance(specs, (list, tuple))
            and len(specs) == 1
            and not _is_shape(specs)
        ):
            specs = specs[0]  # Keras: a list holding the inputs' structure
    probes = iter(range(_PROBE_SIZE + 2, 10**6, 2))

    def _example(spec):
        shape, dtype = _shape_and_dtype(spec)
        sizes = [
            int(size)
            if size is not None
            else _PROBE_SIZE
            if axis == 0
            else next(probes)
            for axis, size in enumerate(shape)
        ]
        axes = _Axes((axis, None) for axis, size in enumerate(shape) if size is None)
        tensor = torch.zeros(sizes, dtype=to_torch_dtype(dtype), device=get_device())
        return tensor, axes

    pairs = _map_specs(_example, specs)
    example = _map_specs(lambda pair: pair[0], pairs, leaf=_is_pair)
    dynamic = _map_specs(lambda pair: pair[1], pairs, leaf=_is_pair)
    return _Signature(example, dynamic, _unique(_names(specs)))


def _names(struct, key=None, index=None):
    """Input names in torch's flattening order (dicts in insertion order): a
    dict key, else the spec's own name (an Input's), else `input_<i>`."""
    if isinstance(struct, dict):
        return [n for k, v in struct.items() for n in _names(v, key=str(k))]
    if isinstance(struct, (list, tuple)) and not _is_shape(struct):
        return [n for i, v in enumerate(struct) for n in _names(v, index=i)]
    name = key or getattr(struct, "name", None)
    return [name if isinstance(name, str) else f"input_{index or 0}"]


def _model_specs(model):
    """The structure of KerasTensors/shapes the model is called with."""
    struct = getattr(model, "_inputs_struct", None)
    if struct is not None:
        return struct
    inputs = getattr(model, "inputs", None)
    if inputs:
        return inputs[0] if len(inputs) == 1 else list(inputs)
    shapes = getattr(model, "_build_shapes", None)
    if shapes is None:
        raise ValueError(
            f"Cannot export model '{model.name}': it has not been built, so its "
            "input shapes are unknown. Call it on a batch of data (or "
            "model.build(input_shape)) first, or pass input_signature="
            "[lamina.InputSpec(shape=(None, ...))]."
        )
    if isinstance(shapes, list) and all(
        d is None or isinstance(d, int) for d in shapes
    ):
        shapes = tuple(shapes)
    # Built by a call on real data: its batch size is not part of the model.
    return _map_specs(lambda s: (None,) + tuple(s)[1:], shapes)


def _shape_and_dtype(spec):
    if _is_shape(spec):
        return tuple(spec), floatx()
    if isinstance(spec, (torch.Tensor, np.ndarray)):
        return tuple(spec.shape), standardize_dtype(spec.dtype)
    shape = getattr(spec, "shape", None)
    if shape is None:
        raise ValueError(
            "model.export() expects input_signature entries to be InputSpecs, "
            "KerasTensors, tensors, arrays or shape tuples with a known shape; "
            f"got {spec!r:.100}."
        )
    dtype = getattr(spec, "dtype", None) or floatx()
    return tuple(shape), standardize_dtype(dtype)


def _is_shape(value):
    return isinstance(value, tuple) and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in value
    )


class _Axes(dict):
    """`{axis: None}` for the unknown axes of one input (a leaf, not a struct)."""


def _is_pair(value):
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], _Axes)


def _map_specs(fn, struct, leaf=_is_shape):
    if leaf(struct):
        return fn(struct)
    if isinstance(struct, dict):
        return {k: _map_specs(fn, v, leaf) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_map_specs(fn, v, leaf) for v in struct)
    return fn(struct)


def _unique(names):
    seen, result = {}, []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        result.append(name if count == 0 else f"{name}_{count}")
    return result


class _InferenceModule(torch.nn.Module):
    """What gets traced: `model(inputs, training=False)`.

    The modules that own weights are registered here under flat names
    (`layers__0.kernel`), because torch.export finds weights by attribute path
    and Keras-style models expose `layers` as a property (a list) that hides
    the registered submodules of the same name.
    """

    def __init__(self, model):
        super().__init__()
        object.__setattr__(self, "model", model)
        for path, module in model.named_modules():
            if module._parameters or module._buffers:
                self.add_module(path.replace(".", "__") or "model", module)
        self.training = False  # the wrapper only: leaves the layers' own flags

    def forward(self, inputs):
        return self.model(inputs, training=False)


def _torch_program(model, signature, kwargs):
    """Trace `model` (inference mode, no autograd) into an ExportedProgram."""
    module = _InferenceModule(model)
    args = (signature.example,)
    frozen = [p for p in model.parameters() if p.is_inference()]
    if frozen:
        raise RuntimeError(
            f"Cannot export model '{model.name}': {len(frozen)} of its weights "
            f"(e.g. {getattr(frozen[0], 'path', '?')!r}) were created inside "
            "torch.inference_mode (by a first call in predict()), and torch.export "
            "cannot trace such tensors. Build the model first (call it on a "
            "batch, or model.build(input_shape)), then predict and export."
        )
    with torch.no_grad():
        return _export_with_fallback(module, args, signature, kwargs)


def _export_with_fallback(module, args, signature, kwargs):
    first = _dims(signature.dynamic, named_batch=True)
    try:
        program = torch.export.export(module, args, dynamic_shapes=first, **kwargs)
    except Exception as error:  # torch raises several kinds for guard failures
        if "Constraints violated" not in str(error) and not isinstance(
            error, torch._dynamo.exc.UserError
        ):
            raise
        # The model fixes the batch size (e.g. a Reshape to a constant
        # shape): let torch keep whichever axes can stay dynamic.
        program = torch.export.export(
            module, args, dynamic_shapes=_dims(signature.dynamic, False), **kwargs
        )
    _plain_weights(program)
    return program


def _dims(dynamic, named_batch):
    """`dynamic_shapes` for torch.export: the batch axis (0) as a named Dim,
    other unknown axes as `Dim.AUTO` (dynamic unless the model fixes them)."""

    batch = torch.export.Dim("batch", min=1)  # one Dim: inputs share it

    def _axes(axes):
        return {
            axis: batch if axis == 0 and named_batch else torch.export.Dim.AUTO
            for axis in axes
        }

    return (_map_specs(_axes, dynamic, leaf=lambda v: isinstance(v, _Axes)),)


def _plain_weights(program):
    """Store the weights as plain tensors, so the `.pt2` loads without lamina
    (its Variable class would otherwise be recorded) and exporters that call
    `Tensor.numpy(force=True)` work."""
    state = program.state_dict
    for key, value in list(state.items()):
        plain = value.detach().clone()
        if isinstance(value, torch.nn.Parameter):
            plain = torch.nn.Parameter(plain, requires_grad=value.requires_grad)
        state[key] = plain
    constants = getattr(program, "constants", None) or {}
    for key, value in list(constants.items()):
        if isinstance(value, torch.Tensor) and type(value) is not torch.Tensor:
            constants[key] = torch.Tensor(value.detach().clone())


def _name_batch_axis(onnx_program, program):
    """Call the batch axis "batch" in the ONNX file (torch names it `s85`)."""
    import onnx_ir as ir

    symbols = set()
    for name in program.graph_signature.user_inputs:
        node = next(n for n in program.graph.nodes if n.name == name)
        value = node.meta.get("val")
        if isinstance(value, torch.Tensor) and value.ndim:
            if isinstance(value.shape[0], torch.SymInt):
                symbols.add(str(value.shape[0]))
    if len(symbols) != 1:
        return
    graph = onnx_program.model.graph
    values = list(graph.inputs) + list(graph.outputs)
    values += [out for node in graph for out in node.outputs]
    for value in values:
        if value.shape is None:
            continue
        dims = [
            ir.SymbolicDim("batch")
            if isinstance(d, ir.SymbolicDim) and d.value in symbols
            else d
            for d in value.shape
        ]
        value.shape = ir.Shape(dims)


def _parameter_bytes(model):
    return sum(p.numel() * p.element_size() for p in model.parameters())


@contextlib.contextmanager
def _quiet_export():
    # torch's exporters warn about their own internals (pytree deprecations,
    # missing torchvision ops); none of it concerns the user's model.
    import logging

    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="torch")
            warnings.filterwarnings("ignore", category=FutureWarning, module="copyreg")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            yield
    finally:
        logger.setLevel(level)
