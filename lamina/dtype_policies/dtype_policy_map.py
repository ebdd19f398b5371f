"""DTypePolicyMap: dtype policies by layer path, with regex keys, as in Keras."""

import copy
import re
from collections.abc import MutableMapping

from lamina.dtype_policies._dtype_policy import DTypePolicy, get


class DTypePolicyMap(DTypePolicy, MutableMapping):
    """A dict from layer paths (`layer.path`) to dtype policies.

    Looking a path up returns the policy stored under exactly that key; failing
    that, the one policy whose key, read as a regular expression, matches the
    whole path (`"encoder/.*"` matches every layer under `encoder`, `"decoder"`
    only the layer `decoder`); failing that, `default_policy`. As a policy in
    its own right the map computes and stores in its default policy's dtypes.

    Args:
        default_policy: The policy for paths no key matches: a policy, a name
            or a config. Defaults to `None`, the global policy at lookup time.
        policy_map: Initial `{path or regex: DTypePolicy}` entries. Defaults to
            `None` (empty).

    Raises:
        ValueError: on lookup, when a path matches more than one regex key.

    Example:
    >>> policies = lamina.dtype_policies.DTypePolicyMap("float32")
    >>> policies["encoder/.*"] = "bfloat16"
    >>> policies["encoder/dense"].name, policies["decoder/dense"].name
    ('bfloat16', 'float32')
    """

    def __init__(self, default_policy=None, policy_map=None):
        if isinstance(default_policy, DTypePolicyMap):
            raise ValueError(
                "DTypePolicyMap expects `default_policy` to be a plain dtype "
                "policy (a name such as 'float32' or a DTypePolicy); got another "
                "DTypePolicyMap."
            )
        if policy_map is not None and not isinstance(policy_map, dict):
            raise TypeError(
                "If specified, `policy_map` must be a dict. DTypePolicyMap "
                "expects a dict from layer paths to dtype policies, or None; got "
                f"{type(policy_map).__name__}: {policy_map!r}."
            )
        self._default_policy_arg = default_policy
        self._default_policy = get(default_policy)
        # Keras keeps the given dict (values are not converted).
        self._policy_map = policy_map if policy_map is not None else {}

    @property
    def name(self) -> str:
        return f"map_{self.default_policy.name}"

    @property
    def default_policy(self) -> DTypePolicy:
        """The policy for unmatched paths (the global policy when none was given)."""
        if self._default_policy_arg is None:
            return get(None)
        return self._default_policy

    # A layer given the map holds a view of it bound to the layer's path (set at
    # its first build): the same entries, read at that path, as Keras's layers
    # look `self.path` up in their map.
    _bound_path = None

    def _bound_to(self, path: str) -> "DTypePolicyMap":
        view = copy.copy(self)  # shares the entries: edits show in both
        view._bound_path = path
        return view

    def _policy(self) -> DTypePolicy:
        if self._bound_path is None:
            return self.default_policy
        return self[self._bound_path]

    @property
    def compute_dtype(self) -> str:
        """The default policy's compute dtype; a layer's: its path's policy's."""
        return self._policy().compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The default policy's variable dtype; a layer's: its path's policy's."""
        return self._policy().variable_dtype

    @property
    def quantization_mode(self):
        """The default policy's quantization mode; a layer's: its path's
        policy's (`None` when that policy is not quantized)."""
        return self._policy().quantization_mode

    def __getitem__(self, key) -> DTypePolicy:
        if key in self._policy_map:
            return self._policy_map[key]
        matches = [
            pattern for pattern in self._policy_map if re.fullmatch(pattern, key)
        ]
        if len(matches) > 1:
            raise ValueError(
                f"Path '{key}' matches multiple dtype policy keys in the "
                f"DTypePolicyMap: it matches several keys, {matches}. "
                "Each path may match at most one key; make the patterns "
                "disjoint."
            )
        if matches:
            return self._policy_map[matches[0]]
        return self.default_policy

    def __setitem__(self, key, policy):
        if key in self._policy_map:
            raise ValueError(
                f"{key} already exist in the DTypePolicyMap: it already has the "
                f"key '{key}' (policy {self._policy_map[key]!r}). Delete it first "
                "to replace it."
            )
        try:
            policy = get(policy)
        except NotImplementedError:
            raise
        except Exception as error:
            raise ValueError(
                f"Cannot interpret the assigned value. DTypePolicyMap['{key}'] "
                "must be a dtype policy, a name such as "
                f"'bfloat16' or a policy config; got {policy!r} of type "
                f"{type(policy).__name__} ({error})."
            ) from None
        self._policy_map[key] = policy

    def __delitem__(self, key):
        del self._policy_map[key]

    def __contains__(self, key) -> bool:
        return key in self._policy_map

    def __len__(self) -> int:
        return len(self._policy_map)

    def __iter__(self):
        return iter(self._policy_map)

    def __eq__(self, other):
        return (
            isinstance(other, DTypePolicyMap)
            and other._default_policy_arg == self._default_policy_arg
            and dict(other._policy_map) == dict(self._policy_map)
        )

    __hash__ = None  # mutable, like a dict

    def __repr__(self):
        mapping = [(key, policy.name) for key, policy in self._policy_map.items()]
        return (
            f"<DTypePolicyMap default_policy={self._default_policy.name}, "
            f"mapping={mapping}>"
        )

    def get_config(self) -> dict:
        from lamina.saving.serialization_lib import serialize_keras_object

        # Keras: a policy given as an object is written as its config.
        policy_map = serialize_keras_object(self._policy_map)
        if self._default_policy_arg is None:
            # Keras: a map without a default defers to the global policy at
            # load time, its entries too: each is written without its dtype
            # (`{"name": null}`; a quantized one keeps its mode, with
            # `"source_name": null`), so that `from_config` under, say,
            # `mixed_bfloat16` gives `mixed_bfloat16` and
            # `int8_from_mixed_bfloat16` entries. (Keras clears the names on the
            # policies themselves; the map's entries here keep theirs.)
            policy_map = {
                key: _without_dtype(entry) for key, entry in policy_map.items()
            }
        return {
            "default_policy": serialize_keras_object(self._default_policy_arg),
            "policy_map": policy_map,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from lamina.dtype_policies import deserialize

        config = dict(config)
        policy_map = config.get("policy_map") or {}
        config["policy_map"] = {
            key: deserialize(value, custom_objects=custom_objects)
            for key, value in policy_map.items()
        }
        return cls(**config)


def _without_dtype(entry):
    """A serialized policy with its dtype left to the global policy at load."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        return entry
    config = dict(entry["config"])
    key = "source_name" if "source_name" in config else "name"
    if key not in config or config[key] is None:
        return entry
    config[key] = None
    # No longer the same config as the policy's other uses, so not shared.
    entry = {k: v for k, v in entry.items() if k != "shared_object_id"}
    return {**entry, "config": config}
