"""Regression (examples sweep 7D, fully_convolutional_network): sparse
categorical cross-entropy on a probability map whose memory is channels-last
(softmax, then bilinear UpSampling2D) must backpropagate; torch's CPU
nll_loss2d backward rejected it with "grad_input must be contiguous"."""

import numpy as np
import torch

import lamina as keras
from lamina import losses


def _reference(labels, probs):
    p = probs / probs.sum(-1, keepdims=True)
    p = np.clip(p, 1e-7, 1 - 1e-7)
    picked = np.take_along_axis(p, labels[..., None].astype(int), -1)[..., 0]
    return -np.log(picked)


def test_sparse_ce_backward_on_channels_last_probabilities():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(2, 3, 3, 4)), dtype=torch.float32)
    logits.requires_grad_(True)
    # A (batch, C, H, W) tensor in channels-last memory, moved back to NHWC
    # by a permute: what UpSampling2D(interpolation="bilinear") returns.
    nchw = torch.softmax(logits, -1).permute(0, 3, 1, 2)
    nchw = nchw.contiguous(memory_format=torch.channels_last)
    probs = nchw.permute(0, 2, 3, 1)
    labels = rng.integers(0, 4, (2, 3, 3)).astype("float32")
    loss = losses.sparse_categorical_crossentropy(labels, probs)
    expected = _reference(labels, probs.detach().cpu().numpy())
    np.testing.assert_allclose(loss.detach().cpu().numpy(), expected, rtol=1e-5)
    loss.mean().backward()
    assert logits.grad is not None and logits.grad.shape == (2, 3, 3, 4)
    assert float(logits.grad.abs().sum()) > 0


def test_fit_segmentation_head_softmax_then_bilinear_upsampling():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, strides=8, padding="same")(inputs)
    x = keras.layers.Conv2D(4, 1, activation="softmax")(x)
    outputs = keras.layers.UpSampling2D(8, interpolation="bilinear")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy())
    rng = np.random.default_rng(1)
    images = rng.random((4, 16, 16, 3)).astype("float32")
    masks = rng.integers(0, 4, (4, 16, 16, 1)).astype("float32")
    history = model.fit(images, masks, epochs=1, batch_size=2, verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss) and 1.0 < loss < 2.0
