"""lamina.distribution: data-parallel training on torch.distributed (launch with
torchrun)."""

from lamina.distribution.distribution_lib import (
    DataParallel,
    Distribution,
    distribution,
    initialize,
    is_primary,
    list_devices,
    set_distribution,
)

__all__ = [
    "DataParallel",
    "Distribution",
    "distribution",
    "initialize",
    "is_primary",
    "list_devices",
    "set_distribution",
]
