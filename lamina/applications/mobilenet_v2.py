"""MobileNetV2 (Sandler et al., 2018): inverted residual blocks with linear
bottlenecks, with a width multiplier `alpha`."""

import warnings

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

BASE_WEIGHT_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
)
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
_IMAGENET_SIZES = (96, 128, 160, 192, 224)

# (filters, stride, expansion) of the 17 inverted residual blocks.
_BLOCKS = (
    (16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
    (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6),
    (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6),
)  # fmt: skip


def _rows_cols(shape, batched=False):
    """(rows, cols) of an image shape, `batched` when it has a batch axis."""
    if shape is None:
        return None, None
    first = int(batched) + int(backend.image_data_format() == "channels_first")
    return shape[first], shape[first + 1]


def MobileNetV2(
    input_shape=None,
    alpha: float = 1.0,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name=None,
):
    """Build MobileNetV2, optionally with Keras's ImageNet weights.

    Feed it images prepared by
    `lamina.applications.mobilenet_v2.preprocess_input`.

    Args:
        input_shape: Image shape without the batch axis, sides of at least
            32. Defaults to `None` (taken from `input_tensor`, else
            `(224, 224, 3)` with the top, else any size).
        alpha: Width multiplier of every layer. Imagenet weights exist for
            0.35, 0.5, 0.75, 1.0, 1.3 and 1.4. Defaults to `1.0`.
        include_top: Whether to end with global pooling and the
            `predictions` Dense layer. Defaults to `True`.
        weights: `None`, `"imagenet"` or the path of a weights file.
            Defaults to `"imagenet"`.
        input_tensor: Optional symbolic tensor to build the model on.
        pooling: Without the top: `None`, `"avg"` or `"max"`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the head; only `None` or
            `"softmax"` with pretrained weights. Defaults to `"softmax"`.
        name: The model's name. Defaults to `None`, which means
            `f"mobilenetv2_{alpha:0.2f}_{rows}"`.

    Returns:
        A functional `lamina.Model`.
    """
    imagenet_utils._check_weights(weights, include_top, classes)
    # 1. The default size follows the input tensor or shape, as in Keras.
    if input_tensor is not None and not backend.is_keras_tensor(input_tensor):
        raise TypeError(
            "`input_tensor` must be a symbolic tensor, e.g. the output of "
            f"lamina.Input(); got {type(input_tensor).__name__}."
        )
    if input_shape is not None and input_tensor is not None:
        tensor_cols = _rows_cols(input_tensor.shape, batched=True)[1]
        if tensor_cols != _rows_cols(input_shape)[1]:
            raise ValueError(
                "MobileNetV2: `input_shape` and `input_tensor` disagree on the "
                f"image width; got input_shape={input_shape}, "
                f"input_tensor.shape={tuple(input_tensor.shape)}."
            )
    if input_shape is None and input_tensor is not None:
        rows, cols = _rows_cols(input_tensor.shape, batched=True)
    else:
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
        if alpha not in _ALPHAS:
            raise ValueError(
                "If imagenet weights are being loaded, alpha must be one of "
                f"`0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; got alpha={alpha}."
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
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1

    # 2. Stem, 17 inverted residual blocks, final 1x1 convolution.
    x = layers.Conv2D(
        _make_divisible(32 * alpha, 8),
        kernel_size=3,
        strides=(2, 2),
        padding="same",
        use_bias=False,
        name="Conv1",
    )(img_input)
    x = _bn(channel_axis, "bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = _bn(channel_axis, "Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)

    # 3. Head or pooling.
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(
            x
        )
    x = imagenet_utils._top_or_pooling(x, include_top, pooling)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )

    if weights == "imagenet":
        suffix = "" if include_top else "_no_top"
        fname = (
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
            f"{float(alpha)}_{rows}{suffix}.h5"
        )
        # Keras publishes no hash for these files.
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHT_PATH + fname
        )
    return imagenet_utils._load_weights(model, weights)


def _bn(axis, name):
    return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name=name)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """1x1 expansion (not in block 0), 3x3 depthwise, 1x1 linear projection;
    a residual sum when shapes allow."""
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    in_channels = inputs.shape[channel_axis]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    if block_id:
        prefix = f"block_{block_id}_"
        x = layers.Conv2D(
            expansion * in_channels,
            kernel_size=1,
            padding="same",
            use_bias=False,
            activation=None,
            name=f"{prefix}expand",
        )(x)
        x = _bn(channel_axis, f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(
            padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad"
        )(x)
    x = layers.DepthwiseConv2D(
        kernel_size=3,
        strides=stride,
        activation=None,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = _bn(channel_axis, f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(
        pointwise_filters,
        kernel_size=1,
        padding="same",
        use_bias=False,
        activation=None,
        name=f"{prefix}project",
    )(x)
    x = _bn(channel_axis, f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _make_divisible(v, divisor, min_value=None):
    """`v` rounded to the nearest multiple of `divisor` (at least
    `min_value`), never more than 10% below `v`."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for MobileNetV2: "tf" mode of
    `imagenet_utils.preprocess_input` (scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
