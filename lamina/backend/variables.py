"""Variable: an `nn.Parameter` that also speaks Keras's variable API.

Every weight a layer creates is one. torch code sees a plain Parameter; Keras code
can build one as `Variable(initializer, shape, dtype, trainable, ...)` and use
`v.assign(...)`, `v.value`, `v.trainable`, `v.name`, `v.path` and `v.numpy()`.
"""

import copy

import numpy as np
import torch

_AGGREGATIONS = (None, "none", "mean", "sum", "only_first_replica")
_SYNCHRONIZATIONS = (None, "none", "on_read", "on_write", "auto")


class Variable(torch.nn.Parameter):
    """A layer weight: a torch Parameter with Keras's variable methods.

    Built the Keras way, `Variable(initializer, shape=None, dtype=None, ...)`,
    it takes its value from `initializer`: an array, tensor or number (its
    dtype is kept unless `dtype` is given: Python floats are `floatx()`,
    Python ints `int32`), or an initializer name or callable
    `(shape, dtype) -> tensor`, which then needs `shape`. Assigned to an
    attribute of a layer, it is tracked like a weight from `add_weight`.
    torch's form, `Variable(data, requires_grad)`, is accepted too (torch
    itself copies parameters that way); it gives no name and no path.

    Args:
        initializer: The initial value, or an initializer (name or callable).
        shape: Tuple of non-negative ints; required with an initializer,
            ignored with a value (the value's shape is used).
        dtype: Dtype name, torch dtype or NumPy dtype. Defaults to the value's
            dtype, or `floatx()` with an initializer.
        trainable: Whether training updates it (`requires_grad`; only float
            and complex variables can be trained). Defaults to `True`.
        autocast: Whether a layer computing in another dtype may cast it
            when reading it. Defaults to `True`.
        aggregation: How replicas combine it in distributed training: `None`,
            `"none"`, `"mean"`, `"sum"` or `"only_first_replica"`. Defaults to
            `"none"`.
        synchronization: When replicas synchronize it: `None`, `"none"`,
            `"on_read"`, `"on_write"` or `"auto"`. Defaults to `"auto"`.
        name: A string without `/`. Its `path` is the open `name_scope`s and
            layers building it, then the name. Defaults to a unique
            `"variable"`, `"variable_1"`, ...
        layout: Accepted for compatibility with Keras's distribution API;
            lamina places variables with `lamina.distribution` instead.
            Defaults to `None`.
        requires_grad: Keyword only: torch's flag, for torch's form.

    Raises:
        ValueError: For a `name` that is not a string or contains `/`, an
            unknown `aggregation` or `synchronization`, or an initializer
            without a fully defined `shape`.
        TypeError: When `initializer` is missing.

    Example:
    >>> v = lamina.Variable("ones", shape=(2,), name="scale")
    >>> v.name, v.path, v.tolist()
    ('scale', 'scale', [1.0, 1.0])
    >>> lamina.Variable(3).dtype
    torch.int32
    """

    aggregation = "none"
    synchronization = "auto"

    def __new__(
        cls,
        initializer=None,
        shape=None,
        dtype=None,
        trainable=True,
        autocast=True,
        aggregation="none",
        synchronization="auto",
        name=None,
        layout=None,
        *,
        requires_grad=None,
    ):
        if isinstance(shape, bool) or requires_grad is not None:
            # torch's form: Variable(data, requires_grad), as torch's own
            # Parameter copies (deepcopy, Module._apply) call it.
            flag = shape if isinstance(shape, bool) else requires_grad
            variable = super().__new__(cls, initializer, bool(flag))
            if name is not None:
                from lamina.backend import naming  # lazy: keep this module leaf-level

                variable._name = str(name)
                variable.path = naming.join_path(naming.current_path(), str(name))
            return variable
        return cls._from_keras_arguments(
            initializer,
            shape,
            dtype,
            trainable,
            autocast,
            aggregation,
            synchronization,
            name,
            layout,
        )

    def __init__(self, *args, **kwargs):
        # All the work happens in __new__; Tensor.__init__ takes no arguments.
        super().__init__()

    @classmethod
    def _from_keras_arguments(
        cls,
        initializer,
        shape,
        dtype,
        trainable,
        autocast,
        aggregation,
        synchronization,
        name,
        layout,
    ):
        # Lazy imports: the backend and layer modules import this one.
        from lamina import backend
        from lamina.backend import naming, shape_inference
        from lamina.layers._layer_build import _unset_fake_mode

        # 1. Validate the arguments, as Keras does, before any name is used up.
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(
                "Variable expects `name` to be a string without '/'; got "
                f"name={name!r}. Nest `lamina.name_scope`s for a longer path."
            )
        if aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"Variable expects `aggregation` to be one of {_AGGREGATIONS}; "
                f"got aggregation={aggregation!r}."
            )
        if synchronization not in _SYNCHRONIZATIONS:
            raise ValueError(
                f"Variable expects `synchronization` to be one of "
                f"{_SYNCHRONIZATIONS}; got synchronization={synchronization!r}."
            )
        if initializer is None:
            raise TypeError(
                "Variable expects an `initializer`: an array, tensor or number, "
                "or an initializer name or callable with `shape`; got None. "
                "Write e.g. Variable('zeros', shape=(3,)) or Variable(np.zeros(3))."
            )
        if isinstance(initializer, str):
            from lamina import initializers

            initializer = initializers.get(initializer)
        name = name or naming.uniquify("variable")

        # 2. The value: real tensors even if built during shape inference, and
        # ordinary ones even inside predict()'s inference mode (as add_weight).
        with _unset_fake_mode(), torch.inference_mode(False):
            if callable(initializer) and not isinstance(initializer, torch.Tensor):
                shape = _checked_shape(shape, initializer, name)
                dtype = backend.standardize_dtype(dtype)
                value = initializer(shape, dtype=dtype)
            else:
                if dtype is None:
                    dtype = _inferred_dtype(initializer)
                dtype = backend.standardize_dtype(dtype)
                value = initializer
            value = backend.convert_to_tensor(value, dtype=dtype)
            if callable(initializer) and not isinstance(initializer, torch.Tensor):
                value = value.reshape(shape)
            elif isinstance(initializer, (torch.Tensor, np.ndarray)):
                # A copy: assigning to the variable must not write to the
                # caller's array or tensor (torch.as_tensor shares memory).
                value = value.detach().clone()
            floating = value.is_floating_point() or value.is_complex()
            variable = super().__new__(cls, value, bool(trainable) and floating)

        # 3. Keras's attributes; the path is the open scopes, then the name.
        variable._name = name
        variable.path = naming.join_path(naming.current_path(), name)
        variable.autocast = bool(autocast)
        variable.aggregation = "none" if aggregation is None else aggregation
        variable.synchronization = (
            "none" if synchronization is None else synchronization
        )
        variable.constraint = None
        variable._layout = layout
        shape_inference.variable_made(variable)
        return variable

    @property
    def name(self):
        """The variable's own name (`"kernel"`); `path` adds the layers'
        names before it (`"dense/kernel"`)."""
        # Keras names; torch's read-only `Tensor.name` (a tracing label, unset
        # on weights) is shadowed.
        name = self.__dict__.get("_name")
        if name is None:
            path = self.__dict__.get("path")
            name = path.rsplit("/", 1)[-1] if path else "variable"
        return name

    @property
    def regularizer(self):
        """The penalty `add_weight` attached (a callable), or `None`."""
        return self.__dict__.get("_regularizer")

    @regularizer.setter
    def regularizer(self, value):
        if value is not None and not callable(value):
            raise ValueError(
                "Variable.regularizer must be a callable (such as a "
                f"lamina.regularizers.Regularizer) or None; got {value!r}."
            )
        self.__dict__["_regularizer"] = value

    @property
    def overwrite_with_gradient(self) -> bool:
        """Whether the optimizer replaces this variable by its "gradient"
        instead of stepping along it (float8 scales). Defaults to `False`."""
        return self.__dict__.get("_overwrite_with_gradient", False)

    @overwrite_with_gradient.setter
    def overwrite_with_gradient(self, value):
        if not isinstance(value, bool):
            raise TypeError(
                "Variable.overwrite_with_gradient must be a bool; got "
                f"{type(value).__name__} {value!r}."
            )
        self.__dict__["_overwrite_with_gradient"] = value

    @property
    def value(self):
        """The tensor itself (Keras code reads `v.value`, e.g. `v.value.grad`)."""
        return self

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value):
        self.requires_grad_(bool(value))

    def assign(self, value):
        """Copy `value` (array or tensor of the same shape) into the variable."""
        value = torch.as_tensor(
            np.asarray(value) if not isinstance(value, torch.Tensor) else value,
            dtype=self.dtype,
            device=self.device,
        )
        if hasattr(value, "full_tensor"):  # a weight sharded by FSDP: the whole
            value = value.full_tensor()
        if tuple(value.shape) != tuple(self.shape):
            raise ValueError(
                f"Cannot assign a value of shape {tuple(value.shape)} to variable "
                f"'{getattr(self, 'path', '?')}' of shape {tuple(self.shape)}."
            )
        from lamina.backend import stateless_scope  # local: it refers back to Variable

        if stateless_scope._recorded(self, value):
            return self
        with torch.no_grad():
            self.copy_(value)
        return self

    def assign_add(self, value):
        from lamina.backend import stateless_scope  # local: it refers back to Variable

        value = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        if hasattr(value, "full_tensor"):  # a weight sharded by FSDP: the whole
            value = value.full_tensor()
        if stateless_scope._recorded(self, value, sign=1):
            return self
        with torch.no_grad():
            self.add_(value)
        return self

    def assign_sub(self, value):
        from lamina.backend import stateless_scope  # local: it refers back to Variable

        value = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        if hasattr(value, "full_tensor"):  # a weight sharded by FSDP: the whole
            value = value.full_tensor()
        if stateless_scope._recorded(self, value, sign=-1):
            return self
        with torch.no_grad():
            self.sub_(value)
        return self

    def numpy(self, *, force=False):
        # A copy, as Keras's: a view of a CPU weight would change as it trains.
        value = self.detach().cpu().numpy()
        return value.copy() if self.device.type == "cpu" else value

    def __array_function__(self, func, types, args, kwargs):
        # NumPy functions (`np.min(v)`, `np.mean(v, axis=0)`) work on the
        # values, as with Keras's variables; left to torch, NumPy would call
        # `v.min(axis=None, out=None)`, which torch's methods reject.
        def to_numpy(value):
            if isinstance(value, torch.Tensor):
                if hasattr(value, "full_tensor"):  # sharded (FSDP): the whole
                    value = value.full_tensor()
                return value.detach().cpu().numpy()
            if type(value) in (list, tuple):
                return type(value)(to_numpy(item) for item in value)
            return value

        return func(*to_numpy(args), **{k: to_numpy(v) for k, v in kwargs.items()})

    def __deepcopy__(self, memo):
        # Parameter's own deepcopy drops Python attributes (path, constraint).
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(
            self.data.clone(memory_format=torch.preserve_format), self.requires_grad
        )
        memo[id(self)] = result
        result.__setstate__(copy.deepcopy(self.__dict__, memo))
        return result

    def __reduce_ex__(self, protocol):
        # Parameter's own reduce rebuilds a plain Parameter (no `name`,
        # `assign`, ...). The attributes travel as the pickle's state, set
        # after the variable exists, so a variable whose attributes lead back
        # to it (an optimizer's state) pickles without endless recursion.
        # `_rebuild_variable` and this class are allowed for
        # `torch.load(weights_only=True)` (below).
        return (_rebuild_variable, (self.data, self.requires_grad), self.__dict__)

    def __setstate__(self, state):
        if not isinstance(state, dict):
            return super().__setstate__(state)  # torch's legacy tuple forms
        from lamina.metrics.metric import _StateMethod  # lazy: it imports us

        for key, value in state.items():
            if isinstance(value, _StateMethod) and value.tensor is None:
                # A state method comes back unbound (see _StateMethod): bind
                # it to this variable again.
                value = _StateMethod(value.fn, self)
            self.__dict__[key] = value
        return None

    def __repr__(self):
        return (
            f"<Variable path={getattr(self, 'path', '?')}, "
            f"shape={tuple(self.shape)}, dtype={str(self.dtype)[6:]}>"
        )


# A NumPy array meeting a Variable in `+`, `*`, `<`, ...: torch's operators do
# not take arrays, so NumPy would compute on a host copy (the gradient lost, a
# NumPy 2 deprecation warning, an error for a trainable variable). As Keras's
# variables do, the array becomes a tensor first, its dtype kept (float32
# variable * float64 array is float64, by torch's promotion as in Keras). For
# `array * variable` NumPy already defers to the reflected operator, because
# torch.Tensor sets `__array_priority__`.
_ARRAY_OPERATORS = (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
    "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__",
    "__mod__", "__rmod__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__",
    "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
)  # fmt: skip


def _taking_arrays(name):
    tensor_operator = getattr(torch.Tensor, name)

    def operator(self, other):
        if isinstance(other, np.ndarray):
            if name in ("__matmul__", "__rmatmul__"):
                # torch.matmul does not promote dtypes; ops.matmul does, as
                # Keras's matmul (float32 variable @ float64 array is float32).
                from lamina.ops.numpy import matmul

                pair = (self, other) if name == "__matmul__" else (other, self)
                return matmul(*pair)
            other = torch.as_tensor(other, device=self.device)
        return tensor_operator(self, other)

    operator.__name__ = operator.__qualname__ = name
    return operator


for _name in _ARRAY_OPERATORS:
    setattr(Variable, _name, _taking_arrays(_name))
Variable.__hash__ = torch.Tensor.__hash__  # identity, as for any Parameter


def _rebuild_variable(data, requires_grad):
    """A pickled `Variable`'s tensor and trainability, as a Variable again
    (its attributes follow as the pickle's state, see `__setstate__`)."""
    return Variable(data, bool(requires_grad))


# torch.load(weights_only=True) (torch's default) refuses globals it does not
# know: a Variable saved with torch.save (a `state_dict(keep_vars=True)`,
# `model.weights`) loads once lamina is imported.
torch.serialization.add_safe_globals([Variable, _rebuild_variable])


def _checked_shape(shape, initializer, name) -> tuple:
    """`shape` as a tuple of non-negative ints, for a variable made by
    `initializer`; a clear error otherwise."""
    if shape is None:
        raise ValueError(
            f"Variable '{name}': creating a variable from an initializer "
            f"({initializer!r}) needs `shape`; got shape=None. Write e.g. "
            "Variable('zeros', shape=(3, 4))."
        )
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(
            f"Variable '{name}' expects `shape` to be a tuple of ints; got "
            f"shape={shape!r}. For a vector of 3 write shape=(3,)."
        )
    shape = tuple(shape)
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 0:
            raise ValueError(
                f"Variable '{name}' needs a fully defined shape of non-negative "
                f"ints (no `None`); got shape={shape}."
            )
    return tuple(int(dim) for dim in shape)


def _inferred_dtype(value) -> str:
    """The dtype Keras gives a variable holding `value` when none is named:
    arrays and tensors keep theirs, Python floats are `floatx()`, Python ints
    `int32` (`int64` beyond its range)."""
    from lamina import backend

    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        return backend.standardize_dtype(value.dtype)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int32" if -(2**31) <= value < 2**31 else "int64"
    if isinstance(value, float):
        return backend.floatx()
    if isinstance(value, complex):
        return "complex64"
    if isinstance(value, (list, tuple)):
        items = _flat_items(value)
        return backend.result_type(
            *[
                item.dtype
                if isinstance(item, (torch.Tensor, np.ndarray, np.generic))
                else type(item)
                for item in items
            ]
        )
    return backend.standardize_dtype(np.asarray(value).dtype)


def _flat_items(value) -> list:
    if isinstance(value, (list, tuple)):
        return [item for part in value for item in _flat_items(part)]
    return [value]


def snapshot_parameters(module, recurse=True) -> list:
    """`(owner, key, parameter)` for the parameters registered on `module`
    (and, with `recurse`, on every module under it), for
    `adopt_replaced_parameters` after a torch `Module._apply`."""
    owners = module.modules() if recurse else (module,)
    return [
        (owner, key, param)
        for owner in owners
        for key, param in owner._parameters.items()
        if param is not None
    ]


def adopt_replaced_parameters(snapshot) -> dict:
    """Make the parameters torch registered anew the successors of the
    Variables they replaced; return `{id(old): new}`.

    torch's `Module._apply` converts parameters in place when it can (`.to()`
    between devices, `.double()`), but registers new plain `Parameter`s when
    the storage kind changes (`.to("meta")`, `.to_empty()`), which would drop
    a Variable's class and attributes (name, path, constraint, ...) and leave
    a layer's weight lists holding the old tensors.
    """
    replaced = {}
    for owner, key, old in snapshot:
        new = owner._parameters.get(key)
        if new is None or new is old or not isinstance(old, Variable):
            continue
        if not isinstance(new, Variable):
            new.__class__ = Variable
        for name, value in old.__dict__.items():
            new.__dict__.setdefault(name, value)
        replaced[id(old)] = new
    return replaced
