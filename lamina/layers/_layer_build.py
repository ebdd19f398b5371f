"""Helpers for building a layer: `_marks_built`, `_unset_fake_mode`, `_as_shape`."""

import functools
import inspect

from lamina import tree
from lamina.backend import naming
from lamina.layers._layer_calls import _shape_of


def _marks_built(build):
    """`build` that, as in Keras, leaves the layer built (and remembers the
    shapes for its build config) also when user code calls it directly."""
    if getattr(build, "_marks_built", False):
        return build

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        if "_path" not in self.__dict__:
            _set_path(self)
        build(self, *args, **kwargs)
        self.built = True
        if self._build_shapes is None:
            # A direct `layer.build(shape)` is saved in the build config too
            # (also by layers whose build marks them built itself).
            if len(args) == 1 and not kwargs:
                self._build_shapes = args[0]
            elif not args and list(kwargs) == ["input_shape"]:
                self._build_shapes = kwargs["input_shape"]
            elif not args and not kwargs:
                # `layer.build()` (Embedding, `build(self)`): saved as Keras's
                # empty `shapes_dict`, so that loading builds the layer again.
                self._build_shapes = {}
                self.__dict__["_build_shapes_by_argument"] = True
            elif _shape_args_of(self) is not None:
                # `layer.build(query_shape=..., value_shape=...)`: each by name.
                bound = inspect.signature(build).bind(self, *args, **kwargs)
                self._build_shapes = dict(list(bound.arguments.items())[1:])

    wrapper._marks_built = True
    wrapper._shape_args = _named_shape_args(build)
    wrapper._keyword_shape_args = (
        _keyword_shape_args(build) if wrapper._shape_args is None else None
    )
    wrapper._extra_shape_args = (
        _extra_shape_args(build) if wrapper._shape_args is None else None
    )
    naming.register_scope_function(wrapper)
    return wrapper


def _named_shape_args(build):
    """`None` for the usual `build(self, input_shape)`; else the argument names
    that `build` takes by call argument, as Keras allows: none (`build(self)`) or
    several required ones (`build(self, x_shape, y_shape)` for `call(self, x, y)`).
    A `build` whose extra arguments have defaults keeps the one-shape form."""
    signature = list(inspect.signature(build).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature):
        return None
    params = [p for p in signature if p.kind is not inspect.Parameter.VAR_KEYWORD]
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if not params or (len(required) > 1 and len(required) == len(params)):
        return [p.name for p in params]
    return None


def _keyword_shape_args(method):
    """The parameter names of a `build` (or `compute_output_shape`) with
    several parameters that all end in `_shape`, some optional
    (`build(self, query_shape, value_shape=None, key_shape=None)`), else None.
    Keras passes such a method the shape of each `call()` argument it names,
    by keyword, when every `<arg>` is an argument of `call()`
    (`_shape_args_of` checks that against the layer's `call`)."""
    params = list(inspect.signature(method).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    names = [p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    if len(names) > 1 and all(n.endswith("_shape") for n in names):
        return names
    return None


def _shape_args_of(layer, method=None):
    """The names `layer`'s `build` (or `method`) takes shapes by, one per
    `call()` argument (Keras's rule for several `<arg>_shape` parameters), or
    None for the one-shape form `build(self, input_shape)`."""
    if method is not None:
        named = _named_shape_args(method)
        keyword = None if named is not None else _keyword_shape_args(method)
    else:
        build = type(layer).build
        named = getattr(build, "_shape_args", None)
        keyword = getattr(build, "_keyword_shape_args", None)
    if named is None and keyword:
        params = layer.call_signature_parameters
        if all(n[: -len("_shape")] in params for n in keyword):
            return keyword
    return named


def _extra_shape_args(build):
    """For a one-shape `build(self, input_shape, mask_shape=None)`: the name of
    its first parameter and those of its optional `<arg>_shape` parameters
    after it (Keras fills each with the shape of `call()`'s argument `<arg>`
    when the call is given one), else None."""
    params = list(inspect.signature(build).parameters.values())[1:]
    names = [
        p.name
        for p in params[1:]
        if p.name.endswith("_shape")
        and p.default is not inspect.Parameter.empty
        and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    return (params[0].name, names) if names else None


def _call_values(layer, call_args):
    """`call`'s arguments by parameter name, from the call's `(args, kwargs)`."""
    args, kwargs = call_args
    values = dict(zip(layer.call_signature_parameters, args))
    values.update(kwargs)
    return values


def _extra_build_shapes(layer, names, call_args):
    """The keyword arguments for `_extra_shape_args`'s names: the shapes of the
    call arguments they name that the call `(args, kwargs)` gives, not None."""
    values = _call_values(layer, call_args)
    found = {}
    for name in names:
        value = values.get(name[: -len("_shape")])
        if value is not None:
            found[name] = tree.map_structure(_shape_of, value)
    return found


def _named_build_shapes(layer, names, shapes, call_args, method="build"):
    """The keyword arguments for a `build` (or `compute_output_shape`, named by
    `method`) that `_named_shape_args` named: each `foo_shape` is the shape of
    `call`'s argument `foo` (`call_args` is the call's `(args, kwargs)`), or,
    without a call (`build_from_config`), read from the `shapes` dict that
    `get_build_config` saved."""
    if not names:
        return {}
    if call_args is None:
        if not isinstance(shapes, dict):
            # Keras's `{"input_shape": ...}` build config of a layer built
            # with one of its shapes: that is the first argument's.
            return {} if shapes is None else {names[0]: shapes}
        return {n: shapes[n] for n in names if n in shapes}
    params = layer.call_signature_parameters
    values = _call_values(layer, call_args)
    found = {}
    for name in names:
        base = name[: -len("_shape")] if name.endswith("_shape") else None
        if base is None or base not in params:
            problem = (
                f"argument `{name}`, which does not end in `_shape`"
                if base is None
                else f"`{name}`, but `call()` does not have argument `{base}`"
            )
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}): its `{method}()` "
                f"takes {problem}. A `{method}()` with several "
                "arguments takes one `<arg>_shape` per tensor argument of "
                f"`call()`, e.g. `{method}(self, x_shape, y_shape)` for "
                "`call(self, x, y)`."
            )
        if values.get(base) is not None:
            found[name] = tree.map_structure(_shape_of, values[base])
    return found


def _set_path(layer):
    """Fix `layer.path` (and its weights' prefix) at its first build, from the
    scopes and layers enclosing the build, as Keras does."""
    parent = layer.__dict__.get("_parent_path")
    if parent is None:
        parent = naming.current_path(exclude=layer)
        layer.__dict__["_parent_path"] = parent
    layer.__dict__["_path"] = naming.join_path(parent, layer.name)
    _resolve_policy_map(layer)


def _resolve_policy_map(layer):
    """A layer given a `DTypePolicyMap` computes in the policy its path maps to."""
    from lamina import backend
    from lamina.dtype_policies import DTypePolicyMap

    policy_map = layer.__dict__.get("_dtype_policy")
    if not isinstance(policy_map, DTypePolicyMap):
        return
    policy = policy_map._bound_to(layer.__dict__["_path"])
    layer.__dict__["_dtype_policy"] = policy
    layer.__dict__["_compute_torch_dtype"] = backend.to_torch_dtype(
        policy.compute_dtype
    )
    layer.__dict__["_mixed"] = policy.compute_dtype != policy.variable_dtype


def _as_shape(shape):
    if shape is None:
        return None
    if isinstance(shape, dict):
        return {k: _as_shape(v) for k, v in shape.items()}
    if shape and isinstance(shape[0], (list, tuple)):
        return [_as_shape(s) for s in shape]
    return tuple(shape)


class _unset_fake_mode:
    """Create real weights even when a build happens during shape inference."""

    def __enter__(self):
        from lamina.backend import shape_inference

        self._context = None
        if shape_inference.inferring():
            # Only our own shape inference runs layers under a fake mode; under
            # torch.compile (which refuses this context) builds stay as they are.
            from torch._subclasses.fake_tensor import unset_fake_temporarily

            self._context = unset_fake_temporarily()
            self._context.__enter__()

    def __exit__(self, *exc):
        if self._context is not None:
            self._context.__exit__(*exc)


def _argument_shapes(layer, call_args):
    """For a subclassed model with the default `build`, whose `call` was given
    several tensor arguments: `{"<arg>_shape": shape}` for each of them (not
    `mask` nor a None), the build config that lets it be built again by
    tracing `call` (Keras's loader does so for a `shapes_dict`). Else None."""
    if not _builds_by_tracing(layer):
        return None
    values = _call_values(layer, call_args)
    shapes = {
        f"{name}_shape": tree.map_structure(_shape_of, value)
        for name, value in values.items()
        if value is not None and name not in ("mask", "training")
    }
    if len(shapes) < 2 or any(s is None for s in tree.flatten(shapes)):
        return None
    return shapes


def _builds_by_tracing(layer):
    """Whether `layer` is a subclassed model with the default `build`."""
    from lamina.models.model import Model

    return isinstance(layer, Model) and type(layer).build is Model.build


def _is_argument_shapes(layer, shapes_dict):
    """Whether a saved `shapes_dict` is `_argument_shapes`'s: a default-build
    subclassed model's, with one `<arg>_shape` per argument of `call`."""
    params = layer.call_signature_parameters
    return (
        isinstance(shapes_dict, dict)
        and len(shapes_dict) > 1
        and all(
            k.endswith("_shape") and k[: -len("_shape")] in params for k in shapes_dict
        )
        and _builds_by_tracing(layer)
    )
