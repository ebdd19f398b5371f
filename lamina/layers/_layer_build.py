"""Helpers for building a layer: `_marks_built`, `_unset_fake_mode`, `_as_shape`."""

import functools

from lamina.backend import naming


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
        if not self.built:
            self.built = True
            if self._build_shapes is None and len(args) == 1 and not kwargs:
                self._build_shapes = args[0]

    wrapper._marks_built = True
    naming.register_scope_function(wrapper)
    return wrapper


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
