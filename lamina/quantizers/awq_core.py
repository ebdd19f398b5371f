"""AWQ calibration over a model: the same token windows and block-by-block
walk as GPTQ (`gptq_core`), recording each layer's largest inputs and then
rounding its kernel, as Keras 3.15.1's `awq_core` does it."""

from lamina.quantizers import gptq_core
from lamina.quantizers.awq import AWQ


def awq_quantize(config, structure, filters=None):
    """Calibrate and quantize the AWQ-prepared layers of the blocks in
    `structure` with the windows of `config.dataset`."""
    from lamina.layers.core import _quantized_awq

    calibrate = gptq_core.calibrate_with(
        lambda kernel: AWQ(kernel, config),
        AWQ.update_activation_magnitudes,
        _quantized_awq.finish,
    )
    gptq_core.quantize_blockwise(config, structure, filters, "awq", calibrate)
