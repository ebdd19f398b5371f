"""Quantized dtype policies: `"<mode>_from_<source>"`, e.g. `"int8_from_float32"`."""

from lamina.dtype_policies._dtype_policy import QUANTIZATION_MODES, DTypePolicy


class QuantizedDTypePolicy(DTypePolicy):
    """The policy of a quantized layer: it computes in the dtypes of its
    source policy and stores its main weights in the quantized format.

    `layer.quantize("int8")` gives a layer the policy
    `QuantizedDTypePolicy("int8", "float32")`, named `"int8_from_float32"`;
    a layer created with that policy builds quantized weights directly (that
    is how quantized models load).

    Args:
        mode: The quantization mode, `"int8"`, `"int4"` or `"float8"` (also
            `"gptq"`, `"awq"` as names).
        source_name: Name of the float policy it was quantized from. Defaults
            to `None` (the global policy).

    Raises:
        ValueError: for an unknown mode, or int8 over a float16 compute dtype.

    Example:
    >>> policy = lamina.dtype_policies.QuantizedDTypePolicy("int8", "float32")
    >>> policy.name, policy.compute_dtype, policy.quantization_mode
    ('int8_from_float32', 'float32', 'int8')
    """

    def __init__(self, mode, source_name=None):
        if source_name is None:
            from lamina.dtype_policies._dtype_policy import dtype_policy

            source_name = dtype_policy().name
        super().__init__(source_name)
        base_mode = mode.split("/")[0] if isinstance(mode, str) else mode
        if base_mode not in QUANTIZATION_MODES:
            raise ValueError(
                f"Invalid quantization mode. QuantizedDTypePolicy got an invalid "
                f"mode={mode!r}; expected one of {QUANTIZATION_MODES}."
            )
        if base_mode == "int8" and self.compute_dtype == "float16":
            raise ValueError(
                f"QuantizedDTypePolicy: mode={mode!r} doesn't work well with "
                "the compute dtype float16; quantize from 'float32', 'bfloat16' "
                "or 'mixed_bfloat16' instead."
            )
        self._name = f"{mode}_from_{source_name}"
        self._source_name = source_name
        self._quantization_mode = base_mode

    @property
    def quantization_mode(self) -> str:
        return self._quantization_mode

    def __eq__(self, other):
        return (
            type(other) is type(self)
            and other.name == self.name
            and other.get_config() == self.get_config()
        )

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<{type(self).__name__} "{self._name}">'

    def get_config(self):
        return {"mode": self._quantization_mode, "source_name": self._source_name}


class QuantizedFloat8DTypePolicy(QuantizedDTypePolicy):
    """The policy of a float8-quantized layer, with the length of the window
    of absolute maxima its scales are computed from.

    Args:
        mode: `"float8"`.
        source_name: The float policy it was quantized from. Defaults to
            `None` (the global policy).
        amax_history_length: Window length. Defaults to `1024`.

    Raises:
        TypeError: if `amax_history_length` is not an int.
    """

    default_amax_history_length = 1024

    def __init__(self, mode, source_name=None, amax_history_length=1024):
        super().__init__(mode, source_name)
        if isinstance(amax_history_length, bool) or not isinstance(
            amax_history_length, int
        ):
            raise TypeError(
                "QuantizedFloat8DTypePolicy: `amax_history_length` must be an "
                f"integer. Got {amax_history_length!r}."
            )
        self._amax_history_length = amax_history_length

    @property
    def amax_history_length(self) -> int:
        """How many recent absolute maxima the float8 scales look at."""
        return self._amax_history_length

    def get_config(self):
        return {
            **super().get_config(),
            "amax_history_length": self._amax_history_length,
        }


class Int4DTypePolicy(QuantizedDTypePolicy):
    """The policy of an int4-quantized layer, with its group size in the mode
    (`"int4/128"`: groups of 128 input rows; `"int4/-1"`: one scale per output
    channel).

    Args:
        mode: `"int4/<block_size>"`.
        source_name: The float policy it was quantized from. Defaults to
            `None` (the global policy).

    Raises:
        ValueError: for a mode not of that form or a block size of 0 or < -1.
    """

    def __init__(self, mode, source_name=None):
        parts = mode.split("/") if isinstance(mode, str) else []
        block_size = None
        if len(parts) == 2 and parts[0] == "int4":
            try:
                block_size = int(parts[1])
            except ValueError:
                block_size = None
        if block_size is None or block_size == 0 or block_size < -1:
            raise ValueError(
                "Int4DTypePolicy expects mode 'int4/<block_size>' with block_size "
                f"-1 (per channel) or a positive int; got mode={mode!r}."
            )
        super().__init__(mode, source_name)
        self.mode = "int4"
        self.block_size = block_size

    def get_config(self):
        return {
            **super().get_config(),
            "mode": f"int4/{self.block_size}",
        }


class _CalibratedDTypePolicy(QuantizedDTypePolicy):
    """A policy whose mode is `"<algorithm>/<weight_bits>/<group_size>"`."""

    _algorithm = ""
    _bits = ()

    def __init__(self, mode, source_name=None):
        algorithm = self._algorithm
        expected = f"'{algorithm}/<weight_bits>/<group_size>'"
        parts = mode.split("/") if isinstance(mode, str) else []
        if len(parts) != 3 or parts[0] != algorithm:
            raise ValueError(
                f"Invalid mode for {type(self).__name__}: expected the format "
                f"{expected}, e.g. '{algorithm}/4/128'; got {mode!r}."
            )
        try:
            weight_bits, group_size = int(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(
                f"Invalid mode for {type(self).__name__}: <weight_bits> and "
                f"<group_size> must be integers in {expected}; got {mode!r}."
            ) from None
        if weight_bits not in self._bits:
            raise ValueError(
                f"Invalid weight_bits in mode {mode!r} for {type(self).__name__}: "
                f"supported values are {self._bits}; got {weight_bits}. "
                f"{type(self).__name__} only supports "
                f"{'/'.join(f'{b}-bit' for b in self._bits)} quantization."
            )
        if group_size < -1 or group_size == 0:
            raise ValueError(
                f"Invalid group_size in mode {mode!r} for {type(self).__name__}: "
                f"expected -1 (one group) or a positive integer; got {group_size}."
            )
        super().__init__(algorithm, source_name)
        self._name = f"{mode}_from_{self._source_name}"
        self.mode = algorithm
        self.weight_bits = weight_bits
        self.group_size = group_size

    def __eq__(self, other):
        return (
            super().__eq__(other)
            and self.weight_bits == other.weight_bits
            and self.group_size == other.group_size
        )

    def __hash__(self):
        return hash(self.name)

    def get_config(self):
        return {
            **super().get_config(),
            "mode": f"{self.mode}/{self.weight_bits}/{self.group_size}",
        }


class GPTQDTypePolicy(_CalibratedDTypePolicy):
    """The policy of a GPTQ-quantized layer, with its bits and group size in
    the mode (`"gptq/4/128"`: 4-bit weights, groups of 128 input rows;
    `"gptq/8/-1"`: 8 bits, one group over all rows). A layer built under it
    creates the GPTQ variables, so GPTQ models load.

    Args:
        mode: `"gptq/<weight_bits>/<group_size>"`, with weight_bits 2, 3, 4 or
            8 and group_size -1 or a positive int.
        source_name: The float policy it was quantized from. Defaults to
            `None` (the global policy).

    Raises:
        ValueError: for a mode not of that form or unsupported values.

    Example:
    >>> policy = lamina.dtype_policies.GPTQDTypePolicy("gptq/4/128", "float32")
    >>> policy.name, policy.weight_bits, policy.group_size
    ('gptq/4/128_from_float32', 4, 128)
    """

    _algorithm = "gptq"
    _bits = (2, 3, 4, 8)


class AWQDTypePolicy(_CalibratedDTypePolicy):
    """The policy of an AWQ-quantized layer, with its bits (always 4) and
    group size in the mode (`"awq/4/128"`; `"awq/4/-1"`: one group over all
    input rows). A layer built under it creates the AWQ variables.

    Args:
        mode: `"awq/4/<group_size>"`, group_size -1 or a positive int.
        source_name: The float policy it was quantized from. Defaults to
            `None` (the global policy).

    Raises:
        ValueError: for a mode not of that form or unsupported values.
    """

    _algorithm = "awq"
    _bits = (4,)


def quantized_policy_from_name(name) -> QuantizedDTypePolicy:
    """The quantized policy a name such as `"int8_from_float32"` describes.

    Raises:
        TypeError: if `name` is not a string.
        ValueError: for a name that does not start with a quantization mode or
            is not `<mode>_from_<source>`.
    """
    if not isinstance(name, str):
        raise TypeError(
            "A quantized dtype policy name must be a string such as "
            f"'int8_from_float32'; got {name!r} of type {type(name).__name__}."
        )
    if not name.startswith(QUANTIZATION_MODES):
        # Keras's words ("is incompatible with the current supported
        # quantization"), with the modes spelled out.
        raise ValueError(
            f"The policy name {name!r} is incompatible with the current supported "
            f"quantization: it must start with one of {QUANTIZATION_MODES}, e.g. "
            "'int8_from_float32'."
        )
    parts = name.split("_from_")
    if len(parts) != 2:
        raise ValueError(
            f"Cannot convert `policy` into a valid pair (mode, source_name): "
            f"cannot read the quantized dtype policy name {name!r}; expected "
            "'<mode>_from_<source policy>', e.g. 'int8_from_float32'."
        )
    mode, source_name = parts
    if mode.startswith("gptq"):
        return GPTQDTypePolicy(mode, source_name)
    if mode.startswith("awq"):
        return AWQDTypePolicy(mode, source_name)
    if mode.startswith("float8"):
        return QuantizedFloat8DTypePolicy(mode, source_name)
    if mode.startswith("int4") and "/" in mode:
        return Int4DTypePolicy(mode, source_name)
    return QuantizedDTypePolicy(mode, source_name)
