"""lamina.distribution: data-parallel training on torch.distributed (launch with
torchrun)."""

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

__all__ = [
    "FSDP",
    "DataParallel",
    "Distribution",
    "ModelParallel",
    "distribution",
    "initialize",
    "is_primary",
    "list_devices",
    "set_distribution",
]
