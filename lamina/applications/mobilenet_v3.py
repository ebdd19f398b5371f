"""MobileNetV3 (Howard et al., 2019): inverted residual blocks with
squeeze-and-excite and hard-swish, in a Small and a Large variant."""

import warnings

from lamina import backend, layers, ops
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

BASE_WEIGHT_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
)
# (with top, without top) md5 hashes of Keras's published weight files.
WEIGHTS_HASHES = {
    "large_224_0.75_float": (
        "765b44a33ad4005b3ac83185abf1d0eb",
        "40af19a13ebea4e2ee0c676887f69a2e",
    ),
    "large_224_1.0_float": (
        "59e551e166be033d707958cf9e29a6a7",
        "07fb09a5933dd0c8eaafa16978110389",
    ),
    "large_minimalistic_224_1.0_float": (
        "675e7b876c45c57e9e63e6d90a36599c",
        "ec5221f64a2f6d1ef965a614bdae7973",
    ),
    "small_224_0.75_float": (
        "cb65d4e5be93758266aa0a7f2c6708b7",
        "ebdb5cc8e0b497cd13a7c275d475c819",
    ),
    "small_224_1.0_float": (
        "8768d4c2e7dee89b9d02b2d03d65d862",
        "d3e8ec802a04aa4fc771ee12a9a9b836",
    ),
    "small_minimalistic_224_1.0_float": (
        "99cd97fb2fcdad2bf028eb838de69e37",
        "cde8136e733e811080d9fcd8a252f7e4",
    ),
}

# Blocks as (expansion, filters, kernel, stride, squeeze-excite, activation);
# kernel "k" and activation "act" follow `minimalistic`, filters scale by alpha.
_SMALL = (
    (1, 16, 3, 2, True, "relu"),
    (72.0 / 16, 24, 3, 2, False, "relu"),
    (88.0 / 24, 24, 3, 1, False, "relu"),
    (4, 40, "k", 2, True, "act"),
    (6, 40, "k", 1, True, "act"),
    (6, 40, "k", 1, True, "act"),
    (3, 48, "k", 1, True, "act"),
    (3, 48, "k", 1, True, "act"),
    (6, 96, "k", 2, True, "act"),
    (6, 96, "k", 1, True, "act"),
    (6, 96, "k", 1, True, "act"),
)
_LARGE = (
    (1, 16, 3, 1, False, "relu"),
    (4, 24, 3, 2, False, "relu"),
    (3, 24, 3, 1, False, "relu"),
    (3, 40, "k", 2, True, "relu"),
    (3, 40, "k", 1, True, "relu"),
    (3, 40, "k", 1, True, "relu"),
    (6, 80, 3, 2, False, "act"),
    (2.5, 80, 3, 1, False, "act"),
    (2.3, 80, 3, 1, False, "act"),
    (2.3, 80, 3, 1, False, "act"),
    (6, 112, 3, 1, True, "act"),
    (6, 112, 3, 1, True, "act"),
    (6, 160, "k", 2, True, "act"),
    (6, 160, "k", 1, True, "act"),
    (6, 160, "k", 1, True, "act"),
)


def _relu(x):
    return layers.ReLU()(x)


def _hard_sigmoid(x):
    # Keras: ReLU6(x + 3) / 6, the additions as ops (not layers) in the graph.
    return ops.multiply(layers.ReLU(6.0)(ops.add(x, 3.0)), 1.0 / 6.0)


def _hard_swish(x):
    return layers.Activation("hard_swish")(x)


def _depth(v, divisor=8, min_value=None):
    """`v` rounded to a multiple of `divisor`, never 10% below `v`."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _bn(axis, name):
    return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name=name)


def _se_block(inputs, filters, se_ratio, prefix):
    """Squeeze-and-excite: gate each channel by a function of its mean."""
    x = layers.GlobalAveragePooling2D(
        keepdims=True, name=f"{prefix}squeeze_excite_avg_pool"
    )(inputs)
    x = layers.Conv2D(
        _depth(filters * se_ratio),
        kernel_size=1,
        padding="same",
        name=f"{prefix}squeeze_excite_conv",
    )(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(
        filters, kernel_size=1, padding="same", name=f"{prefix}squeeze_excite_conv_1"
    )(x)
    x = _hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(
    x, expansion, filters, kernel_size, stride, se_ratio, activation, block_id
):
    """1x1 expansion (not in block 0), depthwise conv, optional
    squeeze-excite, 1x1 linear projection, residual sum when shapes allow."""
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    shortcut = x
    infilters = x.shape[channel_axis]
    prefix = "expanded_conv_"
    if block_id:
        prefix = f"expanded_conv_{block_id}_"
        x = layers.Conv2D(
            _depth(infilters * expansion),
            kernel_size=1,
            padding="same",
            use_bias=False,
            name=f"{prefix}expand",
        )(x)
        x = _bn(channel_axis, f"{prefix}expand_bn")(x)
        x = activation(x)
    if stride == 2:
        x = layers.ZeroPadding2D(
            padding=imagenet_utils.correct_pad(x, kernel_size),
            name=f"{prefix}depthwise_pad",
        )(x)
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding="same" if stride == 1 else "valid",
        use_bias=False,
        name=f"{prefix}depthwise",
    )(x)
    x = _bn(channel_axis, f"{prefix}depthwise_bn")(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, _depth(infilters * expansion), se_ratio, prefix)
    x = layers.Conv2D(
        filters, kernel_size=1, padding="same", use_bias=False, name=f"{prefix}project"
    )(x)
    x = _bn(channel_axis, f"{prefix}project_bn")(x)
    if stride == 1 and infilters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


def _stack(blocks, alpha):
    def stack_fn(x, kernel, activation, se_ratio):
        for block_id, (expansion, filters, k, stride, se, act) in enumerate(blocks):
            x = _inverted_res_block(
                x,
                expansion,
                _depth(filters * alpha),
                kernel if k == "k" else k,
                stride,
                se_ratio if se else None,
                activation if act == "act" else _relu,
                block_id,
            )
        return x

    return stack_fn


def _image_rows_cols(input_shape, input_tensor):
    first = 1 if backend.image_data_format() == "channels_first" else 0
    if input_shape is not None:
        if input_tensor is not None and (
            input_tensor.shape[first + 2] != input_shape[first + 1]
        ):
            raise ValueError(
                "MobileNetV3: `input_shape` and `input_tensor` disagree on the "
                f"image width; got input_shape={input_shape}, "
                f"input_tensor.shape={tuple(input_tensor.shape)}."
            )
        return input_shape[first], input_shape[first + 1], input_shape
    if input_tensor is not None:
        rows, cols = input_tensor.shape[first + 1], input_tensor.shape[first + 2]
    else:
        rows = cols = None
    shape = (3, rows, cols) if first else (rows, cols, 3)
    return rows, cols, shape


def MobileNetV3(
    stack_fn,
    last_point_ch,
    input_shape=None,
    alpha: float = 1.0,
    model_type: str = "large",
    minimalistic: bool = False,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    classes: int = 1000,
    pooling=None,
    dropout_rate: float = 0.2,
    classifier_activation="softmax",
    include_preprocessing: bool = True,
    name=None,
):
    """Build a MobileNetV3 from `stack_fn(x, kernel, activation, se_ratio)`;
    `MobileNetV3Small` and `MobileNetV3Large` describe the arguments."""
    imagenet_utils._check_weights(weights, include_top, classes)
    if input_tensor is not None and not backend.is_keras_tensor(input_tensor):
        raise TypeError(
            "`input_tensor` must be a symbolic tensor, e.g. the output of "
            f"lamina.Input(); got {type(input_tensor).__name__}."
        )
    rows, cols, input_shape = _image_rows_cols(input_shape, input_tensor)
    if rows and cols and (rows < 32 or cols < 32):
        raise ValueError(
            f"Input size must be at least 32x32; got `input_shape={input_shape}`."
        )
    if weights == "imagenet":
        if (not minimalistic and alpha not in (0.75, 1.0)) or (
            minimalistic and alpha != 1.0
        ):
            raise ValueError(
                "If imagenet weights are being loaded, alpha can be one of `0.75`, "
                "`1.0` for non minimalistic or `1.0` for minimalistic only; got "
                f"alpha={alpha}, minimalistic={minimalistic}."
            )
        if rows != cols or rows != 224:
            warnings.warn(
                "`input_shape` is undefined or non-square, or `rows` is not 224. "
                "Weights for input shape (224, 224) will be loaded as the default.",
                stacklevel=3,
            )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)
    channel_axis = 1 if backend.image_data_format() == "channels_first" else -1
    if minimalistic:
        kernel, activation, se_ratio = 3, _relu, None
    else:
        kernel, activation, se_ratio = 5, _hard_swish, 0.25

    # 1. Stem (with the [-1, 1] rescaling built in), blocks, last 1x1 conv.
    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(
        16, kernel_size=3, strides=(2, 2), padding="same", use_bias=False, name="conv"
    )(x)
    x = _bn(channel_axis, "conv_bn")(x)
    x = activation(x)
    x = stack_fn(x, kernel, activation, se_ratio)
    last_conv_ch = _depth(x.shape[channel_axis] * 6)
    if alpha > 1.0:
        last_point_ch = _depth(last_point_ch * alpha)
    x = layers.Conv2D(
        last_conv_ch, kernel_size=1, padding="same", use_bias=False, name="conv_1"
    )(x)
    x = _bn(channel_axis, "conv_1_bn")(x)
    x = activation(x)

    # 2. Head or pooling.
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(
            last_point_ch, kernel_size=1, padding="same", use_bias=True, name="conv_2"
        )(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, kernel_size=1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    x = imagenet_utils._top_or_pooling(
        x, include_top, pooling, ("avg_pool", "max_pool")
    )
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )

    if weights == "imagenet":
        minimal = "_minimalistic" if minimalistic else ""
        model_name = f"{model_type}{minimal}_224_{alpha}_float"
        suffix = "" if include_top else "_no_top_v2"
        fname = f"weights_mobilenet_v3_{model_name}{suffix}.h5"
        file_hash = WEIGHTS_HASHES[model_name][0 if include_top else 1]
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHT_PATH + fname, file_hash
        )
    return imagenet_utils._load_weights(model, weights)


def MobileNetV3Small(
    input_shape=None,
    alpha: float = 1.0,
    minimalistic: bool = False,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    classes: int = 1000,
    pooling=None,
    dropout_rate: float = 0.2,
    classifier_activation="softmax",
    include_preprocessing: bool = True,
    name: str = "MobileNetV3Small",
):
    """Build MobileNetV3Small, optionally with Keras's ImageNet weights.

    The model rescales its input itself (`include_preprocessing=True`): feed
    it RGB images with values in 0..255.

    Args:
        input_shape: Image shape without the batch axis, sides of at least
            32. Defaults to `None` (any size, or that of `input_tensor`).
        alpha: Width multiplier of the blocks. Imagenet weights exist for
            0.75 and 1.0 (1.0 only when minimalistic). Defaults to `1.0`.
        minimalistic: Use 3x3 kernels, ReLU and no squeeze-excite. Defaults
            to `False`.
        include_top: Whether to end with the classifier. Defaults to `True`.
        weights: `None`, `"imagenet"` or the path of a weights file.
            Defaults to `"imagenet"`.
        input_tensor: Optional symbolic tensor to build the model on.
        classes: Number of classes of the head. Defaults to `1000`.
        pooling: Without the top: `None`, `"avg"` or `"max"`.
        dropout_rate: Dropout before the logits. Defaults to `0.2`.
        classifier_activation: Activation of the head; only `None` or
            `"softmax"` with pretrained weights. Defaults to `"softmax"`.
        include_preprocessing: Whether the model starts with a
            `Rescaling(1 / 127.5, offset=-1)` layer. Defaults to `True`.
        name: The model's name. Defaults to `"MobileNetV3Small"`.

    Returns:
        A functional `lamina.Model`.
    """
    return MobileNetV3(
        _stack(_SMALL, alpha),
        1024,
        input_shape,
        alpha,
        "small",
        minimalistic,
        include_top,
        weights,
        input_tensor,
        classes,
        pooling,
        dropout_rate,
        classifier_activation,
        include_preprocessing,
        name=name,
    )


def MobileNetV3Large(
    input_shape=None,
    alpha: float = 1.0,
    minimalistic: bool = False,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    classes: int = 1000,
    pooling=None,
    dropout_rate: float = 0.2,
    classifier_activation="softmax",
    include_preprocessing: bool = True,
    name: str = "MobileNetV3Large",
):
    """Build MobileNetV3Large, optionally with Keras's ImageNet weights; the
    arguments are those of `MobileNetV3Small`."""
    return MobileNetV3(
        _stack(_LARGE, alpha),
        1280,
        input_shape,
        alpha,
        "large",
        minimalistic,
        include_top,
        weights,
        input_tensor,
        classes,
        pooling,
        dropout_rate,
        classifier_activation,
        include_preprocessing,
        name=name,
    )


def preprocess_input(x, data_format=None):
    """Return `x` unchanged: MobileNetV3 models rescale their input
    themselves. Kept so code written for other families runs unchanged."""
    return x


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
