"""Inside a mixed layer's autocast region, a sub-layer computing in another
dtype computes in its own dtype, as Keras's AutocastScope gives it."""

import numpy as np
import torch

import lamina
from lamina import layers


class _Float32Head(layers.Layer):
    def build(self, input_shape):
        self.head = layers.Dense(4, dtype="float32")

    def call(self, x):
        return self.head(lamina.ops.cast(x, "float32"))


class _Heads(layers.Layer):
    def build(self, input_shape):
        self.body = layers.Dense(4, dtype="mixed_bfloat16")
        self.f32 = layers.Dense(4, dtype="float32")
        self.f16 = layers.Dense(4, dtype="mixed_float16")

    def call(self, x):
        hidden = self.body(x)
        return self.f32(hidden), self.f16(hidden), hidden


X = np.ones((2, 8), "float32")


def test_a_float32_sub_layer_of_a_mixed_layer_computes_in_float32():
    out = _Float32Head(dtype="mixed_bfloat16")(X)
    assert out.dtype == torch.float32
    layer = _Float32Head(dtype="mixed_bfloat16")
    layer(X)
    kernel = layer.head.kernel.detach()
    expected = torch.from_numpy(X).to(kernel.device) @ kernel + layer.head.bias.detach()
    np.testing.assert_allclose(
        layer(X).detach().cpu().numpy(), expected.cpu().numpy(), rtol=1e-6
    )


def test_sub_layers_of_other_policies_get_their_own_compute_dtype():
    f32, f16, hidden = _Heads(dtype="mixed_bfloat16")(X)
    assert (f32.dtype, f16.dtype, hidden.dtype) == (
        torch.float32,
        torch.float16,
        torch.bfloat16,
    )


def test_the_region_ends_with_the_call():
    _Heads(dtype="mixed_bfloat16")(X)
    plain = layers.Dense(4)
    assert plain(X).dtype == torch.float32
    assert not torch.is_autocast_enabled("cpu")
    assert not torch.is_autocast_enabled(lamina.backend.get_device().type)
