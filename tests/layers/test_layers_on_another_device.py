"""Built-in layers compute on the device of their weights and inputs, never
making tensors on the CPU inside `call` (which would fail on a GPU). The `meta`
device, which every torch build has, stands in for CUDA: weights and lamina's
device are moved there after a first call on the CPU, and every output must be
on `meta`, in training and in inference."""

import pytest
import torch

import lamina
from lamina import layers as L

CASES = [
    (lambda: L.Dense(3), (2, 4)),
    (lambda: L.Dense(3, activation="softmax"), (2, 4)),
    (lambda: L.EinsumDense("ab,bc->ac", output_shape=3), (2, 4)),
    (lambda: L.Embedding(10, 3), (2, 5), "int"),
    (lambda: L.Embedding(10, 3, mask_zero=True), (2, 5), "int"),
    (lambda: L.Conv1D(3, 2), (2, 6, 4)),
    (lambda: L.Conv2D(3, 3, padding="same"), (2, 6, 6, 2)),
    (lambda: L.Conv2DTranspose(3, 2, strides=2), (2, 4, 4, 2)),
    (lambda: L.DepthwiseConv2D(3), (2, 6, 6, 2)),
    (lambda: L.SeparableConv2D(3, 3), (2, 6, 6, 2)),
    (lambda: L.Conv3D(2, 2), (1, 4, 4, 4, 1)),
    (lambda: L.MaxPooling2D(), (2, 6, 6, 2)),
    (lambda: L.AveragePooling2D(2, padding="same"), (2, 5, 5, 2)),
    (lambda: L.MaxPooling1D(padding="same"), (2, 5, 3)),
    (lambda: L.GlobalAveragePooling1D(), (2, 5, 3)),
    (lambda: L.GlobalMaxPooling2D(), (2, 4, 4, 2)),
    (lambda: L.BatchNormalization(), (4, 3)),
    (lambda: L.LayerNormalization(), (2, 5, 3)),
    (lambda: L.GroupNormalization(groups=2), (2, 5, 4)),
    (lambda: L.UnitNormalization(), (2, 3)),
    (lambda: L.Dropout(0.5), (2, 3)),
    (lambda: L.Dropout(0.5, seed=1), (2, 3)),
    (lambda: L.GaussianNoise(0.1), (2, 3)),
    (lambda: L.SpatialDropout1D(0.5), (2, 4, 3)),
    (lambda: L.AlphaDropout(0.2), (2, 3)),
    (lambda: L.GaussianDropout(0.2), (2, 3)),
    (lambda: L.SimpleRNN(4), (2, 5, 3)),
    (lambda: L.LSTM(4), (2, 5, 3)),
    (lambda: L.GRU(4, return_sequences=True), (2, 5, 3)),
    (lambda: L.Bidirectional(L.LSTM(2)), (2, 5, 3)),
    (lambda: L.TimeDistributed(L.Dense(2)), (2, 5, 3)),
    (lambda: L.MultiHeadAttention(num_heads=2, key_dim=2), (2, 4, 3), "two"),
    (lambda: L.Attention(), (2, 4, 3), "list"),
    (lambda: L.AdditiveAttention(), (2, 4, 3), "list"),
    (lambda: L.Flatten(), (2, 3, 4)),
    (lambda: L.Reshape((12,)), (2, 3, 4)),
    (lambda: L.Permute((2, 1)), (2, 3, 4)),
    (lambda: L.RepeatVector(3), (2, 4)),
    (lambda: L.Cropping1D(1), (2, 5, 3)),
    (lambda: L.ZeroPadding2D(1), (2, 3, 3, 1)),
    (lambda: L.UpSampling2D(), (2, 3, 3, 1)),
    (lambda: L.UpSampling2D(interpolation="bilinear"), (2, 3, 3, 1)),
    (lambda: L.Add(), (2, 3), "list"),
    (lambda: L.Concatenate(), (2, 3), "list"),
    (lambda: L.Dot(axes=1), (2, 3), "list"),
    (lambda: L.ReLU(), (2, 3)),
    (lambda: L.LeakyReLU(), (2, 3)),
    (lambda: L.PReLU(), (2, 3)),
    (lambda: L.ELU(), (2, 3)),
    (lambda: L.Softmax(), (2, 3)),
    (lambda: L.Masking(), (2, 4, 3)),
    (lambda: L.Rescaling(0.5, offset=1.0), (2, 3)),
    (lambda: L.Normalization(mean=1.0, variance=2.0), (2, 3)),
    (lambda: L.Resizing(4, 4), (2, 3, 3, 1)),
    (lambda: L.Discretization(bin_boundaries=[0.0, 1.0]), (2, 3)),
    (lambda: L.CategoryEncoding(num_tokens=5), (2,), "int"),
    (lambda: L.RandomFlip(), (2, 4, 4, 1)),
    (lambda: L.RandomRotation(0.1), (2, 4, 4, 1)),
    (lambda: L.RandomZoom(0.1), (2, 4, 4, 1)),
]
# Not here: Hashing and the lookup layers, which hash and look up on the host
# by design (as Keras's do, in tf.data).


def _call(layer, x, kind, **kwargs):
    if kind == "list":
        return layer([x, x], **kwargs)
    if kind == "two":
        return layer(x, x, **kwargs)
    return layer(x, **kwargs)


@pytest.fixture
def meta_device():
    yield lambda: lamina.backend.set_device("meta")
    lamina.backend.set_device(None)


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{i}-{c[0]().__class__.__name__}" for i, c in enumerate(CASES)]
)
def test_layer_computes_where_its_weights_and_inputs_are(case, meta_device):
    make, shape = case[0], case[1]
    kind = case[2] if len(case) > 2 else "float"
    x = torch.randint(0, 4, shape) if kind == "int" else torch.rand(shape)
    layer = make()
    _call(layer, x, kind)  # built, and run once, on the CPU
    layer.to("meta")
    meta_device()
    for training in (False, True):
        kwargs = {"training": training} if layer._call_has_training_arg else {}
        out = _call(layer, x.to("meta"), kind, **kwargs)
        outputs = out if isinstance(out, (list, tuple)) else [out]
        assert {t.device.type for t in outputs} == {"meta"}, training
