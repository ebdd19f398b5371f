"""KerasTensor: a symbolic tensor (shape, dtype, and the layer call that made it).

`Input(shape=...)` returns one; calling a layer on KerasTensors returns KerasTensors
whose shapes come from `compute_output_shape` or from running `call` on fake
tensors (see `shape_inference.py`). Functional models are graphs of these.
"""

from lamina.backend.dtypes import standardize_dtype
from lamina.backend.naming import auto_name


class KerasTensor:
    """Symbolic stand-in for a tensor: `shape` with `None` for unknown sizes.

    Args:
        shape: Tuple of ints or `None`, batch axis included.
        dtype: Keras dtype name. Defaults to `"float32"` (as in Keras; `None`
            means `floatx()`).
        sparse: Whether it stands for a sparse tensor. Defaults to `False`.
        ragged: Must be `False`: lamina (like Keras on torch) has no ragged
            tensors. Defaults to `False`.
        record_history: Whether layer calls on it are recorded in a
            functional graph. Defaults to `True`.
        name: Optional name. Defaults to a unique `"keras_tensor"`,
            `"keras_tensor_1"`, ... (an `Input` is named after its layer).
        **kwargs: `ragged_rank` (an int) and `row_splits_dtype` (a dtype),
            kept for Keras's ragged-tensor specs and read back unchanged.

    `shape`, `dtype`, `sparse`, `ragged`, `ragged_rank` and `row_splits_dtype`
    are read-only (setting one raises `AttributeError`, as in Keras): make a
    new `KerasTensor` instead.

    Raises:
        ValueError: If `ragged=True`, or if `shape` is not a sequence of
            non-negative ints and `None`s.
        TypeError: For other keyword arguments.
    """

    def __init__(
        self,
        shape,
        dtype="float32",
        sparse=False,
        ragged=False,
        record_history=True,
        name=None,
        **kwargs,
    ):
        ragged_rank = kwargs.pop("ragged_rank", None)
        row_splits_dtype = kwargs.pop("row_splits_dtype", None)
        if kwargs:
            raise TypeError(
                f"Unexpected keyword arguments: {', '.join(kwargs)}. KerasTensor "
                "takes shape, dtype, sparse, ragged, record_history, name, "
                "ragged_rank and row_splits_dtype."
            )
        if sparse and ragged:
            raise ValueError(
                "KerasTensor cannot have `sparse=True` and `ragged=True` at the "
                "same time; choose one."
            )
        if ragged:
            raise ValueError(
                "KerasTensor(ragged=True) is not supported: lamina, like Keras on "
                "the torch backend, has no ragged tensors. Pad the sequences "
                "(lamina.utils.pad_sequences) and use a dense tensor."
            )
        # Read-only through the properties below, as in Keras: lamina's own
        # code that needs another shape or dtype writes these private fields.
        self._shape = _standardize_shape(shape)
        self._dtype = standardize_dtype(dtype)
        self._sparse = bool(sparse)
        self._ragged = False
        self._ragged_rank = None if ragged_rank is None else int(ragged_rank)
        self._row_splits_dtype = (
            None if row_splits_dtype is None else standardize_dtype(row_splits_dtype)
        )
        self.name = name or auto_name("KerasTensor")
        self.record_history = record_history
        # (layer, node_index, tensor_index), set when a layer call produces it.
        self._keras_history = None

    @property
    def shape(self) -> tuple:
        """The shape: a tuple of ints, `None` for sizes unknown until run time."""
        return self._shape

    @shape.setter
    def shape(self, value):
        _immutable("shape")

    @property
    def dtype(self) -> str:
        """The Keras dtype name, e.g. `"float32"`."""
        return self._dtype

    @dtype.setter
    def dtype(self, value):
        _immutable("dtype")

    @property
    def sparse(self) -> bool:
        """Whether it stands for a sparse tensor."""
        return self._sparse

    @sparse.setter
    def sparse(self, value):
        _immutable("sparse")

    @property
    def ragged(self) -> bool:
        """Always `False`: lamina has no ragged tensors."""
        return self._ragged

    @ragged.setter
    def ragged(self, value):
        _immutable("ragged")

    @property
    def ragged_rank(self):
        """The ragged rank given to the constructor, else `None`."""
        return self._ragged_rank

    @ragged_rank.setter
    def ragged_rank(self, value):
        _immutable("ragged_rank")

    @property
    def row_splits_dtype(self):
        """The row-splits dtype given to the constructor, else `None`."""
        return self._row_splits_dtype

    @row_splits_dtype.setter
    def row_splits_dtype(self, value):
        _immutable("row_splits_dtype")

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def __repr__(self):
        return (
            f"<KerasTensor shape={self.shape}, dtype={self.dtype}, "
            f"sparse={self.sparse}, ragged={self.ragged}, name={self.name}>"
        )

    def __bool__(self):
        raise TypeError(
            "A symbolic KerasTensor has no value, so it cannot be used as a "
            "boolean (in `if` or `while`). Use lamina.ops.where inside a layer's "
            "call() instead."
        )

    def __iter__(self):
        # Without this, Python would iterate through __getitem__ and stop
        # wherever shape inference's probe ran out: a wrong, silent answer.
        raise NotImplementedError(
            "Iterating over a symbolic KerasTensor is not supported: its length "
            "is not known until the model runs. Slice it (x[:, 0]) or use "
            "lamina.ops.unstack with a known axis size instead."
        )

    def __array__(self, dtype=None, copy=None):
        raise ValueError(
            "A KerasTensor is symbolic: it doesn't have any actual numerical "
            "value, so NumPy cannot convert it to an array. Call the model on "
            "real data (model.predict(x) or model(x)) to get values."
        )

    def __int__(self):
        raise ValueError(
            "A KerasTensor is symbolic: it has no value, so you cannot convert "
            "it to an int. Read sizes from `x.shape`, or compute with "
            "lamina.ops inside a layer's call()."
        )

    def __float__(self):
        raise ValueError(
            "A KerasTensor is symbolic: it has no value, so you cannot convert "
            "it to a float. Compute with lamina.ops inside a layer's call(), "
            "or call the model on real data to get values."
        )

    def __jax_array__(self):
        raise ValueError(
            "A KerasTensor cannot be used as input to a JAX function: it is a "
            "symbolic placeholder for a shape and dtype. Wrap the function in a "
            "layer (call it from the layer's call()) instead."
        )

    def __tf_tensor__(self, dtype=None, name=None):
        raise ValueError(
            "A KerasTensor cannot be used as input to a TensorFlow function: it "
            "is a symbolic placeholder for a shape and dtype. Wrap the function "
            "in a layer (call it from the layer's call()) instead."
        )

    def numpy(self):
        raise ValueError(
            "A symbolic KerasTensor has no value to convert to NumPy. Call the "
            "model on real data (model.predict(x) or model(x)) to get values."
        )

    def reshape(self, newshape):
        return _ops().reshape(self, newshape)

    def squeeze(self, axis=None):
        return _ops().squeeze(self, axis=axis)

    def __getitem__(self, key):
        return _ops().get_item(self, key)

    def __round__(self, ndigits=None):
        return _ops().round(self, decimals=ndigits or 0)

    def __neg__(self):
        return _ops().negative(self)

    def __abs__(self):
        return _ops().absolute(self)

    def __invert__(self):
        return _ops().logical_not(self)


def _immutable(attribute):
    raise AttributeError(
        f"The `{attribute}` attribute of KerasTensor is immutable. Create a "
        "new KerasTensor with the shape, dtype or sparsity you want instead."
    )


def _standardize_shape(shape) -> tuple:
    """`shape` as a tuple of non-negative ints and `None`s, or a `ValueError`."""
    if shape is None:
        raise ValueError(
            "KerasTensor needs a shape (a tuple of ints or None); undefined "
            "shapes are not supported."
        )
    if not hasattr(shape, "__iter__") or isinstance(shape, (str, bytes)):
        raise ValueError(f"Cannot convert '{shape}' to a shape.")
    dims = []
    for d in shape:
        if d is None:
            dims.append(None)
            continue
        if isinstance(d, (str, bytes, float)):
            raise ValueError(
                f"Cannot convert '{shape}' to a shape. Found invalid dimension "
                f"'{d}' of type '{type(d)}'."
            )
        try:
            d = int(d)
        except Exception as e:
            raise ValueError(
                f"Cannot convert '{shape}' to a shape. Found invalid dimension "
                f"'{d}' of type '{type(d)}'."
            ) from e
        if d < 0:
            raise ValueError(
                f"Cannot convert '{shape}' to a shape. Negative dimensions are "
                "not allowed."
            )
        dims.append(d)
    return tuple(dims)


def _ops():
    from lamina import ops  # ops imports this module

    return ops


def _binary(name, reflected=False):
    def method(self, other):
        fn = getattr(_ops(), name)
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


# Python operators on symbolic tensors become op nodes of the functional graph,
# as in Keras (which, like this, leaves `==` as identity so tensors hash).
for _dunder, _name in {
    "add": "add",
    "sub": "subtract",
    "mul": "multiply",
    "matmul": "matmul",
    "truediv": "true_divide",
    "div": "divide",  # Keras defines Python 2's names too
    "floordiv": "floor_divide",
    "mod": "mod",
    "pow": "power",
    "and": "logical_and",
    "or": "logical_or",
    "xor": "logical_xor",
}.items():
    setattr(KerasTensor, f"__{_dunder}__", _binary(_name))
    setattr(KerasTensor, f"__r{_dunder}__", _binary(_name, reflected=True))
for _dunder, _name in {
    "lt": "less",
    "le": "less_equal",
    "gt": "greater",
    "ge": "greater_equal",
    "ne": "not_equal",
}.items():
    setattr(KerasTensor, f"__{_dunder}__", _binary(_name))
del _dunder, _name


def is_keras_tensor(x) -> bool:
    """Whether `x` is a symbolic tensor (a `KerasTensor`, e.g. from `Input`).

    Args:
        x: Any object.

    Returns:
        `True` for a symbolic tensor, `False` for eager tensors, arrays and
        everything else.
    """
    return isinstance(x, KerasTensor)


def any_symbolic(structure) -> bool:
    """True if `structure` (a tensor, or nested lists/tuples/dicts) holds a KerasTensor."""
    if isinstance(structure, KerasTensor):
        return True
    if isinstance(structure, (list, tuple)):
        return any(any_symbolic(s) for s in structure)
    if isinstance(structure, dict):
        return any(any_symbolic(s) for s in structure.values())
    return False


def is_shape(value) -> bool:
    """True for one shape: a tuple/list of ints and Nones (not a list of shapes)."""
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in value
    )


def specs_from_shapes(shapes, dtype=None):
    """KerasTensors for a shape, or a list/dict of shapes."""
    if is_shape(shapes):
        return KerasTensor(shapes, dtype=dtype)
    if isinstance(shapes, dict):
        return {k: specs_from_shapes(v, dtype) for k, v in shapes.items()}
    return [specs_from_shapes(s, dtype) for s in shapes]


def shapes_of(specs):
    """The shape (or list/dict of shapes) of KerasTensors or tensors."""
    if isinstance(specs, dict):
        return {k: shapes_of(v) for k, v in specs.items()}
    if isinstance(specs, (list, tuple)):
        return [shapes_of(s) for s in specs]
    return tuple(specs.shape)
