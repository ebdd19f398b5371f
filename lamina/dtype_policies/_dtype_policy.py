"""DTypePolicy: a layer's compute dtype and variable dtype, named as in Keras."""

from lamina.backend import config
from lamina.backend.dtypes import standardize_dtype

_GLOBAL_POLICY = None

# Keras's quantization modes: a policy named "<mode>_from_<source>" (for example
# "int8_from_float32") is a quantized policy (quantized_dtype_policy.py).
QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")


class DTypePolicy:
    """Dtype policy: `"float32"`, `"bfloat16"`, or mixed (`"mixed_bfloat16"`,
    `"mixed_float16"`: compute in the low-precision type, keep float32 weights).

    Args:
        name: Policy name. Defaults to `None`: the global policy's name (see
            `set_dtype_policy`), else `floatx()`.
    """

    def __init__(self, name=None):
        if name is None:
            name = _default_name()
        if not isinstance(name, str):
            raise TypeError(
                f"DTypePolicy expects a string name ('name' must be a string); "
                f"got {name!r}."
            )
        try:
            if name.startswith("mixed_"):
                compute = standardize_dtype(name[len("mixed_") :])
                if compute not in ("float16", "bfloat16"):
                    raise ValueError(
                        "Mixed policies are 'mixed_float16' or 'mixed_bfloat16'."
                    )
                self._compute_dtype, self._variable_dtype = compute, "float32"
            else:
                dtype = standardize_dtype(name)
                self._compute_dtype = self._variable_dtype = dtype
        except (ValueError, KeyError) as error:
            raise ValueError(
                f"Cannot convert {name!r} to a DTypePolicy: {error} Valid names "
                "are a dtype such as 'float32' or 'bfloat16', 'mixed_float16', "
                "'mixed_bfloat16', or a quantized policy such as "
                "'int8_from_float32'."
            ) from None
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._variable_dtype

    @property
    def quantization_mode(self):
        """The quantization mode (`"int8"`, ...), `None` for a float policy."""
        return None

    def convert_input(self, x, autocast, dtype):
        """`x` as a tensor, floats cast to `dtype` when `autocast` is true.

        A tensor or KerasTensor keeps its type; an array-like (NumPy array,
        list) becomes a tensor; anything else comes back unchanged. Integer
        and bool inputs are never cast, as in Keras.
        """
        from lamina import ops
        from lamina.backend.dtypes import is_float_dtype
        from lamina.backend.keras_tensor import KerasTensor

        dtype = standardize_dtype(dtype)
        if not (ops.is_tensor(x) or isinstance(x, KerasTensor)):
            if not hasattr(x, "__array__"):
                return x
            try:
                x = ops.convert_to_tensor(x)
            except TypeError:
                x = ops.convert_to_tensor(x, dtype=dtype)
        x_dtype = standardize_dtype(x.dtype)
        if autocast and is_float_dtype(x_dtype) and x_dtype != dtype:
            x = ops.cast(x, dtype)
        return x

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class FloatDTypePolicy(DTypePolicy):
    """Keras's other name for a plain (float or mixed) `DTypePolicy`.

    Keras 3 keeps it as an alias; it compares equal to the `DTypePolicy` of the
    same name and prints as one.

    Example:
    >>> lamina.dtype_policies.FloatDTypePolicy("float16") == lamina.DTypePolicy(
    ...     "float16")
    True
    """


def is_quantized_name(name) -> bool:
    """Whether `name` names a quantized policy, e.g. `"int8_from_float32"`."""
    return isinstance(name, str) and name.startswith(QUANTIZATION_MODES)


def get(identifier) -> DTypePolicy:
    """A DTypePolicy from `None` (the global policy), a name, a config or a policy."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        from lamina.dtype_policies import deserialize

        policy = deserialize(identifier)
        if not isinstance(policy, DTypePolicy):
            raise ValueError(
                "Expected a dtype policy config such as {'class_name': "
                f"'DTypePolicy', 'config': {{'name': 'float32'}}}}; got {identifier!r}."
            )
        return policy
    if isinstance(identifier, str):
        if is_quantized_name(identifier):
            from lamina.dtype_policies.quantized_dtype_policy import (
                quantized_policy_from_name,
            )

            return quantized_policy_from_name(identifier)
        return DTypePolicy(identifier)
    try:
        return DTypePolicy(standardize_dtype(identifier))
    except (ValueError, KeyError, TypeError):
        # A ValueError, as in Keras (`Dense(3, dtype=123)` raises one too).
        raise ValueError(
            "Cannot interpret `dtype` argument: expected a dtype policy, a name "
            "such as 'float32' or 'mixed_bfloat16', a DTypePolicy, a policy "
            f"config or None; got {identifier!r} of type "
            f"{type(identifier).__name__}."
        ) from None


def _default_name() -> str:
    """The name `DTypePolicy()` takes: the global float policy's, else floatx."""
    policy = _GLOBAL_POLICY
    if policy is None or policy.quantization_mode is not None:
        return config.floatx()
    return policy.name


def set_dtype_policy(policy) -> None:
    """Set the policy new layers use by default, e.g. `"mixed_bfloat16"`.

    Args:
        policy: A policy name or a `DTypePolicy`; `None` goes back to the
            default (`floatx()`), where Keras raises.

    Raises:
        ValueError: for anything else.
    """
    global _GLOBAL_POLICY
    if policy is None:
        _GLOBAL_POLICY = None
        return
    resolved = None
    if isinstance(policy, (str, DTypePolicy)):
        resolved = get(policy)  # a bad name raises get's ValueError
    if resolved is None:
        raise ValueError(
            "Invalid `policy` argument for set_dtype_policy: expected a policy "
            "name such as 'mixed_bfloat16' or a DTypePolicy; got "
            f"{policy!r}."
        )
    _GLOBAL_POLICY = resolved


def dtype_policy() -> DTypePolicy:
    """The global policy (defaults to `floatx()`)."""
    return _GLOBAL_POLICY if _GLOBAL_POLICY is not None else DTypePolicy()
