"""`model.export(path, format=...)`: a model for inference outside lamina.

- `format="torch"`: a `torch.export` program saved with `torch.export.save`
  (`.pt2`); `torch.export.load(path).module()(x)` runs it with PyTorch alone.
- `format="onnx"`: an ONNX file (through `torch.onnx.export`'s `torch.export`
  based exporter) for onnxruntime and other ONNX runtimes; needs the optional
  `onnx` and `onnxscript` packages (`pip install "lamina[onnx]"`).

The model runs in inference mode (`training=False`: dropout off, batch
normalization on its moving statistics). Unknown axes of the input signature
(`None`, always including the batch axis) stay dynamic where the model allows.
A subclassed model whose `call` takes several inputs (`call(self, x, y)`) is
exported with one program input per argument.
"""

import contextlib
import inspect
import os
import shutil
import tempfile
import warnings

import numpy as np
import torch

from lamina.backend import floatx, get_device, standardize_dtype, to_torch_dtype
from lamina.saving import file_utils
from lamina.utils import io_utils

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


def export_model(
    model, filepath, format="torch", verbose=None, input_signature=None, **kwargs
):
    """Export `model` for inference to `filepath` (see the module docstring).

    Args:
        model: A built lamina model (or layer).
        filepath: Where to write: a file ending in `.pt2` for "torch", any
            name (`.onnx` by convention) for "onnx".
        format: `"torch"` or `"onnx"`. Defaults to `"torch"`.
        verbose: Whether to print where the file was written. Defaults to
            `None`, which prints (as Keras does).
        input_signature: The inputs' shapes and dtypes, in the structure the
            model is called with: `lamina.InputSpec`s, KerasTensors
            (`lamina.Input(...)`), tensors, arrays, or shape tuples (float32).
            A list of one such structure is accepted too (Keras's form); for a
            model whose `call` takes several inputs, a list with one entry
            per input. Defaults to the model's inputs (functional and
            Sequential models; their batch axis unknown) or the shapes it was
            built with.
        **kwargs: For "torch", the keyword arguments of `torch.export.export`
            (`dynamic_shapes`, `strict`, `preserve_module_call_signature`,
            `prefer_deferred_runtime_asserts_over_guards`); a user
            `dynamic_shapes` replaces lamina's own choice of dynamic axes and
            may be given for the model's input alone (`{0: Dim("batch")}`).
            For "onnx", those for the trace, and the rest passed on to
            `torch.onnx.export`, e.g. `opset_version=18` or `output_names`.

    Raises:
        ValueError: Unknown format, a "torch" path not ending in `.pt2`, an
            argument neither torch exporter takes, or no input signature can
            be found.
        ImportError: format="onnx" without the onnx packages.
        RuntimeError: torch.export or the ONNX exporter failed (e.g. Python
            control flow on tensor values in `call`); torch's error is kept
            in the message and chained. Nothing is written to `filepath`.
    """
    if format not in FORMATS:
        raise ValueError(
            f"model.export(): Unrecognized format={format!r}; lamina exports "
            f"{list(FORMATS)}: 'torch' (a torch.export .pt2 file) or 'onnx'. "
            "Keras's TensorFlow, OpenVINO and LiteRT formats need their own "
            "frameworks; export to ONNX and convert from there."
        )
    filepath = os.fspath(filepath)
    if format == "torch":
        if not str(filepath).endswith(".pt2"):
            raise ValueError(
                "model.export(format='torch') requires the filepath to end with "
                f"'.pt2' (a torch.export program); got {filepath!r}."
            )
        _check_torch_kwargs(kwargs)
        trace_kwargs, onnx_kwargs = kwargs, {}
    else:
        _check_onnx_installed()
        trace_kwargs, onnx_kwargs = _split_onnx_kwargs(kwargs)
    signature = _input_signature(model, input_signature)
    with _quiet_export():
        program = _torch_program(model, signature, trace_kwargs, format)
        if format == "torch":
            with file_utils.atomic_write(filepath) as tmp_path:
                with open(tmp_path, "wb") as f:
                    torch.export.save(program, f)
        else:
            try:
                onnx_program = torch.onnx.export(
                    program,
                    signature.args,
                    dynamo=True,
                    verbose=False,
                    **{"input_names": signature.names, **onnx_kwargs},
                )
            except Exception as error:
                raise _export_error(model, format, signature, error) from error
            _name_batch_axis(onnx_program, program)
    if format == "onnx":
        external = _parameter_bytes(model) > _ONNX_EXTERNAL_DATA_BYTES
        _save_onnx(onnx_program, filepath, external)
    if verbose is None or verbose:
        kind = "PyTorch ExportedProgram" if format == "torch" else "ONNX model"
        io_utils.print_msg(f"Saved {kind} at '{filepath}'.")


def _torch_export_arguments():
    """The keyword arguments `torch.export.export` takes besides the module
    and its inputs (they vary between torch releases)."""
    names = inspect.signature(torch.export.export).parameters
    return sorted(set(names) - {"mod", "args", "kwargs"})


def _check_torch_kwargs(kwargs):
    supported = _torch_export_arguments()
    unknown = sorted(set(kwargs) - set(supported))
    if unknown:
        raise ValueError(
            'Unsupported arguments for `format="torch"`: '
            f"{', '.join(unknown)}. Supported arguments are: "
            f"{', '.join(supported)} (passed on to torch.export.export)."
        )


def _split_onnx_kwargs(kwargs):
    """`format="onnx"`'s keyword arguments: those of `torch.export.export`
    (`dynamic_shapes`, `strict`, ...) for the trace, the rest for
    `torch.onnx.export` (`opset_version`, `output_names`, `input_names`, ...)."""
    trace = set(_torch_export_arguments())
    fixed = {"model", "args", "f", "kwargs", "verbose", "dynamo", "external_data"}
    onnx = set(inspect.signature(torch.onnx.export).parameters) - fixed - trace
    unknown = sorted(set(kwargs) - trace - onnx)
    if unknown:
        raise ValueError(
            'Unsupported arguments for `format="onnx"`: '
            f"{', '.join(unknown)}. Supported arguments are: "
            f"{', '.join(sorted(trace | onnx))} (passed on to torch.export.export "
            "and torch.onnx.export)."
        )
    return (
        {k: v for k, v in kwargs.items() if k in trace},
        {k: v for k, v in kwargs.items() if k in onnx},
    )


def _check_onnx_installed():
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ImportError(_ONNX_MISSING) from None


class _Signature:
    """Example call arguments (a tuple: one structure per input argument of
    the model's `call`), their dynamic axes and the flat input names."""

    def __init__(self, args, dynamic, names):
        self.args = args
        self.dynamic = dynamic
        self.names = names


class _Spec:
    """A shape, dtype and name (a model input with its batch axis unknown),
    and the batch size to trace with (the input's own, if it had one over 1:
    a model that fixes it, a stateful RNN say, then exports with it)."""

    def __init__(self, shape, dtype, name, batch=None):
        self.shape = shape
        self.dtype = dtype
        self.name = name
        self.batch = batch


def _input_arguments(model):
    """The names of `model.call`'s required positional arguments when there are
    several (`call(self, x, y)`), else `None` (one input, maybe a structure)."""
    try:
        params = inspect.signature(model.call).parameters.values()
    except (TypeError, ValueError):
        return None
    names = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is p.empty
        and p.name not in ("training", "mask")
    ]
    return names if len(names) > 1 else None


def _signature_args(model, input_signature):
    """The user's `input_signature` as a tuple of call arguments."""
    names = _input_arguments(model)
    specs = input_signature
    if isinstance(specs, (list, tuple)) and not _is_shape(specs):
        if names and len(specs) == 1 and isinstance(specs[0], (list, tuple)):
            specs = specs[0]  # Keras's [[x_spec, y_spec]]
        if names and len(specs) == len(names) and not _is_shape(specs):
            return tuple(specs)
        if len(specs) == 1:
            specs = specs[0]  # Keras: a list holding the inputs' structure
    if names:
        raise ValueError(
            f"model.export(): the call() of model '{model.name}' takes "
            f"{len(names)} inputs ({', '.join(names)}), so input_signature "
            f"must be a list of {len(names)} specs, one per input; got "
            f"{input_signature!r:.200}."
        )
    return (specs,)


def _input_signature(model, input_signature):
    if input_signature is None:
        args = _model_specs(model)
    else:
        args = _signature_args(model, input_signature)
    probes = iter(range(_PROBE_SIZE + 2, 10**6, 2))

    def _example(spec):
        shape, dtype = _shape_and_dtype(spec)
        batch = getattr(spec, "batch", None) if isinstance(spec, _Spec) else None
        sizes = [
            int(size)
            if size is not None
            else batch or _PROBE_SIZE
            if axis == 0
            else next(probes)
            for axis, size in enumerate(shape)
        ]
        axes = _Axes((axis, None) for axis, size in enumerate(shape) if size is None)
        tensor = torch.zeros(sizes, dtype=to_torch_dtype(dtype), device=get_device())
        return tensor, axes

    pairs = [_map_specs(_example, spec) for spec in args]
    example = tuple(_map_specs(lambda pair: pair[0], p, leaf=_is_pair) for p in pairs)
    dynamic = tuple(_map_specs(lambda pair: pair[1], p, leaf=_is_pair) for p in pairs)
    names = _names(args[0]) if len(args) == 1 else _names(list(args))
    return _Signature(example, dynamic, _unique(names))


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
    """The call arguments (a tuple of structures of specs or shapes) the model
    is called with, each input's batch axis unknown (as in Keras: the batch
    size a model was first called or built with is not part of it)."""
    struct = getattr(model, "_inputs_struct", None)
    if struct is None:
        inputs = getattr(model, "inputs", None) if _has_inputs(model) else None
        if inputs:
            struct = inputs[0] if len(inputs) == 1 else list(inputs)
    if struct is not None:
        return (_map_specs(_batchless, struct, leaf=_is_keras_tensor),)
    names = _input_arguments(model)
    shapes = getattr(model, "_build_shapes", None)
    if names:
        keys = [f"{name}_shape" for name in names]
        if not (isinstance(shapes, dict) and all(k in shapes for k in keys)):
            raise ValueError(
                f"Cannot export model '{model.name}': its call() takes "
                f"{len(names)} inputs ({', '.join(names)}) and their shapes "
                "were not all recorded (a build(self, "
                f"{', '.join(n + '_shape' for n in names)}) records them). "
                "Pass input_signature=[...] with one lamina.InputSpec(shape="
                "(None, ...)) per input, in call() order."
            )
        return tuple(_map_specs(_batchless, shapes[k], _is_shape_list) for k in keys)
    if shapes is None:
        raise ValueError(
            f"Cannot export model '{model.name}': it has not been built, so its "
            "input shapes are unknown. Call it on a batch of data (or "
            "model.build(input_shape)) first, or pass input_signature="
            "[lamina.InputSpec(shape=(None, ...))]."
        )
    return (_map_specs(_batchless, shapes, _is_shape_list),)


def _has_inputs(model):
    # An unbuilt Sequential's `inputs` raises (as Keras's does).
    try:
        return bool(getattr(model, "inputs", None))
    except (AttributeError, ValueError):
        return False


def _is_shape_list(value):
    """A shape as a tuple or a list (build configs read back from JSON)."""
    return isinstance(value, (tuple, list)) and _is_shape(tuple(value))


def _is_keras_tensor(value):
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _batchless(spec):
    """`spec` (a shape or a KerasTensor) with its batch axis unknown."""
    if _is_shape_list(spec):
        return (None,) + tuple(spec)[1:] if spec else ()
    shape, dtype = _shape_and_dtype(spec)
    if not shape:
        return _Spec(shape, dtype, getattr(spec, "name", None))
    batch = shape[0] if shape[0] is not None and shape[0] > 1 else None
    return _Spec((None,) + shape[1:], dtype, getattr(spec, "name", None), batch)


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

    def forward(self, *inputs):
        return self.model(*inputs, training=False)


def _torch_program(model, signature, kwargs, format="torch"):
    """Trace `model` (inference mode, no autograd) into an ExportedProgram."""
    module = _InferenceModule(model)
    args = signature.args
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
        try:
            return _export_with_fallback(module, args, signature, kwargs)
        except Exception as error:  # Keras too wraps whatever torch.export raises
            raise _export_error(model, format, signature, error) from error


# What to try, by the stage that failed.
_TRACE_HINT = (
    "torch.export could not trace the model's call(). Common causes: Python "
    "control flow on tensor values in call() (an `if` or loop on a tensor, "
    "or `.item()`: compute both branches and pick with ops.where, or use "
    "torch.cond), an operation torch.export does not support, or input "
    "shapes the model does not accept (pass input_signature=... with shapes "
    "it takes). torch.export.draft_export(...) lists every problem at once."
)
_ONNX_HINT = (
    "torch.export traced the model, but the ONNX exporter could not translate "
    "an operation it uses. Try another opset_version=..., replace the "
    "operation in call(), or export with format='torch' (a .pt2 file) instead."
)


def _export_error(model, format, signature, error):
    """One clear error for a failed export: who, which format, the input
    signature tried, what to try, and torch's own message (also chained)."""
    hint = _ONNX_HINT if format == "onnx" and _traced(error) else _TRACE_HINT
    return RuntimeError(
        f"Failed to export model '{getattr(model, 'name', '?')}' "
        f"({type(model).__name__}) to format={format!r} with the input "
        f"signature {_describe(signature)}. {hint} The original error "
        f"({type(error).__name__}): {_torch_message(error)}"
    )


def _traced(error):
    # torch.onnx reports a failure after tracing (step 3 of 3, translation)
    # as a ConversionError.
    return type(error).__name__ in ("ConversionError", "DispatchError")


def _torch_message(error):
    """torch's message, without the ONNX exporter's generic advice when it
    gives an exception summary."""
    message = str(error).strip()
    if "## Exception summary" in message:
        message = message.split("## Exception summary", 1)[1]
        message = message.split("(Refer to the full stack trace", 1)[0].strip()
    return message


def _describe(signature):
    """The traced inputs as `[name: (None, 3) float32, ...]`, unknown axes None."""

    def _spec(tensor, axes):
        shape = tuple(None if i in axes else n for i, n in enumerate(tensor.shape))
        return f"{shape} {standardize_dtype(tensor.dtype)}"

    leaves = []

    def _walk(args, dynamic):
        if isinstance(args, torch.Tensor):
            leaves.append(_spec(args, dynamic))
        elif isinstance(args, dict):
            for key in args:
                _walk(args[key], dynamic[key])
        elif isinstance(args, (list, tuple)):
            for a, d in zip(args, dynamic):
                _walk(a, d)
        else:
            leaves.append(f"{args!r:.40}")

    _walk(signature.args, signature.dynamic)
    names = signature.names
    if len(names) != len(leaves):
        names = [None] * len(leaves)
    items = [f"{n}: {leaf}" if n else leaf for n, leaf in zip(names, leaves)]
    return "[" + ", ".join(items) + "]"


def _export_with_fallback(module, args, signature, kwargs):
    if kwargs.get("dynamic_shapes") is not None:
        # The user's own axes: exported as asked, or torch says why not.
        kwargs = dict(kwargs)
        kwargs["dynamic_shapes"] = _user_dynamic_shapes(
            kwargs["dynamic_shapes"], signature, module.model
        )
        program = torch.export.export(module, args, **kwargs)
        _plain_weights(program)
        return program
    kwargs = {k: v for k, v in kwargs.items() if k != "dynamic_shapes"}
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

    # One entry for the wrapper's `*inputs`: a tuple, one item per argument.
    return (tuple(_map_specs(_axes, arg, leaf=_is_axes) for arg in dynamic),)


def _is_axes(value):
    return isinstance(value, _Axes)


def _user_dynamic_shapes(shapes, signature, model):
    """A user's `dynamic_shapes` in the form the traced wrapper (`forward(self,
    *inputs)`) takes: `({0: batch},)` for a one-input model, given as the
    input's spec (`{0: batch}`), a list of one spec per input, a dict keyed by
    the call's argument names, or torch's own form (left as it is)."""
    count = len(signature.args)
    if isinstance(shapes, dict):
        if "inputs" in shapes or "args" in shapes:  # torch's form; Keras names it args
            return {"inputs": shapes.get("inputs", shapes.get("args"))}
        names = _input_arguments(model)
        if names and set(shapes) == set(names):
            return (tuple(shapes[name] for name in names),)
        return ((shapes,),) if count == 1 else shapes
    if isinstance(shapes, (list, tuple)):
        if len(shapes) == 1 and isinstance(shapes[0], (list, tuple)):
            return shapes
        first = signature.args[0]
        if (
            count == 1
            and isinstance(first, (list, tuple))
            and len(first) == len(shapes)
        ):
            return ((type(first)(shapes),),)  # one spec per item of a list input
        if len(shapes) == count:
            return (tuple(shapes),)
    return shapes


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


def _save_onnx(onnx_program, filepath, external):
    """Write the ONNX file so that a failure leaves `filepath` as it was."""
    if not external:
        with file_utils.atomic_write(filepath) as tmp_path:
            onnx_program.save(tmp_path, external_data=False)
        return
    # Over 2 GB the weights go to a side file named after the model file, so
    # both are written under their final names in a scratch folder next to
    # `filepath`, then moved into place (the weights first, the model last).
    from lamina.distribution import is_primary

    filepath = os.path.abspath(filepath)
    folder, base = os.path.split(filepath)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"Cannot write {filepath!r}: the folder {folder!r} does not exist. "
            "Create it first (os.makedirs)."
        )
    primary = is_primary()  # other ranks of a distributed run write nothing
    scratch = tempfile.mkdtemp(
        prefix=".lamina-export-", dir=folder if primary else None
    )
    try:
        onnx_program.save(os.path.join(scratch, base), external_data=True)
        if primary:
            for name in sorted(os.listdir(scratch), key=lambda n: n == base):
                os.replace(os.path.join(scratch, name), os.path.join(folder, name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _parameter_bytes(model):
    return sum(p.numel() * p.element_size() for p in model.parameters())


@contextlib.contextmanager
def _quiet_export():
    # torch's exporters warn about their own internals (pytree deprecations,
    # missing torchvision ops); none of it concerns the user's model.
    import logging

    # (symbolic_shapes warns "Unable to find user code" before a trace fails.)
    loggers = [
        logging.getLogger(name)
        for name in ("torch.onnx", "torch.fx.experimental.symbolic_shapes")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="torch")
            warnings.filterwarnings("ignore", category=FutureWarning, module="copyreg")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
