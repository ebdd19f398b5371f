"""lamina.dtype_policies: which dtype a layer computes in and stores weights in."""

from lamina.dtype_policies.dtype_policy import (
    DTypePolicy,
    dtype_policy,
    get,
    set_dtype_policy,
)

__all__ = ["DTypePolicy", "dtype_policy", "get", "set_dtype_policy"]
