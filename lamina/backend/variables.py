"""Variable: an `nn.Parameter` that also speaks Keras's variable API.

Every weight a layer creates is one. torch code sees a plain Parameter; Keras code
can use `v.assign(...)`, `v.value`, `v.trainable`, `v.name`, `v.path` and
`v.numpy()`.
"""

import copy

import numpy as np
import torch


class Variable(torch.nn.Parameter):
    """A layer weight: a torch Parameter with Keras's variable methods.

    Args:
        data: The initial tensor.
        requires_grad: Whether training updates it. Defaults to `True`.
        name: Keyword only: the variable's name; its `path` is the open
            `name_scope`s, then the name. Defaults to `None` (no path).
    """

    def __new__(cls, data=None, requires_grad=True, *, name=None):
        variable = super().__new__(cls, data, requires_grad)
        if name is not None:
            from lamina.backend import naming  # lazy: keep this module leaf-level

            variable._name = str(name)
            variable.path = naming.join_path(naming.current_path(), str(name))
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
        if stateless_scope._recorded(self, value, sign=1):
            return self
        with torch.no_grad():
            self.add_(value)
        return self

    def assign_sub(self, value):
        from lamina.backend import stateless_scope  # local: it refers back to Variable

        value = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        if stateless_scope._recorded(self, value, sign=-1):
            return self
        with torch.no_grad():
            self.sub_(value)
        return self

    def numpy(self, *, force=False):
        return self.detach().cpu().numpy()

    def __deepcopy__(self, memo):
        # Parameter's own deepcopy drops Python attributes (path, constraint).
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(
            self.data.clone(memory_format=torch.preserve_format), self.requires_grad
        )
        memo[id(self)] = result
        for key, value in self.__dict__.items():
            setattr(result, key, copy.deepcopy(value, memo))
        return result

    def __repr__(self):
        return (
            f"<Variable path={getattr(self, 'path', '?')}, "
            f"shape={tuple(self.shape)}, dtype={str(self.dtype)[6:]}>"
        )
