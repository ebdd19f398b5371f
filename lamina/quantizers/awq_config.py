"""AWQConfig: the settings of AWQ post-training weight quantization."""

from lamina.quantizers.gptq_config import _saved_structure
from lamina.quantizers.quantization_config import QuantizationConfig


class AWQConfig(QuantizationConfig):
    """Settings for AWQ: before 4-bit rounding, each input row of a kernel is
    multiplied by a scale grown from the largest activation that row sees, so
    the weights that meet large inputs lose less to rounding; the layer
    divides the scale out again (Lin et al., 2023, "AWQ: Activation-aware
    Weight Quantization for LLM Compression and Acceleration").

    `model.quantize("awq", config=AWQConfig(...))` runs the calibration data
    through the model block by block, records each Dense / EinsumDense
    layer's largest absolute input per feature, picks the scale exponent in
    `[0, 1]` (on a grid of `num_grid_points`) whose rounding error, weighted by
    those activations, is smallest, and stores unsigned 4-bit values two to a
    byte, with a float scale and uint8 zero point per output channel and group
    of `group_size` input rows, and the per-row `awq_scales`.

    Args:
        dataset: The calibration data: an iterable of strings (run through
            `tokenizer`) or of token arrays. Not saved.
        tokenizer: Object with a `tokenize(text)` method, used when `dataset`
            holds strings. Not saved.
        weight_bits: Must be `4`. Defaults to `4`.
        num_samples: Number of calibration windows. Defaults to `128`.
        sequence_length: Tokens per calibration window. Defaults to `512`.
        group_size: Input rows sharing a scale and zero point, a positive int,
            or `-1` for one group over all rows. Defaults to `128`.
        num_grid_points: Steps of the scale-exponent search. Defaults to `20`.
        quantization_layer_structure: `{"pre_block_layers": [...],
            "sequential_blocks": [...]}` as for `GPTQConfig`. Defaults to
            `None` (ask `model.get_quantization_layer_structure`).

    Raises:
        ValueError: for `weight_bits` other than 4, a `num_samples`,
            `sequence_length` or `num_grid_points` below 1, or a `group_size`
            of 0 or below -1.
    """

    def __init__(
        self,
        dataset,
        tokenizer,
        *,
        weight_bits: int = 4,
        num_samples: int = 128,
        sequence_length: int = 512,
        group_size: int = 128,
        num_grid_points: int = 20,
        quantization_layer_structure: dict | None = None,
    ):
        super().__init__()
        if weight_bits != 4:
            raise ValueError(
                "AWQ only supports 4-bit quantization; got "
                f"weight_bits={weight_bits!r}."
            )
        if num_samples <= 0:
            raise ValueError(
                f"AWQConfig: num_samples must be a positive integer; got {num_samples!r}."
            )
        if sequence_length <= 0:
            raise ValueError(
                "AWQConfig: sequence_length must be a positive integer; got "
                f"{sequence_length!r}."
            )
        if group_size < -1 or group_size == 0:
            raise ValueError(
                "Invalid group_size for AWQConfig: expected -1 (one group over "
                f"all input rows) or a positive integer; got {group_size!r}."
            )
        if num_grid_points <= 0:
            raise ValueError(
                "AWQConfig: num_grid_points must be a positive integer; got "
                f"{num_grid_points!r}."
            )
        self.dataset = dataset
        self.tokenizer = tokenizer
        self.weight_bits = weight_bits
        self.num_samples = num_samples
        self.sequence_length = sequence_length
        self.group_size = group_size
        self.num_grid_points = num_grid_points
        self.quantization_layer_structure = quantization_layer_structure

    @property
    def mode(self) -> str:
        return "awq"

    def dtype_policy_string(self) -> str:
        """The mode part of a quantized layer's policy name, e.g. `"awq/4/128"`."""
        return f"awq/{self.weight_bits}/{self.group_size}"

    def get_config(self):
        # Keras: the dataset and tokenizer serve one calibration; not saved.
        return {
            "dataset": None,
            "tokenizer": None,
            "weight_bits": self.weight_bits,
            "num_samples": self.num_samples,
            "sequence_length": self.sequence_length,
            "group_size": self.group_size,
            "num_grid_points": self.num_grid_points,
            "quantization_layer_structure": _saved_structure(
                self.quantization_layer_structure
            ),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
