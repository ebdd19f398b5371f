"""Keras's layout vocabulary (DeviceMesh, TensorLayout, LayoutMap) on torch.

Keras describes model parallelism with a mesh of devices, a per-tensor layout
naming mesh axes, and a map from variable paths to layouts. lamina runs one
process per device and distributes with `DataParallel` (every process holds
the whole model and a slice of each batch) or `FSDP` (parameters sharded over
processes). These objects accept Keras's arguments and keep the same
attributes, so code that builds them runs; laying a tensor out over a mesh
axis other than the batch is refused with an error naming what lamina supports.
"""

import collections
import math
import re

import numpy as np
import torch

from lamina.distribution.distribution_lib import list_devices

_SUPPORTED = (
    "lamina distributes with lamina.distribution.DataParallel() (the batch "
    "split over processes, launched with torchrun) and "
    "lamina.distribution.FSDP() (parameters sharded over processes)"
)


def get_device_count(device_type=None) -> int:
    """How many devices of one type this process can see.

    Args:
        device_type: `"cpu"`, `"gpu"` (or `"cuda"`), `"mps"` or `"tpu"`.
            Defaults to `None`: GPUs if there are any, else the CPU.

    Returns:
        The number of devices: CUDA devices for `"gpu"`, `1` for `"cpu"` (torch
        runs on the host as a single device), `1` or `0` for `"mps"`, and `0`
        for `"tpu"`.

    Example:
    >>> lamina.distribution.get_device_count("cpu")
    1
    """
    if device_type is None:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return count or 1
    if not isinstance(device_type, str):
        raise TypeError(
            "get_device_count expects `device_type` to be a string such as "
            f"'cpu' or 'gpu', or None; got {device_type!r}."
        )
    kind = device_type.lower()
    if kind in ("gpu", "cuda"):
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "cpu":
        return 1
    if kind == "mps":
        return int(torch.backends.mps.is_available())
    if kind == "tpu":
        return 0
    raise ValueError(
        "get_device_count expects `device_type` to be one of 'cpu', 'gpu', "
        f"'cuda', 'mps', 'tpu' or None; got {device_type!r}."
    )


class DeviceMesh:
    """Devices arranged in a named grid, e.g. `(8,)` over `["batch"]`.

    Args:
        shape: The grid's shape, a tuple or list of ints: `(8,)` for data
            parallelism, `(4, 2)` for data times model parallelism.
        axis_names: One name per axis of `shape`, e.g. `["batch", "model"]`.
        devices: The devices, as many as `shape` holds (`"cuda:0"`, ...).
            Defaults to `lamina.distribution.list_devices()`.

    Attributes:
        shape, axis_names: As given.
        devices: A NumPy array of device strings of shape `shape`.

    Example:
    >>> mesh = lamina.distribution.DeviceMesh((1,), ["batch"], devices=["cpu"])
    >>> mesh.devices.shape
    (1,)
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(
                "DeviceMesh needs a non-empty `shape` and `axis_names`; got "
                f"shape={shape!r}, axis_names={axis_names!r}."
            )
        if len(shape) != len(axis_names):
            raise ValueError(
                "DeviceMesh needs one axis name per axis of `shape`; got "
                f"shape={shape!r} ({len(shape)} axes) and axis_names="
                f"{axis_names!r} ({len(axis_names)} names)."
            )
        if devices is None:
            devices = list_devices()
        devices = np.array(devices)
        if math.prod(shape) != devices.size:
            raise ValueError(
                f"DeviceMesh of shape {tuple(shape)} holds {math.prod(shape)} "
                f"devices, but {devices.size} were given ({devices.tolist()}). "
                "Pass as many devices as the shape holds."
            )
        self._shape = shape
        self._axis_names = axis_names
        self._devices = np.reshape(devices, shape)

    @property
    def shape(self):
        return self._shape

    @property
    def axis_names(self):
        return self._axis_names

    @property
    def devices(self) -> np.ndarray:
        return self._devices

    def axis_size(self, axis_name: str) -> int:
        """The number of devices along the mesh axis named `axis_name`."""
        return int(self._shape[list(self._axis_names).index(axis_name)])

    def __repr__(self):
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class TensorLayout:
    """How a tensor is laid out over a `DeviceMesh`: per tensor axis, the name
    of the mesh axis it is split along, or `None` (not split).

    Args:
        axes: One entry per tensor axis, e.g. `("batch", None)`.
        device_mesh: The mesh the names refer to. Defaults to `None`: set later
            (once) by a `LayoutMap` or by assignment.

    Example:
    >>> layout = lamina.distribution.TensorLayout(("batch", None))
    >>> layout.axes, layout.device_mesh
    (('batch', None), None)
    """

    def __init__(self, axes, device_mesh=None):
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def axes(self) -> tuple:
        return self._axes

    @property
    def device_mesh(self):
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh):
        if self._device_mesh is not None:
            raise ValueError(
                "This TensorLayout already has a device mesh "
                f"({self._device_mesh}); it cannot be replaced. Create a new "
                "TensorLayout instead."
            )
        self._device_mesh = device_mesh
        self._validate_axes()

    def _validate_axes(self):
        if self._device_mesh is None:
            return
        valid = set(self._device_mesh.axis_names)
        unknown = set(self._axes) - {None} - valid
        if unknown:
            raise ValueError(
                f"TensorLayout axes {self._axes} name mesh axes {sorted(unknown)} "
                f"that the device mesh does not have; its axes are "
                f"{list(self._device_mesh.axis_names)}."
            )

    def __repr__(self):
        return f"<TensorLayout axes={self.axes}, device_mesh={self.device_mesh}>"


class LayoutMap(collections.abc.MutableMapping):
    """A dict from variable paths to `TensorLayout`s, whose keys are regexes.

    Looking up a path returns the layout stored under exactly that key, else
    the one layout whose key matches the whole path as a regular expression,
    else `None`. A tuple value is a shortcut for `TensorLayout(axes)`; layouts
    without a mesh get this map's mesh.

    lamina keeps the map (so Keras code that builds one runs) but cannot run
    the model-parallel layouts it describes; see `ModelParallel`.

    Args:
        device_mesh: The `DeviceMesh` the layouts refer to.

    Example:
    >>> mesh = lamina.distribution.DeviceMesh((1,), ["model"], devices=["cpu"])
    >>> layout_map = lamina.distribution.LayoutMap(mesh)
    >>> layout_map[".*dense.*kernel"] = (None, "model")
    >>> layout_map["dense_1/kernel"].axes, layout_map["dense_1/bias"]
    ((None, 'model'), None)
    """

    def __init__(self, device_mesh):
        self._layout_map = collections.OrderedDict()
        self._device_mesh = device_mesh

    @property
    def device_mesh(self):
        return self._device_mesh

    def __getitem__(self, key):
        if key in self._layout_map:
            return self._layout_map[key]
        matches = [
            pattern for pattern in self._layout_map if re.fullmatch(pattern, key)
        ]
        if len(matches) > 1:
            raise ValueError(
                f"LayoutMap: path '{key}' matches several keys, {matches}. Each "
                "variable path may match at most one key; make the patterns "
                "disjoint."
            )
        return self._layout_map[matches[0]] if matches else None

    def __setitem__(self, key, layout):
        if key in self._layout_map:
            raise ValueError(
                f"LayoutMap already has the key '{key}' (layout "
                f"{self._layout_map[key]}). Delete it first to replace it."
            )
        if isinstance(layout, tuple):
            layout = TensorLayout(axes=layout)
        if not isinstance(layout, TensorLayout):
            raise ValueError(
                f"LayoutMap['{key}'] must be a TensorLayout or a tuple of mesh "
                f"axis names; got {layout!r} of type {type(layout).__name__}."
            )
        if layout.device_mesh is None and self._device_mesh is not None:
            layout.device_mesh = self._device_mesh
        self._layout_map[key] = layout

    def __delitem__(self, key):
        del self._layout_map[key]

    def __len__(self) -> int:
        return len(self._layout_map)

    def __iter__(self):
        return iter(self._layout_map)


def _is_split(layout) -> bool:
    """Whether `layout` splits some tensor axis over more than one device."""
    mesh = layout.device_mesh
    for axis in layout.axes:
        if axis is None:
            continue
        if mesh is None or mesh.axis_size(axis) > 1:
            return True
    return False


def distribute_tensor(tensor, layout):
    """Give `tensor` the layout `layout`.

    lamina places whole tensors on this process's device: a layout that splits
    no axis over more than one device (all `None`, or mesh axes of size 1)
    returns `tensor` unchanged, as does a symbolic tensor (as in Keras).

    Args:
        tensor: A tensor, or a symbolic `KerasTensor`.
        layout: A `TensorLayout` (or `None`).

    Raises:
        NotImplementedError: for a layout that splits the tensor over devices;
            lamina shards with DataParallel and FSDP instead.
    """
    from lamina.backend.keras_tensor import KerasTensor

    if isinstance(tensor, KerasTensor) or layout is None:
        return tensor
    if not isinstance(layout, TensorLayout):
        raise TypeError(
            "distribute_tensor expects `layout` to be a "
            f"lamina.distribution.TensorLayout; got {type(layout).__name__}."
        )
    if _is_split(layout):
        raise NotImplementedError(
            f"distribute_tensor cannot split a tensor with layout {layout}: "
            f"lamina has no per-tensor sharding. {_SUPPORTED}."
        )
    return tensor
