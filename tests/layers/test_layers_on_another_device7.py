"""The layers sessions 5-6 added (and the layers the first sweep left out)
compute on the device of their weights and inputs: after a first call on the
CPU the layer and lamina's device move to `meta`, which stands in for CUDA, and
every output must be there, in training and in inference. Quantized and LoRA
layers, augmentation layers (random in training, identity or not in
inference), audio front ends, ConvLSTM and the attention variants are covered;
the meta-device harness is the first sweep's (tests/layers/
test_layers_on_another_device.py).

Not here: SpectralNormalization, whose training call turns autocast off with
`torch.autocast(device_type)`, which has no `meta` type (it has `cuda`); and,
as in the first sweep, the hashing, lookup and text layers, which work on the
host by design."""

import pytest
import torch

from lamina import layers as L
from tests.layers.test_layers_on_another_device import _call, meta_device  # noqa: F401


def _quantized(layer, mode, shape):
    layer.build(shape)
    layer.quantize(mode)
    return layer


def _lora(layer, shape, rank=2):
    layer.build(shape)
    layer.enable_lora(rank)
    return layer


IMAGE = (2, 8, 8, 3)
CASES = [
    # core: quantized and LoRA variants, the new embedding
    (lambda: _quantized(L.Dense(3), "int8", (2, 4)), (2, 4)),
    (lambda: _quantized(L.Dense(4), "int4", (2, 4)), (2, 4)),
    (lambda: _quantized(L.Dense(3), "float8", (2, 4)), (2, 4)),
    (lambda: _lora(L.Dense(3), (2, 4)), (2, 4)),
    (lambda: _lora(_quantized(L.Dense(3), "int8", (2, 4)), (2, 4)), (2, 4)),
    (
        lambda: _quantized(L.EinsumDense("ab,bc->ac", output_shape=3), "int8", (2, 4)),
        (2, 4),
    ),
    (
        lambda: _quantized(L.EinsumDense("ab,bc->ac", output_shape=4), "int4", (2, 4)),
        (2, 4),
    ),
    (
        lambda: _quantized(
            L.EinsumDense("abc,cd->abd", output_shape=(None, 3)), "float8", (2, 5, 4)
        ),
        (2, 5, 4),
    ),
    (lambda: _lora(L.EinsumDense("ab,bc->ac", output_shape=3), (2, 4)), (2, 4)),
    (lambda: _quantized(L.Embedding(10, 3), "int8", (2, 5)), (2, 5), "int"),
    (lambda: _quantized(L.Embedding(10, 4), "int4", (2, 5)), (2, 5), "int"),
    (lambda: _lora(L.Embedding(10, 3), (2, 5)), (2, 5), "int"),
    (lambda: L.ReversibleEmbedding(10, 3), (2, 5), "int"),
    (lambda: L.ReversibleEmbedding(10, 3, tie_weights=False), (2, 5), "int"),
    (lambda: L.Identity(), (2, 3)),
    (lambda: L.Activation("gelu"), (2, 3)),
    (lambda: L.ActivityRegularization(l1=0.1), (2, 3)),
    (lambda: L.Lambda(lambda t: t * 2), (2, 3)),
    # convolution and pooling the first sweep did not have
    (lambda: L.Conv1DTranspose(3, 2, strides=2), (2, 4, 2)),
    (lambda: L.Conv3DTranspose(2, 2), (1, 3, 3, 3, 1)),
    (lambda: L.DepthwiseConv1D(3), (2, 6, 2)),
    (lambda: L.SeparableConv1D(3, 3), (2, 6, 2)),
    (lambda: L.Conv2D(4, 3, groups=2, dilation_rate=2), (2, 7, 7, 2)),
    (lambda: L.AveragePooling1D(2), (2, 6, 3)),
    (lambda: L.AveragePooling3D(2), (1, 4, 4, 4, 1)),
    (lambda: L.MaxPooling3D(2), (1, 4, 4, 4, 1)),
    (lambda: L.GlobalAveragePooling3D(), (1, 4, 4, 4, 2)),
    (lambda: L.GlobalMaxPooling1D(keepdims=True), (2, 5, 3)),
    (lambda: L.AdaptiveAveragePooling1D(3), (2, 7, 2)),
    (lambda: L.AdaptiveAveragePooling2D((2, 3)), (2, 7, 7, 2)),
    (lambda: L.AdaptiveAveragePooling3D(2), (1, 5, 5, 5, 1)),
    (lambda: L.AdaptiveMaxPooling1D(3), (2, 7, 2)),
    (lambda: L.AdaptiveMaxPooling2D((2, 3)), (2, 7, 7, 2)),
    (lambda: L.AdaptiveMaxPooling3D(2), (1, 5, 5, 5, 1)),
    # normalization, regularization
    (lambda: L.RMSNormalization(), (2, 5, 3)),
    (lambda: L.BatchNormalization(renorm=True), (4, 3)),
    (lambda: L.SpatialDropout2D(0.5), (2, 4, 4, 3)),
    (lambda: L.SpatialDropout3D(0.5), (1, 3, 3, 3, 2)),
    # recurrent
    (lambda: L.ConvLSTM1D(2, 3, padding="same"), (2, 3, 6, 2)),
    (lambda: L.ConvLSTM2D(2, 3, return_sequences=True), (1, 3, 6, 6, 1)),
    (lambda: L.ConvLSTM3D(1, 2), (1, 2, 4, 4, 4, 1)),
    (lambda: L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(2)])), (2, 5, 3)),
    (lambda: L.RNN(L.SimpleRNNCell(3), go_backwards=True), (2, 5, 3)),
    (lambda: L.LSTM(4, dropout=0.2, recurrent_dropout=0.2), (2, 5, 3)),
    (lambda: L.GRU(4, reset_after=False, unroll=True), (2, 5, 3)),
    (lambda: L.Bidirectional(L.GRU(2, return_sequences=True)), (2, 5, 3)),
    # attention
    (lambda: L.GroupQueryAttention(4, 4, 2), (2, 5, 8), "two"),
    (
        lambda: L.GroupedQueryAttention(4, 4, 2, dropout=0.1, flash_attention=False),
        (2, 5, 8),
        "two",
    ),
    (
        lambda: L.MultiHeadAttention(2, 2, dropout=0.1, flash_attention=False),
        (2, 4, 3),
        "two",
    ),
    (lambda: L.Attention(use_scale=True, score_mode="concat"), (2, 4, 3), "list"),
    # merging and reshaping
    (lambda: L.Subtract(), (2, 3), "list"),
    (lambda: L.Multiply(), (2, 3), "list"),
    (lambda: L.Average(), (2, 3), "list"),
    (lambda: L.Maximum(), (2, 3), "list"),
    (lambda: L.Minimum(), (2, 3), "list"),
    (lambda: L.Dot(axes=1, normalize=True), (2, 3), "list"),
    (lambda: L.Cropping2D(1), (2, 4, 4, 1)),
    (lambda: L.Cropping3D(1), (1, 4, 4, 4, 1)),
    (lambda: L.ZeroPadding1D(1), (2, 3, 2)),
    (lambda: L.ZeroPadding3D(1), (1, 2, 2, 2, 1)),
    (lambda: L.UpSampling1D(2), (2, 3, 2)),
    (lambda: L.UpSampling3D(2), (1, 2, 2, 2, 1)),
    # audio front ends
    (
        lambda: L.STFTSpectrogram(frame_length=16, frame_step=8, fft_length=16),
        (2, 64, 1),
    ),
    (
        lambda: L.STFTSpectrogram(
            mode="log", frame_length=16, frame_step=8, trainable=True
        ),
        (2, 64, 1),
    ),
    (
        lambda: L.MelSpectrogram(
            fft_length=32, sequence_stride=8, sequence_length=16, num_mel_bins=8
        ),
        (2, 64),
    ),
    # preprocessing: numeric
    (
        lambda: L.Normalization(axis=-1, mean=[0.0, 1.0, 2.0], variance=[1, 2, 3]),
        (2, 3),
    ),
    (lambda: L.Normalization(mean=1.0, variance=2.0, invert=True), (2, 3)),
    (lambda: L.Discretization(bin_boundaries=[0.0, 0.5], output_mode="one_hot"), (2,)),
    (lambda: L.CategoryEncoding(num_tokens=5, output_mode="count"), (2, 3), "int"),
    (lambda: L.CategoryEncoding(num_tokens=5, output_mode="one_hot"), (2,), "int"),
    # preprocessing: image, geometric
    (lambda: L.CenterCrop(4, 4), IMAGE),
    (lambda: L.Resizing(5, 6, crop_to_aspect_ratio=True), IMAGE),
    (lambda: L.Resizing(5, 5, pad_to_aspect_ratio=True), (2, 8, 6, 3)),
    (lambda: L.Resizing(4, 4, interpolation="nearest"), IMAGE),
    (lambda: L.Resizing(4, 4, interpolation="bicubic", antialias=True), IMAGE),
    (lambda: L.RandomCrop(4, 4), IMAGE),
    (lambda: L.RandomFlip("horizontal_and_vertical", seed=1), IMAGE),
    (lambda: L.RandomRotation(0.2, fill_mode="constant", seed=1), IMAGE),
    (lambda: L.RandomTranslation(0.2, 0.2), IMAGE),
    (lambda: L.RandomZoom(0.2, 0.1, fill_mode="nearest"), IMAGE),
    (lambda: L.RandomShear(0.2, 0.2), IMAGE),
    (lambda: L.RandomPerspective(seed=1), IMAGE),
    (lambda: L.RandomElasticTransform(seed=1), IMAGE),
    # preprocessing: image, colour and intensity
    (lambda: L.Rescaling([0.5, 1.0, 2.0]), IMAGE),
    (lambda: L.RandomBrightness(0.2), IMAGE),
    (lambda: L.RandomContrast(0.2), IMAGE),
    (lambda: L.RandomColorDegeneration(0.5), IMAGE),
    (lambda: L.RandomColorJitter((0, 1), 0.2, 0.2, 0.2, 0.1), IMAGE),
    (lambda: L.RandomGrayscale(0.5), IMAGE),
    (lambda: L.RandomHue(0.2, (0, 1)), IMAGE),
    (lambda: L.RandomSaturation(0.3), IMAGE),
    (lambda: L.RandomSharpness(0.3), IMAGE),
    (lambda: L.RandomPosterization(4, (0, 1)), IMAGE),
    (lambda: L.RandomInvert(0.5, (0, 1)), IMAGE),
    (lambda: L.RandomGaussianBlur(0.5), IMAGE),
    (lambda: L.RandomErasing(0.5, seed=1), IMAGE),
    (lambda: L.Solarization(0.5, 0.5, value_range=(0, 1)), IMAGE),
    (lambda: L.AutoContrast((0, 1)), IMAGE),
    (lambda: L.Equalization((0, 1)), IMAGE),
    (
        lambda: L.ContrastLimitedAdaptiveHistogramEqualization(
            (0, 1), tile_grid_size=(2, 2)
        ),
        IMAGE,
    ),
    # preprocessing: image, mixing and composite
    (lambda: L.MixUp(seed=1), IMAGE),
    (lambda: L.CutMix(seed=1), IMAGE),
    (lambda: L.AugMix((0, 1), seed=1), IMAGE),
    (lambda: L.RandAugment((0, 1), seed=1), IMAGE),
    (lambda: L.Pipeline([L.RandomFlip(), L.RandomBrightness(0.1, (0, 1))]), IMAGE),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{i}-{c[0]().__class__.__name__}" for i, c in enumerate(CASES)]
)
def test_layer_computes_where_its_weights_and_inputs_are(case, meta_device):  # noqa: F811
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


def test_mel_spectrogram_makes_its_filter_bank_once_per_device(
    meta_device,  # noqa: F811
    monkeypatch,
):
    layer = L.MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=8)
    made = []
    original = layer.linear_to_mel_weight_matrix

    def counting(**kwargs):
        made.append(kwargs["num_spectrogram_bins"])
        return original(**kwargs)

    monkeypatch.setattr(layer, "linear_to_mel_weight_matrix", counting)
    x = torch.rand(2, 64)
    layer(x)
    fresh = L.MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=8)
    torch.testing.assert_close(layer(x), fresh(x))  # the kept bank is the same
    meta_device()
    for _ in range(2):
        assert layer(x.to("meta")).device.type == "meta"
    assert made == [17, 17]  # once on the CPU, once on `meta`


BOX_LAYERS = [
    lambda: L.RandomFlip(bounding_box_format="xyxy", seed=1),
    lambda: L.RandomRotation(0.2, bounding_box_format="xyxy"),
    lambda: L.RandomTranslation(0.2, 0.2, bounding_box_format="xyxy"),
    lambda: L.RandomZoom(0.2, bounding_box_format="xyxy"),
    lambda: L.RandomShear(0.2, 0.2, bounding_box_format="xyxy"),
    lambda: L.RandomCrop(5, 5, bounding_box_format="xyxy"),
    lambda: L.CenterCrop(5, 5, bounding_box_format="xyxy"),
    lambda: L.Resizing(5, 6, bounding_box_format="xyxy", pad_to_aspect_ratio=True),
    lambda: L.RandomPerspective(bounding_box_format="xyxy"),
    lambda: L.MaxNumBoundingBoxes(3, bounding_box_format="xyxy"),
    lambda: L.MixUp(bounding_box_format="xyxy"),
    lambda: L.CutMix(),  # images and labels only (no boxes, as in Keras)
]


def _images_and_boxes(device, boxes=True):
    if not boxes:
        return {
            "images": torch.rand(2, 8, 8, 3).to(device),
            "labels": torch.rand(2, 3).to(device),
        }
    boxes = torch.tensor([[[1.0, 1, 4, 4], [2, 2, 6, 7]]] * 2)
    return {
        "images": torch.rand(2, 8, 8, 3).to(device),
        "bounding_boxes": {
            "boxes": boxes.to(device),
            "labels": torch.tensor([[1.0, 2]] * 2).to(device),
        },
        "labels": torch.rand(2, 3).to(device),
    }


def _tensor_devices(data):
    if isinstance(data, dict):
        return set().union(*(_tensor_devices(v) for v in data.values()))
    return {data.device.type}


@pytest.mark.parametrize(
    "make", BOX_LAYERS, ids=[make().__class__.__name__ for make in BOX_LAYERS]
)
def test_image_layers_move_boxes_and_labels_on_the_device(make, meta_device):  # noqa: F811
    layer = make()
    boxes = layer.bounding_box_format is not None
    layer(_images_and_boxes("cpu", boxes), training=True)
    meta_device()
    for training in (False, True):
        out = layer(_images_and_boxes("meta", boxes), training=training)
        assert _tensor_devices(out) == {"meta"}, training
