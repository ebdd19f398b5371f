"""GPTQConfig: the settings of GPTQ post-training weight quantization."""

from lamina.quantizers.quantization_config import QuantizationConfig

_WEIGHT_BITS = (2, 3, 4, 8)


class GPTQConfig(QuantizationConfig):
    """Settings for GPTQ: weights rounded to a few bits one input row at a
    time, each rounding error spread over the rows not yet rounded through the
    inverse Hessian of the layer's inputs (Frantar et al., 2022, "GPTQ:
    Accurate Post-Training Quantization for Generative Pre-trained
    Transformers").

    `model.quantize("gptq", config=GPTQConfig(...))` runs the calibration data
    through the model block by block, collects each Dense / EinsumDense
    layer's input statistics, and replaces its kernel with unsigned
    `weight_bits`-bit values (two to a byte for 4 bits), a float scale and a
    uint8 zero point per output channel and group of `group_size` input rows.

    Args:
        dataset: The calibration data: an iterable of strings (run through
            `tokenizer`) or of token arrays. Only `quantize()` reads it; it is
            not saved.
        tokenizer: Callable object with a `tokenize(text)` method, used when
            `dataset` holds strings. Not saved.
        weight_bits: Bits per quantized weight: 2, 3, 4 or 8. Defaults to `4`.
        num_samples: Number of calibration windows. Defaults to `128`.
        per_channel: One scale per output channel (`True`) or one for the
            whole kernel (`False`). Defaults to `True`.
        sequence_length: Tokens per calibration window. Defaults to `512`.
        hessian_damping: Fraction of the mean Hessian diagonal added to the
            diagonal before inverting it, in `[0, 1]`. Defaults to `0.01`.
        group_size: Input rows sharing a scale and zero point, a positive int,
            or `-1` for one group over all rows. Defaults to `128`.
        symmetric: A zero point fixed at the middle of the range (`True`) or
            fitted to each group's minimum (`False`). Defaults to `False`.
        activation_order: Quantize the rows with the largest Hessian diagonal
            first. Defaults to `False`.
        quantization_layer_structure: `{"pre_block_layers": [...],
            "sequential_blocks": [...]}`: the layers the token windows go
            through first, then the blocks quantized one after the other.
            Defaults to `None` (ask `model.get_quantization_layer_structure`).

    Raises:
        ValueError: for unsupported `weight_bits`, a `num_samples` or
            `sequence_length` below 1, `hessian_damping` outside `[0, 1]` or
            a `group_size` of 0 or below -1.
    """

    def __init__(
        self,
        dataset,
        tokenizer,
        *,
        weight_bits: int = 4,
        num_samples: int = 128,
        per_channel: bool = True,
        sequence_length: int = 512,
        hessian_damping: float = 0.01,
        group_size: int = 128,
        symmetric: bool = False,
        activation_order: bool = False,
        quantization_layer_structure: dict | None = None,
    ):
        super().__init__()
        if weight_bits not in _WEIGHT_BITS:
            raise ValueError(
                f"Unsupported weight_bits {weight_bits!r} for GPTQConfig; "
                f"supported values are {_WEIGHT_BITS}."
            )
        if num_samples <= 0:
            raise ValueError(
                f"GPTQConfig: num_samples must be a positive integer; got {num_samples!r}."
            )
        if sequence_length <= 0:
            raise ValueError(
                "GPTQConfig: sequence_length must be a positive integer; got "
                f"{sequence_length!r}."
            )
        if hessian_damping < 0 or hessian_damping > 1:
            raise ValueError(
                "GPTQConfig: hessian_damping must be between 0 and 1; got "
                f"{hessian_damping!r}."
            )
        if group_size < -1 or group_size == 0:
            raise ValueError(
                "Invalid group_size. Supported values are -1 (one group over "
                "all input rows) or a positive integer for GPTQConfig; got "
                f"{group_size!r}."
            )
        self.dataset = dataset
        self.tokenizer = tokenizer
        self.num_samples = num_samples
        self.per_channel = per_channel
        self.sequence_length = sequence_length
        self.hessian_damping = hessian_damping
        self.weight_bits = weight_bits
        self.group_size = group_size
        self.symmetric = symmetric
        self.activation_order = activation_order
        self.quantization_layer_structure = quantization_layer_structure

    @property
    def mode(self) -> str:
        return "gptq"

    def dtype_policy_string(self) -> str:
        """The mode part of a quantized layer's policy name, e.g. `"gptq/4/128"`."""
        return f"gptq/{self.weight_bits}/{self.group_size}"

    def get_config(self):
        # Keras: the dataset and tokenizer serve one calibration; not saved.
        return {
            "dataset": None,
            "tokenizer": None,
            "weight_bits": self.weight_bits,
            "num_samples": self.num_samples,
            "per_channel": self.per_channel,
            "sequence_length": self.sequence_length,
            "hessian_damping": self.hessian_damping,
            "group_size": self.group_size,
            "symmetric": self.symmetric,
            "activation_order": self.activation_order,
            "quantization_layer_structure": _saved_structure(
                self.quantization_layer_structure
            ),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _saved_structure(structure):
    """The structure as a config holds it: layers are live objects that a
    config cannot hold (Keras 3.15.1 recurses forever serializing them), so a
    structure naming layers is saved as `None`; it only served calibration."""
    from lamina.layers.layer import Layer

    if structure is None:
        return None
    for value in structure.values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, Layer):
                return None
    return structure
