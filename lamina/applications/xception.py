"""Xception (Chollet, 2017): an Inception-like network built from depthwise
separable convolutions with residual connections."""

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
WEIGHTS_PATH = _BASE + "xception_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_PATH_NO_TOP = _BASE + "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
# (with top, without top) md5 hashes of Keras's published weight files.
_HASHES = ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97")


def Xception(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "xception",
):
    """Build Xception, optionally with Keras's ImageNet weights.

    Feed it images prepared by `lamina.applications.xception.preprocess_input`.

    Args:
        include_top: Whether to end with global average pooling and the
            `predictions` Dense layer. Defaults to `True`.
        weights: `None` (random initialization), `"imagenet"` (download
            Keras's pretrained file) or the path of a weights file. Defaults
            to `"imagenet"`.
        input_tensor: Optional symbolic tensor (e.g. from `lamina.Input`) to
            build the model on.
        input_shape: Image shape without the batch axis; must be
            `(299, 299, 3)` with `include_top=True` and imagenet weights,
            else sides of at least 71. Defaults to `None`.
        pooling: Without the top: `None` (4D feature maps), `"avg"` or
            `"max"` (global pooling to 2D). Defaults to `None`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the `predictions` layer; only
            `None` or `"softmax"` with pretrained weights. Defaults to
            `"softmax"`.
        name: The model's name. Defaults to `"xception"`.

    Returns:
        A functional `lamina.Model`.
    """
    imagenet_utils._check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=299,
        min_size=71,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)
    axis = 1 if backend.image_data_format() == "channels_first" else -1

    # 1. Entry flow: two plain convolutions, three strided separable blocks.
    x = layers.Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=axis, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        x = _strided_block(x, block, (filters, filters), axis, first_relu=block > 2)

    # 2. Middle flow: eight residual blocks of three separable convolutions.
    for block in range(5, 13):
        residual = x
        for i in (1, 2, 3):
            x = layers.Activation("relu", name=f"block{block}_sepconv{i}_act")(x)
            x = _sepconv_bn(x, 728, f"block{block}_sepconv{i}", axis)
        x = layers.add([x, residual])

    # 3. Exit flow.
    x = _strided_block(x, 13, (728, 1024), axis, first_relu=True)
    for i, filters in ((1, 1536), (2, 2048)):
        x = _sepconv_bn(x, filters, f"block14_sepconv{i}", axis)
        x = layers.Activation("relu", name=f"block14_sepconv{i}_act")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(
            x
        )
    x = imagenet_utils._top_or_pooling(x, include_top, pooling)
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )
    if weights == "imagenet":
        origin = WEIGHTS_PATH if include_top else WEIGHTS_PATH_NO_TOP
        return imagenet_utils._load_weights(
            model,
            weights,
            origin.rsplit("/", 1)[-1],
            origin,
            _HASHES[0] if include_top else _HASHES[1],
        )
    return imagenet_utils._load_weights(model, weights)


def _sepconv_bn(x, filters, name, axis):
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=axis, name=f"{name}_bn")(x)


def _strided_block(x, block, filters, axis, first_relu):
    """Two separable convolutions and a strided max pooling, plus a strided
    1x1 projection of the input."""
    # Keras leaves the shortcut's layers unnamed: their names come from the
    # counters, so they are created before the main branch's.
    residual = layers.Conv2D(filters[1], 1, strides=2, padding="same", use_bias=False)(
        x
    )
    residual = layers.BatchNormalization(axis=axis)(residual)
    prefix = f"block{block}_sepconv"
    if first_relu:
        x = layers.Activation("relu", name=f"{prefix}1_act")(x)
    x = _sepconv_bn(x, filters[0], f"{prefix}1", axis)
    x = layers.Activation("relu", name=f"{prefix}2_act")(x)
    x = _sepconv_bn(x, filters[1], f"{prefix}2", axis)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
    return layers.add([x, residual])


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for Xception: "tf" mode of
    `imagenet_utils.preprocess_input` (scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
