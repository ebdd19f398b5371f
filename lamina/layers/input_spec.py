"""InputSpec: what a layer accepts (rank, sizes of given axes), as in Keras."""


class InputSpec:
    """Constraints on a layer input, checked when a call fails or a graph is built.

    Args:
        dtype: Expected dtype name, or None.
        shape: Full expected shape (None for any size), or None.
        ndim / max_ndim / min_ndim: Rank constraints.
        axes: `{axis: size}` for axes whose size is fixed (e.g. `{-1: 32}`).
    """

    def __init__(
        self,
        dtype=None,
        shape=None,
        ndim=None,
        max_ndim=None,
        min_ndim=None,
        axes=None,
        allow_last_axis_squeeze=False,
        name=None,
        optional=False,
    ):
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name = name
        self.optional = optional

    def __repr__(self):
        parts = [
            f"{k}={v}"
            for k, v in [
                ("dtype", self.dtype),
                ("shape", self.shape),
                ("ndim", self.ndim),
                ("max_ndim", self.max_ndim),
                ("min_ndim", self.min_ndim),
                ("axes", self.axes or None),
            ]
            if v is not None
        ]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {
            "dtype": self.dtype,
            "shape": self.shape,
            "ndim": self.ndim,
            "max_ndim": self.max_ndim,
            "min_ndim": self.min_ndim,
            "axes": self.axes,
        }


def check_input_spec(spec, shape, layer_name, class_name):
    """Raise a ValueError naming the layer if `shape` breaks `spec`; else return."""
    if spec is None or shape is None:
        return
    who = f"Layer '{layer_name}' ({class_name})"
    if isinstance(spec, (list, tuple)):  # one spec per input, as Keras allows
        if len(spec) != 1:
            raise ValueError(
                f"{who} expects {len(spec)} input(s), but it received 1 input "
                f"tensor (shape {tuple(shape)})."
            )
        spec = spec[0]
        if spec is None:
            return
    shape = tuple(shape)
    rank = len(shape)
    if spec.ndim is not None and rank != spec.ndim:
        raise ValueError(
            f"{who} expects inputs of rank {spec.ndim}; got shape {shape} "
            f"(rank {rank}), which is incompatible with the layer."
        )
    if spec.min_ndim is not None and rank < spec.min_ndim:
        raise ValueError(
            f"{who} expects inputs of rank >= {spec.min_ndim}; got shape {shape}."
        )
    if spec.max_ndim is not None and rank > spec.max_ndim:
        raise ValueError(
            f"{who} expects inputs of rank <= {spec.max_ndim}; got shape {shape}."
        )
    for axis, size in spec.axes.items():
        if size is None:
            continue
        if -rank <= axis < rank and shape[axis] is not None and shape[axis] != size:
            where = "last axis" if axis == -1 else f"axis {axis}"
            raise ValueError(
                f"{who} expects inputs whose {where} has size {size}; got shape "
                f"{shape}, which is incompatible with the layer: it was built "
                f"for inputs with {size} features. Either "
                "reshape the data or create a new layer (or model) for the new "
                "input size."
            )
    if spec.shape is not None:
        for expected, got in zip(spec.shape, shape):
            if expected is not None and got is not None and expected != got:
                raise ValueError(
                    f"{who} expects inputs of shape {spec.shape}; got shape {shape}."
                )
