"""Quantization configs: which quantizers `layer.quantize(...)` uses, by mode."""

from lamina.dtype_policies._dtype_policy import QUANTIZATION_MODES


def _serialize(obj):
    from lamina.saving.serialization_lib import serialize_keras_object

    return serialize_keras_object(obj)


def _deserialize(config):
    from lamina.saving.serialization_lib import deserialize_keras_object

    return deserialize_keras_object(config, kind="quantizer")


class QuantizationConfig:
    """Base class of quantization configs; subclasses name a `mode`.

    Args:
        weight_quantizer: Quantizer for the weights, or `None` for the mode's
            default.
        activation_quantizer: Quantizer for the inputs, or `None` for
            weight-only quantization.
    """

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        self.weight_quantizer = weight_quantizer
        self.activation_quantizer = activation_quantizer

    @property
    def mode(self) -> str:
        """The quantization mode (`"int8"`, ...); subclasses define it."""
        raise NotImplementedError(
            "QuantizationConfig is a base class without a mode; use "
            "Int8QuantizationConfig, Int4QuantizationConfig or "
            "Float8QuantizationConfig."
        )

    def get_config(self):
        return {
            "weight_quantizer": _serialize(self.weight_quantizer),
            "activation_quantizer": _serialize(self.activation_quantizer),
        }

    @classmethod
    def from_config(cls, config):
        return cls(
            weight_quantizer=_deserialize(config.get("weight_quantizer")),
            activation_quantizer=_deserialize(config.get("activation_quantizer")),
        )

    @staticmethod
    def weight_quantizer_or_default(config, default):
        """`config.weight_quantizer` if set, else `default`."""
        if config is not None and config.weight_quantizer is not None:
            return config.weight_quantizer
        return default

    @staticmethod
    def activation_quantizer_or_default(config, default):
        """`config.activation_quantizer` (even `None`) if a config is given,
        else `default`."""
        if config is not None:
            return config.activation_quantizer
        return default


class Int8QuantizationConfig(QuantizationConfig):
    """Int8 quantization: int8 weights with one scale per output channel and,
    by default, inputs quantized per row at call time.

    Args:
        weight_quantizer: Quantizer for the weights (its `output_dtype` must be
            `"int8"`). Defaults to `None` (`AbsMaxQuantizer` over the input
            axes).
        activation_quantizer: Quantizer for the inputs, `None` for weight-only
            quantization. Defaults to `"default"` (`AbsMaxQuantizer()`).

    Raises:
        ValueError: if the weight quantizer does not produce int8.
    """

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        from lamina.quantizers.quantizers import AbsMaxQuantizer

        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        if weight_quantizer is not None and weight_quantizer.output_dtype != "int8":
            raise ValueError(
                "Int8QuantizationConfig needs a weight_quantizer with "
                f"output_dtype='int8'; got output_dtype="
                f"{weight_quantizer.output_dtype!r}."
            )

    @property
    def mode(self) -> str:
        return "int8"


class Int4QuantizationConfig(QuantizationConfig):
    """Int4 quantization: int4 weights packed two per byte, either one scale
    per output channel or, in groups of `block_size` contracted rows, a scale
    and a zero point per group; inputs stay float unless an activation
    quantizer is given.

    Args:
        weight_quantizer: Quantizer for the weights (value range `(-8, 7)`,
            output dtype int8). Defaults to `None`.
        activation_quantizer: Defaults to `"default"`, which means `None`
            (weight-only) for int4.
        block_size: Rows per group for sub-channel quantization; `None` or
            `-1` for one scale per output channel. Defaults to `128`.

    Raises:
        ValueError: for a bad `block_size`, custom quantizers together with
            sub-channel groups, or a weight quantizer of the wrong range.
    """

    def __init__(
        self, weight_quantizer=None, activation_quantizer="default", block_size=128
    ):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = None
        super().__init__(weight_quantizer, activation_quantizer)
        if block_size is not None and block_size != -1 and block_size <= 0:
            raise ValueError(
                "Int4QuantizationConfig: block_size must be None, -1 or a "
                f"positive int; got block_size={block_size!r}."
            )
        self.block_size = block_size
        sub_channel = block_size is not None and block_size > 0
        if sub_channel and (
            weight_quantizer is not None or self.activation_quantizer is not None
        ):
            raise ValueError(
                "Int4QuantizationConfig: sub-channel quantization (block_size > 0) "
                "does not support custom quantizers. Set block_size=None (per "
                "channel) or "
                f"leave the quantizers out; got block_size={block_size!r}."
            )
        if weight_quantizer is not None:
            if tuple(weight_quantizer.value_range) != (-8, 7):
                raise ValueError(
                    "Int4QuantizationConfig needs a weight_quantizer with "
                    f"value_range=(-8, 7); got {weight_quantizer.value_range!r}."
                )
            if weight_quantizer.output_dtype != "int8":
                raise ValueError(
                    "Int4QuantizationConfig needs a weight_quantizer with "
                    "output_dtype='int8'; got "
                    f"{weight_quantizer.output_dtype!r}."
                )

    @property
    def mode(self) -> str:
        return "int4"

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}

    @classmethod
    def from_config(cls, config):
        return cls(
            weight_quantizer=_deserialize(config.get("weight_quantizer")),
            activation_quantizer=_deserialize(config.get("activation_quantizer")),
            # Keras: configs written before block_size existed were per channel.
            block_size=config.get("block_size", None),
        )


class Float8QuantizationConfig(QuantizationConfig):
    """Float8 training with delayed scaling (`quantize("float8")`); it takes
    no quantizers."""

    def __init__(self):
        super().__init__(None, None)

    @property
    def mode(self) -> str:
        return "float8"

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls()


def validate_and_resolve_config(mode, config) -> QuantizationConfig:
    """The config `quantize(mode, config)` means: a mode string gives its
    default config; a config's own mode must agree with `mode`.

    Raises:
        ValueError: for an unknown mode, neither mode nor config, a config that
            is not a `QuantizationConfig`, or a mode that contradicts it.
    """
    if isinstance(config, str):
        mode, config = config, None
    _check_mode(mode)
    if config is None:
        defaults = {
            "int8": Int8QuantizationConfig,
            "int4": Int4QuantizationConfig,
            "float8": Float8QuantizationConfig,
        }
        if mode in ("gptq", "awq"):
            # Keras's words: tests match "must pass a `GPTQConfig`".
            article = "an" if mode == "awq" else "a"
            raise ValueError(
                f"For {mode.upper()}, you must pass {article} `{mode.upper()}Config` "
                f"object in the `config` argument: quantize({mode!r}, config="
                f"{mode.upper()}Config(dataset=..., tokenizer=...))."
            )
        if mode is None:
            raise ValueError(
                "quantize() needs a `mode` (e.g. 'int8') or a `config`; got neither."
            )
        return defaults[mode]()
    if not isinstance(config, QuantizationConfig):
        raise ValueError(
            "quantize() expects `config` to be a QuantizationConfig such as "
            f"Int8QuantizationConfig(); got {config!r} of type "
            f"{type(config).__name__}."
        )
    if mode is not None and config.mode != mode:
        raise ValueError(
            f"Contradictory arguments to quantize(): mode={mode!r} but "
            f"config.mode={config.mode!r}."
        )
    _check_mode(config.mode)
    # Keras: a config claiming mode 'gptq' ('awq') must be a GPTQConfig
    # (AWQConfig), which carries the calibration dataset.
    if config.mode in ("gptq", "awq"):
        from lamina.quantizers.awq_config import AWQConfig
        from lamina.quantizers.gptq_config import GPTQConfig

        expected = GPTQConfig if config.mode == "gptq" else AWQConfig
        if not isinstance(config, expected):
            raise ValueError(
                f"Mode {config.mode!r} requires a valid `config` argument of type "
                f"`{expected.__name__}`; got a {type(config).__name__}. Pass "
                f"{expected.__name__}(dataset=..., tokenizer=...)."
            )
    return config


def _check_mode(mode):
    if mode is not None and mode not in QUANTIZATION_MODES:
        raise ValueError(
            f"Invalid quantization mode. Expected one of {QUANTIZATION_MODES}; "
            f"got {mode!r}."
        )
