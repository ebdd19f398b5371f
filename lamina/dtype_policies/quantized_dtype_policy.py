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
                f"QuantizedDTypePolicy got an invalid mode={mode!r}; expected one "
                f"of {QUANTIZATION_MODES}."
            )
        if base_mode == "int8" and self.compute_dtype == "float16":
            raise ValueError(
                f"QuantizedDTypePolicy: mode={mode!r} does not work well with "
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
                "QuantizedFloat8DTypePolicy expects amax_history_length to be an "
                f"int; got {amax_history_length!r}."
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


def quantized_policy_from_name(name) -> QuantizedDTypePolicy:
    """The quantized policy a name such as `"int8_from_float32"` describes.

    Raises:
        ValueError: for a name that is not `<mode>_from_<source>`.
        NotImplementedError: for GPTQ and AWQ policies.
    """
    parts = name.split("_from_")
    if len(parts) != 2:
        raise ValueError(
            f"Cannot read the quantized dtype policy name {name!r}; expected "
            "'<mode>_from_<source policy>', e.g. 'int8_from_float32'."
        )
    mode, source_name = parts
    if mode.startswith(("gptq", "awq")):
        raise NotImplementedError(
            f"The dtype policy {name!r} asks for {mode.split('/')[0].upper()} "
            "quantization; lamina does not implement GPTQ or AWQ quantization. "
            "Supported: 'int8_from_<policy>', 'int4/<block_size>_from_<policy>' "
            "and 'float8_from_<policy>'."
        )
    if mode.startswith("float8"):
        return QuantizedFloat8DTypePolicy(mode, source_name)
    if mode.startswith("int4") and "/" in mode:
        return Int4DTypePolicy(mode, source_name)
    return QuantizedDTypePolicy(mode, source_name)
