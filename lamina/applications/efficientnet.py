"""EfficientNet B0-B7 (Tan & Le, 2019): mobile inverted bottlenecks with
squeeze-and-excitation, scaled in width, depth and resolution together."""

import copy
import math

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"
# (with top, without top) md5 hashes of Keras's published weight files.
WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}

# The seven stages of B0: (kernel_size, repeats, filters_in, filters_out,
# expand_ratio, strides); every block has id_skip and se_ratio 0.25.
_STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
DEFAULT_BLOCKS_ARGS = [
    {
        "kernel_size": k,
        "repeats": r,
        "filters_in": f_in,
        "filters_out": f_out,
        "expand_ratio": e,
        "id_skip": True,
        "strides": s,
        "se_ratio": 0.25,
    }
    for k, r, f_in, f_out, e, s in _STAGES
]
CONV_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]

# (width coefficient, depth coefficient, default size, dropout rate) per variant.
_VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}


def EfficientNet(
    width_coefficient: float,
    depth_coefficient: float,
    default_size: int,
    dropout_rate: float = 0.2,
    drop_connect_rate: float = 0.2,
    depth_divisor: int = 8,
    activation="swish",
    blocks_args="default",
    name: str = "efficientnet",
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    weights_name=None,
):
    """Build an EfficientNet of the given width and depth scaling.

    The model takes RGB images with values 0..255: its first layers rescale
    and normalize them.

    Args:
        width_coefficient: Multiplier of every layer's filters.
        depth_coefficient: Multiplier of every stage's number of blocks.
        default_size: Image side the variant was trained at.
        dropout_rate: Dropout before the head. Defaults to `0.2`.
        drop_connect_rate: Largest stochastic-depth rate, reached by the last
            block. Defaults to `0.2`.
        depth_divisor: Filters are rounded to multiples of it. Defaults to `8`.
        activation: Activation of the blocks. Defaults to `"swish"`.
        blocks_args: `"default"` (B0's seven stages) or a list of dicts with
            the keys of `DEFAULT_BLOCKS_ARGS`.
        name: The model's name; with imagenet weights also the file's name.
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation: As for `EfficientNetB0`.
        weights_name: Key of `WEIGHTS_HASHES` (`"b0"` ... `"b7"`).

    Returns:
        A functional `lamina.Model`.
    """
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS
    imagenet_utils._check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)
    bn_axis = 3 if backend.image_data_format() == "channels_last" else 1

    def round_filters(filters):
        filters *= width_coefficient
        rounded = max(
            depth_divisor,
            int(filters + depth_divisor / 2) // depth_divisor * depth_divisor,
        )
        if rounded < 0.9 * filters:  # never more than 10% below
            rounded += depth_divisor
        return int(rounded)

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    # 1. Built-in preprocessing and stem.
    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=bn_axis)(x)
    if weights == "imagenet":
        # Keras: the published weights were fitted with this scale, 1/sqrt(std)
        # rather than 1/std, so it stays for them to predict as trained.
        x = layers.Rescaling([1.0 / math.sqrt(std) for std in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(
        padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad"
    )(x)
    x = layers.Conv2D(
        round_filters(32),
        3,
        strides=2,
        padding="valid",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name="stem_conv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    # 2. Stages of blocks `block{stage}{a, b, ...}_`, with a drop rate rising
    # linearly over all blocks.
    blocks_args = copy.deepcopy(blocks_args)
    total = float(sum(round_repeats(args["repeats"]) for args in blocks_args))
    b = 0
    for i, args in enumerate(blocks_args):
        if args["repeats"] <= 0:
            raise ValueError(
                "EfficientNet expects every stage's `repeats` to be > 0; got "
                f"repeats={args['repeats']} in blocks_args[{i}]."
            )
        args["filters_in"] = round_filters(args["filters_in"])
        args["filters_out"] = round_filters(args["filters_out"])
        for j in range(round_repeats(args.pop("repeats"))):
            if j > 0:
                args["strides"] = 1
                args["filters_in"] = args["filters_out"]
            x = block(
                x,
                activation,
                drop_connect_rate * b / total,
                name=f"block{i + 1}{chr(j + 97)}_",
                **args,
            )
            b += 1

    # 3. Top convolution, then head or pooling.
    x = layers.Conv2D(
        round_filters(1280),
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name="top_conv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer=DENSE_KERNEL_INITIALIZER,
            name="predictions",
        )(x)
    x = imagenet_utils._top_or_pooling(
        x, include_top, pooling, pool_names=("avg_pool", "max_pool")
    )
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )
    if weights == "imagenet":
        fname = name + (".h5" if include_top else "_notop.h5")
        file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHTS_PATH + fname, file_hash
        )
    return imagenet_utils._load_weights(model, weights)


def block(
    inputs,
    activation="swish",
    drop_rate: float = 0.0,
    name: str = "",
    filters_in: int = 32,
    filters_out: int = 16,
    kernel_size: int = 3,
    strides: int = 1,
    expand_ratio: int = 1,
    se_ratio: float = 0.0,
    id_skip: bool = True,
):
    """One mobile inverted bottleneck: 1x1 expansion, depthwise convolution,
    squeeze-and-excitation, 1x1 projection, and a residual sum (with
    stochastic depth) when the shapes allow."""
    bn_axis = 3 if backend.image_data_format() == "channels_last" else 1
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(
            filters,
            1,
            padding="same",
            use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}expand_conv",
        )(x)
        x = layers.BatchNormalization(axis=bn_axis, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(
            padding=imagenet_utils.correct_pad(x, kernel_size),
            name=f"{name}dwconv_pad",
        )(x)
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="valid" if strides == 2 else "same",
        use_bias=False,
        depthwise_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}dwconv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        filters_se = max(1, int(filters_in * se_ratio))
        x = squeeze_excite(x, filters, filters_se, activation, name, bn_axis)
    x = layers.Conv2D(
        filters_out,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}project_conv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            # Drops whole samples' residual branches (stochastic depth).
            x = layers.Dropout(
                drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop"
            )(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def squeeze_excite(x, filters, filters_se, activation, name, channel_axis):
    """EfficientNet's squeeze-and-excitation on a block's `filters` channels:
    global pooling, a 1x1 reduction to `filters_se` channels, a sigmoid 1x1
    expansion back, and the product with `x` (layers `{name}se_*`)."""
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se_shape = (filters, 1, 1) if channel_axis == 1 else (1, 1, filters)
    se = layers.Reshape(se_shape, name=f"{name}se_reshape")(se)
    se = layers.Conv2D(
        filters_se,
        1,
        padding="same",
        activation=activation,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}se_reduce",
    )(se)
    se = layers.Conv2D(
        filters,
        1,
        padding="same",
        activation="sigmoid",
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}se_expand",
    )(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def _variant(key):
    width, depth, size, dropout = _VARIANTS[key]

    def builder(
        include_top: bool = True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        name: str = f"efficientnet{key}",
    ):
        return EfficientNet(
            width,
            depth,
            size,
            dropout,
            name=name,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            weights_name=key,
        )

    builder.__name__ = builder.__qualname__ = f"EfficientNet{key.upper()}"
    builder.__doc__ = f"""Build EfficientNet{key.upper()} (width x{width}, depth
    x{depth}, trained at {size}x{size}), optionally with Keras's ImageNet weights.

    The model rescales its input itself: feed it RGB images with values
    0..255 (`lamina.applications.efficientnet.preprocess_input` returns its
    input unchanged).

    Args:
        include_top: Whether to end with global average pooling, dropout and
            the `predictions` Dense layer. Defaults to `True`.
        weights: `None` (random initialization), `"imagenet"` (download
            Keras's pretrained file) or the path of a weights file. Defaults
            to `"imagenet"`.
        input_tensor: Optional symbolic tensor (e.g. from `lamina.Input`) to
            build the model on.
        input_shape: Image shape without the batch axis; must be
            `({size}, {size}, 3)` with `include_top=True` and imagenet
            weights, else sides of at least 32. Defaults to `None`.
        pooling: Without the top: `None` (4D feature maps), `"avg"` or
            `"max"` (global pooling to 2D). Defaults to `None`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the `predictions` layer; only
            `None` or `"softmax"` with pretrained weights. Defaults to
            `"softmax"`.
        name: The model's name. Defaults to `"efficientnet{key}"`.

    Returns:
        A functional `lamina.Model`.
    """
    return builder


EfficientNetB0 = _variant("b0")
EfficientNetB1 = _variant("b1")
EfficientNetB2 = _variant("b2")
EfficientNetB3 = _variant("b3")
EfficientNetB4 = _variant("b4")
EfficientNetB5 = _variant("b5")
EfficientNetB6 = _variant("b6")
EfficientNetB7 = _variant("b7")


def preprocess_input(x, data_format=None):
    """Return `x` unchanged: EfficientNet models rescale their input
    themselves. Kept so that every application module has one."""
    return x


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
