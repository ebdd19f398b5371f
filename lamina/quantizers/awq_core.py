"""AWQ calibration over a model: the same token windows and block-by-block
walk as GPTQ (`gptq_core`), recording each layer's largest inputs and then
rounding its kernel, as Keras 3.15.1's `awq_core` does it."""

from lamina.quantizers import gptq_core
from lamina.quantizers.awq import AWQ


def _calibrate_block(config):
    from lamina.layers.core import _quantized_awq, _quantized_gptq

    def calibrate(block, layers, inputs):
        states = {
            name: AWQ(_quantized_gptq.float_kernel(layer), config)
            for name, layer in layers.items()
        }

        def update(name, x):
            state = states[name]
            state.update_activation_magnitudes(x.reshape(-1, state.rows))

        with gptq_core.stream_inputs(layers, update):
            for x in inputs:
                block(gptq_core._as_batch(x))
        for name, layer in layers.items():
            _quantized_awq.finish(layer, *states.pop(name).quantize())

    return calibrate


def awq_quantize(config, structure, filters=None):
    """Calibrate and quantize the AWQ-prepared layers of the blocks in
    `structure` with the windows of `config.dataset`."""
    gptq_core.check_calibration_inputs(config, structure, "awq")
    dataloader = gptq_core.get_dataloader(
        config.tokenizer,
        config.sequence_length,
        config.dataset,
        num_samples=config.num_samples,
    )
    gptq_core.run_blockwise(
        dataloader[: config.num_samples],
        config,
        structure,
        filters,
        "awq",
        _calibrate_block(config),
    )
