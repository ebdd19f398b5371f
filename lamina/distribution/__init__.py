"""lamina.distribution: data-parallel training on torch.distributed (launch with
torchrun), and Keras's layout names (DeviceMesh, TensorLayout, LayoutMap)."""

from lamina.distribution.distribution_lib import (
    FSDP,
    DataParallel,
    Distribution,
    ModelParallel,
    distribution,
    initialize,
    is_primary,
    list_devices,
    set_distribution,
)
from lamina.distribution.layouts import (
    DeviceMesh,
    LayoutMap,
    TensorLayout,
    distribute_tensor,
    get_device_count,
)

__all__ = [
    "FSDP",
    "DataParallel",
    "DeviceMesh",
    "Distribution",
    "LayoutMap",
    "ModelParallel",
    "TensorLayout",
    "distribute_tensor",
    "distribution",
    "get_device_count",
    "initialize",
    "is_primary",
    "list_devices",
    "set_distribution",
]
