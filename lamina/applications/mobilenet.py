"""MobileNet (Howard et al., 2017): depthwise separable convolutions, with a
width multiplier `alpha` and a depth multiplier."""

import warnings

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

BASE_WEIGHT_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
)
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
_IMAGENET_SIZES = (128, 160, 192, 224)

# (pointwise filters, strides) of the 13 depthwise separable blocks.
_BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
    (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip


def _rows_cols(shape):
    if shape is None:
        return None, None
    if backend.image_data_format() == "channels_first":
        return shape[1], shape[2]
    return shape[0], shape[1]


def MobileNet(
    input_shape=None,
    alpha: float = 1.0,
    depth_multiplier: int = 1,
    dropout: float = 1e-3,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name=None,
):
    """Build MobileNet (v1), optionally with Keras's ImageNet weights.

    Feed it images prepared by `lamina.applications.mobilenet.preprocess_input`.

    Args:
        input_shape: Image shape without the batch axis, sides of at least
            32. Defaults to `None` (`(224, 224, 3)` with the top, else any
            size).
        alpha: Width multiplier: every layer has `alpha` times the paper's
            filters. Imagenet weights exist for 0.25, 0.5, 0.75 and 1.0.
            Defaults to `1.0`.
        depth_multiplier: Depthwise channels per input channel (1 for
            imagenet weights). Defaults to `1`.
        dropout: Dropout rate before the classifier. Defaults to `1e-3`.
        include_top: Whether to end with the 1x1-convolution classifier.
            Defaults to `True`.
        weights: `None`, `"imagenet"` or the path of a weights file.
            Defaults to `"imagenet"`.
        input_tensor: Optional symbolic tensor to build the model on.
        pooling: Without the top: `None`, `"avg"` or `"max"`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the head; only `None` or
            `"softmax"` with pretrained weights. Defaults to `"softmax"`.
        name: The model's name. Defaults to `None`, which means
            `f"mobilenet_{alpha:0.2f}_{rows}"`.

    Returns:
        A functional `lamina.Model`.
    """
    imagenet_utils._check_weights(weights, include_top, classes)
    rows, cols = _rows_cols(input_shape)
    default_size = rows if rows == cols and rows in _IMAGENET_SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    rows, cols = _rows_cols(input_shape)
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError(
                "If imagenet weights are being loaded, depth multiplier must be 1; "
                f"got depth_multiplier={depth_multiplier}."
            )
        if alpha not in _ALPHA_TEXT:
            raise ValueError(
                "If imagenet weights are being loaded, alpha can be one of "
                f"`0.25`, `0.50`, `0.75` or `1.0` only; got alpha={alpha}."
            )
        if rows != cols or rows not in _IMAGENET_SIZES:
            rows = 224
            warnings.warn(
                "`input_shape` is undefined or non-square, or `rows` is not in "
                f"{list(_IMAGENET_SIZES)}. Weights for input shape (224, 224) "
                "will be loaded as the default.",
                stacklevel=2,
            )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)

    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(
            x, filters, alpha, depth_multiplier, (stride, stride), block_id
        )
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    x = imagenet_utils._top_or_pooling(x, include_top, pooling)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )

    if weights == "imagenet":
        suffix = "" if include_top else "_no_top"
        fname = f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf{suffix}.h5"
        # Keras publishes no hash for these files.
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHT_PATH + fname
        )
    return imagenet_utils._load_weights(model, weights)


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    """Stem: convolution (`alpha` times `filters`), BN, ReLU6."""
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    x = layers.Conv2D(
        int(filters * alpha),
        kernel,
        padding="same",
        use_bias=False,
        strides=strides,
        name="conv1",
    )(inputs)
    x = layers.BatchNormalization(axis=channel_axis, name="conv1_bn")(x)
    return layers.ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(
    inputs,
    pointwise_conv_filters,
    alpha,
    depth_multiplier=1,
    strides=(1, 1),
    block_id=1,
):
    """Depthwise 3x3 conv, BN, ReLU6, then pointwise 1x1 conv, BN, ReLU6.
    A strided block pads bottom/right by one and convolves 'valid' (TF's
    'same' alignment)."""
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    x = inputs
    if strides != (1, 1):
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D(
        (3, 3),
        padding="same" if strides == (1, 1) else "valid",
        depth_multiplier=depth_multiplier,
        strides=strides,
        use_bias=False,
        name=f"conv_dw_{block_id}",
    )(x)
    x = layers.BatchNormalization(axis=channel_axis, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(
        int(pointwise_conv_filters * alpha),
        (1, 1),
        padding="same",
        use_bias=False,
        strides=(1, 1),
        name=f"conv_pw_{block_id}",
    )(x)
    x = layers.BatchNormalization(axis=channel_axis, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for MobileNet: "tf" mode of
    `imagenet_utils.preprocess_input` (scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
