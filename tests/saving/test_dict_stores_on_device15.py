"""`load_own_variables` from a plain dict store holding tensors reads them
without NumPy: LoRA saves its merged kernel as a tensor on the layer's device,
which NumPy cannot read off a GPU. The `meta` device stands in for the GPU
(NumPy cannot read it either)."""

import numpy as np

import lamina


def _lora_store():
    layer = lamina.layers.Dense(3)
    layer.build((None, 4))
    layer.enable_lora(2)
    store = {}
    layer.save_own_variables(store)
    return layer, store


def test_a_lora_store_loads_with_its_tensors_values():
    layer, store = _lora_store()
    assert type(store["0"]).__name__ == "Tensor"  # the merged kernel
    other = lamina.layers.Dense(3)
    other.build((None, 4))
    other.load_own_variables(store)
    x = np.random.default_rng(0).random((2, 4), dtype=np.float32)
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(other(x)),
        lamina.ops.convert_to_numpy(layer(x)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_a_lora_store_on_another_device_loads_without_numpy():
    lamina.backend.set_device("meta")
    try:
        _, store = _lora_store()
        other = lamina.layers.Dense(3)
        other.build((None, 4))
        other.load_own_variables(store)
        assert other.kernel.device.type == "meta"
    finally:
        lamina.backend.set_device(None)
