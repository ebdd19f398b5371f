"""Metric: the base class of stateful metrics.

State lives in plain torch tensors on lamina's device, created with
`add_variable` and updated in place, so a training loop can accumulate metrics
batch after batch without copying anything to the host until `result()` is read.
"""

import contextlib

import torch

from lamina.backend import dtypes as _dtypes
from lamina.backend import get_device, naming
from lamina.backend.naming import auto_name
from lamina.backend.stateless_scope import check_matching
from lamina.backend.variables import Variable
from lamina.losses.loss import compute_dtype

_AGGREGATIONS = ("none", "mean", "sum", "only_first_replica")


def _assign(self, value):
    with torch.no_grad():
        if isinstance(value, torch.Tensor):
            self.copy_(value)
        else:
            self.copy_(torch.as_tensor(value, dtype=self.dtype))
    return self


def _assign_add(self, value):
    with torch.no_grad():
        self.add_(value)
    return self


def _assign_sub(self, value):
    with torch.no_grad():
        self.sub_(value)
    return self


class _StateMethod:
    """`state.assign(value)` and friends, bound to one state tensor.

    Unlike a `types.MethodType`, it survives `pickle` and `copy.deepcopy` of
    the metric: it is copied unbound (a tensor rebuilt by pickle cannot hold
    a method bound to itself) and `Metric.__setstate__` binds it again.
    """

    __slots__ = ("fn", "tensor")

    def __init__(self, fn, tensor):
        self.fn = fn
        self.tensor = tensor

    def __call__(self, value):
        return self.fn(self.tensor, value)

    def __reduce__(self):
        return (_StateMethod, (self.fn, None))

    def __deepcopy__(self, memo):
        return _StateMethod(self.fn, None)


def _instances_in(value, kind):
    """The `kind` instances in `value`: itself, or those nested in
    lists/tuples/dicts."""
    if isinstance(value, kind):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _instances_in(item, kind)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _instances_in(item, kind)


def _bind_state_methods(tensor: torch.Tensor) -> None:
    tensor.assign = _StateMethod(_assign, tensor)
    tensor.assign_add = _StateMethod(_assign_add, tensor)
    tensor.assign_sub = _StateMethod(_assign_sub, tensor)


def variable_view(tensor: torch.Tensor) -> Variable:
    """`tensor` (a metric's or optimizer's state) as a non-trainable `Variable`
    sharing its memory, as Keras's state variables are: `name` (the last part
    of the tensor's `path`), `path`, `value`, `assign`, `numpy()`. Made once
    and kept on the tensor; the updates keep using the plain tensor, which
    torch runs faster than a Parameter subclass (~0.5 us less per op). A
    tensor with an `_owner` (the optimizer whose host number it mirrors:
    `iteration`, `learning_rate`) gets an `assign` that writes that number.
    """
    if hasattr(tensor, "full_tensor"):
        # An FSDP-sharded slot (a DTensor) speaks the Variable API itself once
        # made a ShardedVariable (`assign` keeps the local slice, `numpy()`
        # gathers); a Parameter view of it would be the bare DTensor.
        from lamina.distribution.sharded_variable import as_sharded_variable

        return as_sharded_variable(tensor)
    view = tensor.__dict__.get("_variable")
    if (
        type(view) is Variable
        and view.data_ptr() == tensor.data_ptr()
        and view.dtype == tensor.dtype
        and view.shape == tensor.shape
    ):
        return view
    view = Variable(tensor, requires_grad=False)
    path = tensor.__dict__.get("path")
    if path is not None:
        view.path = path
    view.aggregation = tensor.__dict__.get("aggregation", "none")
    owner = tensor.__dict__.get("_owner")
    if owner is not None:
        view.assign = _StateMethod(_assign_mirrored, view)
        view._owner = owner
    tensor._variable = view
    return view


def _assign_mirrored(view, value):
    # `iteration` and `learning_rate` mirror Python numbers: write through.
    owner = view._owner
    owner._sync_scalars_to_tensors()
    _assign(view, value)
    owner._sync_scalars_from_tensors()
    return view


def _fill(tensor: torch.Tensor, initializer) -> None:
    """Write `initializer`'s values into `tensor`, in place."""
    with torch.no_grad():
        if initializer is None or initializer == "zeros":
            tensor.zero_()
        elif initializer == "ones":
            tensor.fill_(1)
        elif isinstance(initializer, (int, float)):
            tensor.fill_(initializer)
        else:
            from lamina import initializers

            init = initializers.get(initializer)
            values = init(
                tuple(tensor.shape), dtype=_dtypes.standardize_dtype(tensor.dtype)
            )
            tensor.copy_(torch.as_tensor(values))


@contextlib.contextmanager
def state_swapped(variables, values, owner):
    """Within the block, the state tensors `variables` hold `values`; on exit
    they get their own values back. The list the block receives is filled, on
    exit, with copies of the values the block left in them.

    Metric state is updated in place (`assign_add`, `add_`), so the values are
    copied in and out rather than the tensors replaced.
    """
    values = list(values)
    check_matching(
        f"{owner.__class__.__name__} '{owner.name}'",
        [(values, variables, "metric_variables")],
    )
    converted = []
    for variable, value in zip(variables, values):
        value = torch.as_tensor(value, dtype=variable.dtype, device=variable.device)
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"{owner.__class__.__name__} '{owner.name}': the value for "
                f"state '{getattr(variable, 'path', '?')}' must have shape "
                f"{tuple(variable.shape)}; got {tuple(value.shape)}."
            )
        converted.append(value.detach().clone())
    kept = [v.detach().clone() for v in variables]
    new_state = []
    try:
        with torch.no_grad():
            for variable, value in zip(variables, converted):
                variable.copy_(value)
        yield new_state
        new_state.extend(v.detach().clone() for v in variables)
    finally:
        with torch.no_grad():
            for variable, value in zip(variables, kept):
                variable.copy_(value)


def _cloned(result):
    if isinstance(result, torch.Tensor):
        return result.detach().clone()
    if isinstance(result, dict):
        return {k: _cloned(v) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return type(result)(_cloned(v) for v in result)
    return result


class Metric:
    """Base class of metrics: state plus `update_state`, `result`, `reset_state`.

    Args:
        dtype: Dtype of the state and the result. Defaults to `floatx()`.
        name: Name shown in logs. Defaults to the snake-case class name.

    Subclasses create state in `__init__` with `add_variable`, update it in place
    in `update_state` (e.g. `self.total.add_(values.sum())`, or Keras's
    `self.total.assign_add(...)`), and compute the value in `result()`.

    Example:
    >>> import torch
    >>> from lamina import metrics
    >>> class Count(metrics.Metric):
    ...     def __init__(self, name="count", **kwargs):
    ...         super().__init__(name=name, **kwargs)
    ...         self.n = self.add_variable(shape=(), initializer="zeros", name="n")
    ...     def update_state(self, values):
    ...         self.n.assign_add(torch.as_tensor(values).numel())
    ...     def result(self):
    ...         return self.n.clone()
    >>> m = Count()
    >>> m.update_state([1, 2, 3]); float(m.result())
    3.0
    """

    def __init__(self, dtype=None, name=None):
        self.name = name or auto_name(self.__class__.__name__)
        self._dtype = compute_dtype(dtype)
        self._torch_dtype = _dtypes.to_torch_dtype(self._dtype)
        self._variables = []
        self._variable_specs = []  # (name, initializer, aggregation), in order
        self._metrics = []
        self._tracked_variables = []  # Variables set as attributes, as Keras tracks

    def __setstate__(self, state):
        # pickle / deepcopy: the state tensors' `assign` methods come back unbound.
        self.__dict__.update(state)
        for tensor in self.__dict__.get("_variables", ()):
            _bind_state_methods(tensor)

    def __setattr__(self, name, value):
        # Track sub-metrics and Variables, also in lists, tuples and dicts (as
        # Keras does), so that `variables` and `reset_state` reach them.
        if "_metrics" in self.__dict__:
            for metric in _instances_in(value, Metric):
                if not any(metric is known for known in self._metrics):
                    self._metrics.append(metric)
            tracked = self.__dict__.get("_tracked_variables")
            if tracked is not None:
                for variable in _instances_in(value, Variable):
                    if not any(variable is known for known in tracked):
                        tracked.append(variable)
        object.__setattr__(self, name, value)

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def variables(self) -> list:
        """All state, this metric's then its sub-metrics', in order: each a
        non-trainable `Variable` sharing its state tensor's memory (Keras's
        `name`, `path`, `value`, `assign`, `numpy()`), then the `Variable`s
        set as attributes (also in lists and dicts)."""
        variables = [variable_view(tensor) for tensor in self._variables]
        variables.extend(self.__dict__.get("_tracked_variables", ()))
        for metric in self._metrics:
            variables.extend(metric.variables)
        return variables

    def add_variable(
        self, shape, initializer="zeros", dtype=None, aggregation="sum", name=None
    ) -> torch.Tensor:
        """Create a state tensor on lamina's device and register it.

        Args:
            shape: Shape of the state, e.g. `()` or `(num_thresholds,)`.
            initializer: `"zeros"`, `"ones"`, a number, or any initializer
                `lamina.initializers.get` accepts. Defaults to `"zeros"`.
            dtype: Defaults to `floatx()` (`"float32"`), not the metric's
                dtype, as in Keras; pass `dtype=self.dtype` to follow it.
            aggregation: How replicas combine it: `"sum"`, `"mean"`,
                `"only_first_replica"` or `"none"`. Defaults to `"sum"`.
            name: Name of the state; its `path` is `"<metric name>/<name>"`.

        Returns:
            The tensor. It also offers Keras's `assign`, `assign_add` and
            `assign_sub`, which update it in place without tracking gradients.
        """
        if "_variables" not in self.__dict__:
            raise RuntimeError(
                f"{self.__class__.__name__}.add_variable was called before "
                "Metric.__init__ ran. Call super().__init__(name=name, dtype=dtype) "
                "at the top of __init__."
            )
        if aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"Metric '{self.name}': aggregation must be one of {_AGGREGATIONS}; "
                f"got aggregation={aggregation!r}."
            )
        if isinstance(shape, int):
            shape = (shape,)
        # Keras's rule: state without a dtype is floatx, whatever the metric's
        # dtype, so counts in a float16 metric do not stop at 2048.
        torch_dtype = _dtypes.to_torch_dtype(compute_dtype(dtype))
        tensor = torch.zeros(tuple(shape), dtype=torch_dtype, device=get_device())
        _fill(tensor, initializer)
        tensor.aggregation = aggregation
        # Keras: the metric opens a scope named after itself ("mean/total").
        name = name or naming.uniquify("variable")
        tensor.path = naming.join_path(
            naming.current_path(), self.name.replace("/", ">"), name
        )
        _bind_state_methods(tensor)
        self._variables.append(tensor)
        self._variable_specs.append((name, initializer, aggregation))
        return tensor

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Alias of `add_variable`, kept by Keras for older code."""
        return self.add_variable(
            shape=shape, initializer=initializer, dtype=dtype, name=name
        )

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(
            f"{self.__class__.__name__} subclasses Metric but does not define "
            "update_state(); define it to accumulate a batch into the state."
        )

    def result(self):
        raise NotImplementedError(
            f"{self.__class__.__name__} subclasses Metric but does not define "
            "result(); define it to compute the value from the state."
        )

    def reset_state(self) -> None:
        """Put every state tensor back to its initial value, in place."""
        for tensor, (_, initializer, _) in zip(
            self._variables, self._variable_specs, strict=True
        ):
            _fill(tensor, initializer)
        with torch.no_grad():
            # Variables set as attributes go back to zeros, as in Keras.
            for variable in self.__dict__.get("_tracked_variables", ()):
                variable.zero_()
        for metric in self._metrics:
            metric.reset_state()

    def stateless_update_state(self, metric_variables, *args, **kwargs):
        """Run `update_state` from the state `metric_variables` and return the
        new state, leaving the metric's own state unchanged.

        Args:
            metric_variables: Tensors matching `variables` one to one.
            *args: Arguments of `update_state` (`y_true`, `y_pred`, ...).
            **kwargs: Keyword arguments of `update_state` (`sample_weight`).

        Returns:
            The list of new state tensors, in the order of `variables`.

        Raises:
            ValueError: If `metric_variables` does not match `variables`.
        """
        with state_swapped(self.variables, metric_variables, self) as new_state:
            self.update_state(*args, **kwargs)
        return new_state

    def stateless_result(self, metric_variables):
        """`result()` computed from the state `metric_variables` instead of
        the metric's own state (which is left unchanged).

        Args:
            metric_variables: Tensors matching `variables` one to one.

        Returns:
            What `result()` returns for that state.

        Raises:
            ValueError: If `metric_variables` does not match `variables`.
        """
        with state_swapped(self.variables, metric_variables, self):
            result = self.result()
            # The result may be a view of the swapped-in state: detach it
            # from the metric's tensors before they are put back.
            return _cloned(result)

    def stateless_reset_state(self) -> list:
        """The state `reset_state()` would set, as new tensors; the metric's own
        state is left unchanged.

        Returns:
            The list of initial state tensors, in the order of `variables`.
        """
        variables = self.variables
        with state_swapped(variables, variables, self) as new_state:
            self.reset_state()
        return new_state

    def __call__(self, *args, **kwargs):
        """Update with this batch, then return the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}>"
