"""ShardedVariable: a weight sharded by FSDP that still speaks Keras's variable
API, so code written for one process (`set_weights`, `v.assign(...)`,
`v.numpy()`, `load_weights`) runs unchanged under `FSDP()`."""

import copy
import weakref

import numpy as np
import torch
from torch.distributed.tensor import DTensor, distribute_tensor

from lamina.backend.variables import Variable


class ShardedVariable(DTensor):
    """A layer weight after `fully_shard`: each rank holds one shard, while
    `shape`, `assign` and `numpy()` speak of the full weight.

    `shard` gives every parameter `fully_shard` replaced this class (the
    DTensor stays the one FSDP registered, with the old Variable's name, path,
    constraint and other attributes). Reading it whole (`numpy()`,
    `np.asarray(v)`, `ops.convert_to_numpy(v)`) gathers the shards: a
    collective, so every rank must read it, as every rank calls
    `get_weights()`. Assigning a whole value needs no communication: every
    rank is given the same value and keeps its own slice of it.
    """

    __slots__ = ()

    name = Variable.name
    regularizer = Variable.regularizer
    overwrite_with_gradient = Variable.overwrite_with_gradient
    trainable = Variable.trainable
    value = Variable.value
    aggregation = Variable.aggregation
    synchronization = Variable.synchronization

    def assign(self, value):
        """Set the whole weight to `value` (an array or tensor of the full
        shape, the same on every rank); this rank keeps its shard of it."""
        _reshard_owner(self)
        with torch.no_grad():
            self.copy_(self._distributed(value, "assign"))
        return self

    def assign_add(self, value):
        """Add `value` (the full shape, or one that broadcasts to it)."""
        _reshard_owner(self)
        with torch.no_grad():
            self.add_(self._distributed(value, "assign_add"))
        return self

    def assign_sub(self, value):
        """Subtract `value` (the full shape, or one that broadcasts to it)."""
        _reshard_owner(self)
        with torch.no_grad():
            self.sub_(self._distributed(value, "assign_sub"))
        return self

    def numpy(self, *, force=False):
        """The whole weight as a NumPy array (gathered from every rank)."""
        from lamina.backend.tensors import convert_to_numpy

        return convert_to_numpy(self)

    # NumPy functions see the whole weight (`np.mean(v)`), as for Variable.
    __array_function__ = Variable.__array_function__

    def __deepcopy__(self, memo):
        # torch's default deepcopy of a tensor subclass wants clone() to keep
        # the class, which DTensor's dispatch does not: copy the shard itself.
        if id(self) in memo:
            return memo[id(self)]
        shard = DTensor.from_local(
            self.to_local().detach().clone(),
            self.device_mesh,
            self.placements,
            shape=self.shape,
            stride=self.stride(),
        )
        result = torch.nn.Parameter(shard, requires_grad=self.requires_grad)
        result.__class__ = ShardedVariable
        memo[id(self)] = result
        for key, value in self.__dict__.items():
            if key != "_is_param":
                result.__dict__[key] = copy.deepcopy(value, memo)
        return result

    def __repr__(self):
        # No values: printing one rank's weight must not start a collective.
        return (
            f"<ShardedVariable path={self.__dict__.get('path', '?')}, "
            f"shape={tuple(self.shape)}, dtype={str(self.dtype)[6:]}, "
            f"placements={tuple(self.placements)}>"
        )

    def _distributed(self, value, method):
        """`value` (full shape, or broadcastable for add/sub) as a DTensor laid
        out like this weight, sliced locally (no communication)."""
        if isinstance(value, DTensor):
            if (
                value.device_mesh == self.device_mesh
                and value.placements == self.placements
                and value.shape == self.shape
            ):  # laid out as this weight (`w * 0.5`): no communication
                return value.to(self.dtype)
            value = value.full_tensor()
        value = torch.as_tensor(
            value if isinstance(value, torch.Tensor) else np.asarray(value),
            dtype=self.dtype,
            device=self.device,
        )
        shape = tuple(self.shape)
        if tuple(value.shape) != shape:
            if method == "assign" or _broadcast_shape(value.shape, shape) != shape:
                raise ValueError(
                    f"Cannot {method} a value of shape {tuple(value.shape)} to "
                    f"variable '{self.__dict__.get('path', '?')}' of shape {shape} "
                    "(sharded by FSDP: give the whole weight's value on every rank)."
                )
            value = value.expand(shape)
        return distribute_tensor(
            value.contiguous(), self.device_mesh, self.placements, src_data_rank=None
        )


def _broadcast_shape(a, b):
    try:
        return tuple(torch.broadcast_shapes(tuple(a), tuple(b)))
    except RuntimeError:
        return None


# id(variable) -> the FSDP module whose reshard() registers its shard; kept
# out of the variable's __dict__, which pickles with it.
_OWNERS = weakref.WeakValueDictionary()


def _reshard_owner(variable) -> None:
    """Put the owning layer's sharded parameters back in place before a write.

    A layer FSDP does not reshard after its forward pass (the root, or any
    with `reshard_after_forward=False`) keeps running on its gathered copy
    after evaluate or predict; a write to the shards would then be ignored
    until the next backward pass. Resharding frees that copy (no
    communication), so the next forward gathers the new values."""
    module = _OWNERS.get(id(variable))
    if module is not None:
        module.reshard()


def as_sharded_variable(new, old=None, owner=None):
    """Make `new` (the DTensor parameter `fully_shard` put in place of `old`,
    or a sharded optimizer slot) a ShardedVariable with `old`'s attributes;
    `owner` is the FSDP module whose `reshard()` registers it. Returns `new`."""
    if not isinstance(new, DTensor):
        return new
    if type(new) is DTensor:
        new.__class__ = ShardedVariable
    for key, value in getattr(old, "__dict__", {}).items():
        new.__dict__.setdefault(key, value)
    if owner is not None:
        _OWNERS[id(new)] = owner
    return new


# torch.load(weights_only=True) (torch's default) loads a state_dict holding
# sharded weights once lamina is imported, as for Variable.
torch.serialization.add_safe_globals([ShardedVariable])
