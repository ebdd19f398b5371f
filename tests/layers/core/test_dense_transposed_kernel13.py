"""Dense with a narrow kernel multiplies by a transposed copy of it on the CPU
for large enough inputs (MKL is much faster with that layout); the values,
gradients and saved kernel are those of the plain product."""

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.core import dense as dense_module


@pytest.mark.parametrize(
    "in_dim, units, rows",
    [(64, 10, 256), (512, 10, 32), (1600, 2, 11), (32, 12, None), (64, 1, None)],
)
def test_transposed_kernel_applies_to_narrow_heads_on_large_inputs(in_dim, units, rows):
    if not torch.backends.mkl.is_available():
        rows = None
    assert dense_module._transposed_kernel_rows(in_dim, units) == rows
    layer = lamina.layers.Dense(units)
    layer.build((None, in_dim))
    assert layer._transposed_kernel_rows == rows


def test_transposed_kernel_gives_the_plain_values_and_gradients():
    torch.manual_seed(0)
    layer = lamina.layers.Dense(10, activation="softmax")
    layer.build((None, 64))
    x = torch.randn(512, 64, device=lamina.backend.get_device(), requires_grad=True)
    out = layer(x)
    out.square().sum().backward()
    kernel, bias = layer.kernel.detach().clone(), layer.bias.detach().clone()
    x_plain = x.detach().clone().requires_grad_()
    k_plain = kernel.clone().requires_grad_()
    b_plain = bias.clone().requires_grad_()
    expected = torch.softmax(torch.addmm(b_plain, x_plain, k_plain), -1)
    expected.square().sum().backward()
    np.testing.assert_allclose(
        out.detach().cpu(), expected.detach().cpu(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        layer.kernel.grad.cpu(), k_plain.grad.cpu(), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(x.grad.cpu(), x_plain.grad.cpu(), rtol=1e-4, atol=1e-6)
    # The kernel itself stays Keras's (in, out), contiguous.
    assert tuple(layer.kernel.shape) == (64, 10) and layer.kernel.is_contiguous()


def test_a_model_with_a_narrow_head_fits_and_predicts_the_same_in_both_layouts(
    monkeypatch,
):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 64)).astype("float32")
    y = rng.integers(0, 10, size=600)

    def run():
        lamina.utils.set_random_seed(3)
        model = lamina.Sequential(
            [
                lamina.Input((64,)),
                lamina.layers.Dense(64, "relu"),
                lamina.layers.Dense(10),
            ]
        )
        model.compile("adam", lamina.losses.SparseCategoricalCrossentropy(True))
        history = model.fit(x, y, batch_size=300, epochs=2, shuffle=False, verbose=0)
        rows = model.layers[-1]._transposed_kernel_rows
        return history.history["loss"], model.predict(x, verbose=0), rows

    losses, predictions, rows = run()
    if torch.backends.mkl.is_available():
        assert rows == 256  # batches of 300 rows take the transposed kernel
    monkeypatch.setattr(dense_module, "_TRANSPOSED_KERNEL_UNITS", range(0))
    plain_losses, plain_predictions, plain_rows = run()
    assert plain_rows is None
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-5)
    np.testing.assert_allclose(predictions, plain_predictions, rtol=1e-4, atol=1e-5)
