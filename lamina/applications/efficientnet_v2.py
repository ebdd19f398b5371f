"""EfficientNetV2 (Tan & Le, 2021): EfficientNet with fused inverted
bottlenecks (one full convolution instead of 1x1 expansion plus depthwise)
in the early stages, trained with progressive resizing."""

import copy
import math

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.applications.efficientnet import (
    CONV_KERNEL_INITIALIZER,
    DENSE_KERNEL_INITIALIZER,
    squeeze_excite,
)
from lamina.models.functional import Functional

BASE_WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
)
# (with top, without top) md5 hashes of Keras's published weight files.
WEIGHTS_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}

# Stages per architecture: (kernel_size, num_repeat, input_filters,
# output_filters, expand_ratio, se_ratio, strides, conv_type), where
# conv_type 1 is a fused block and 0 a depthwise (MBConv) block.
_B = (
    (3, 1, 32, 16, 1, 0, 1, 1),
    (3, 2, 16, 32, 4, 0, 2, 1),
    (3, 2, 32, 48, 4, 0, 2, 1),
    (3, 3, 48, 96, 4, 0.25, 2, 0),
    (3, 5, 96, 112, 6, 0.25, 1, 0),
    (3, 8, 112, 192, 6, 0.25, 2, 0),
)
_STAGES = {
    "b0": _B,
    "b1": _B,
    "b2": _B,
    "b3": _B,
    "s": (
        (3, 2, 24, 24, 1, 0, 1, 1),
        (3, 4, 24, 48, 4, 0, 2, 1),
        (3, 4, 48, 64, 4, 0, 2, 1),
        (3, 6, 64, 128, 4, 0.25, 2, 0),
        (3, 9, 128, 160, 6, 0.25, 1, 0),
        (3, 15, 160, 256, 6, 0.25, 2, 0),
    ),
    "m": (
        (3, 3, 24, 24, 1, 0, 1, 1),
        (3, 5, 24, 48, 4, 0, 2, 1),
        (3, 5, 48, 80, 4, 0, 2, 1),
        (3, 7, 80, 160, 4, 0.25, 2, 0),
        (3, 14, 160, 176, 6, 0.25, 1, 0),
        (3, 18, 176, 304, 6, 0.25, 2, 0),
        (3, 5, 304, 512, 6, 0.25, 1, 0),
    ),
    "l": (
        (3, 4, 32, 32, 1, 0, 1, 1),
        (3, 7, 32, 64, 4, 0, 2, 1),
        (3, 7, 64, 96, 4, 0, 2, 1),
        (3, 10, 96, 192, 4, 0.25, 2, 0),
        (3, 19, 192, 224, 6, 0.25, 1, 0),
        (3, 25, 224, 384, 6, 0.25, 2, 0),
        (3, 7, 384, 640, 6, 0.25, 1, 0),
    ),
}
_KEYS = (
    "kernel_size",
    "num_repeat",
    "input_filters",
    "output_filters",
    "expand_ratio",
    "se_ratio",
    "strides",
    "conv_type",
)
DEFAULT_BLOCKS_ARGS = {
    f"efficientnetv2-{key}": [dict(zip(_KEYS, stage)) for stage in stages]
    for key, stages in _STAGES.items()
}

# (width coefficient, depth coefficient, default size) per variant.
_VARIANTS = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 260),
    "b3": (1.2, 1.4, 300),
    "s": (1.0, 1.0, 384),
    "m": (1.0, 1.0, 480),
    "l": (1.0, 1.0, 480),
}


def round_filters(filters, width_coefficient, min_depth, depth_divisor) -> int:
    """Scale `filters` by `width_coefficient`, rounded to the nearest
    multiple of `depth_divisor` and at least `min_depth` (or the divisor)."""
    filters *= width_coefficient
    minimum = min_depth or depth_divisor
    return int(
        max(minimum, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor)
    )


def round_repeats(repeats, depth_coefficient) -> int:
    """Scale a stage's number of blocks by `depth_coefficient`, rounded up."""
    return int(math.ceil(depth_coefficient * repeats))


def EfficientNetV2(
    width_coefficient: float,
    depth_coefficient: float,
    default_size: int,
    dropout_rate: float = 0.2,
    drop_connect_rate: float = 0.2,
    depth_divisor: int = 8,
    min_depth: int = 8,
    bn_momentum: float = 0.9,
    activation="swish",
    blocks_args="default",
    name: str = "efficientnetv2",
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    include_preprocessing: bool = True,
    weights_name=None,
):
    """Build an EfficientNetV2 of the given stages and scaling.

    Args:
        width_coefficient: Multiplier of every layer's filters.
        depth_coefficient: Multiplier of every stage's number of blocks.
        default_size: Image side the variant was trained at.
        dropout_rate: Dropout before the head. Defaults to `0.2`.
        drop_connect_rate: Stochastic-depth rate scale: block number `b`
            drops its residual branch with rate `drop_connect_rate * b / n`,
            `n` the stages' repeats before depth scaling (as in Keras).
            Defaults to `0.2`.
        depth_divisor: Filters are rounded to multiples of it. Defaults to `8`.
        min_depth: Fewest filters of any layer. Defaults to `8`.
        bn_momentum: Momentum of every BatchNormalization. Defaults to `0.9`.
        activation: Activation of the blocks. Defaults to `"swish"`.
        blocks_args: `"default"` (the stages of `DEFAULT_BLOCKS_ARGS[name]`)
            or a list of dicts with the same keys.
        name: The model's name. Defaults to `"efficientnetv2"`.
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, include_preprocessing: As for
            `EfficientNetV2B0`.
        weights_name: Key of `WEIGHTS_HASHES` (`"b0"` ... `"b3"`, `"s"`,
            `"m"`, `"l"`); also picks the built-in preprocessing.

    Returns:
        A functional `lamina.Model`.

    Raises:
        ValueError: For unknown default stages, bad weights, classes or
            input shape, imagenet weights without a known `weights_name`, or
            a stage with no blocks.
    """
    if isinstance(blocks_args, str) and blocks_args == "default":
        if name not in DEFAULT_BLOCKS_ARGS:
            raise ValueError(
                "EfficientNetV2 with blocks_args='default' takes its stages from "
                f"the model name, one of {sorted(DEFAULT_BLOCKS_ARGS)}; got "
                f"name={name!r}. Pass blocks_args explicitly or use a builder "
                "such as EfficientNetV2B0."
            )
        blocks_args = DEFAULT_BLOCKS_ARGS[name]
    imagenet_utils._check_weights(weights, include_top, classes)
    if weights == "imagenet" and weights_name not in WEIGHTS_HASHES:
        raise ValueError(
            "EfficientNetV2 with weights='imagenet' needs `weights_name`, one of "
            f"{sorted(WEIGHTS_HASHES)}, to pick the file; got "
            f"weights_name={weights_name!r}."
        )
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

    def filters_of(filters):
        return round_filters(filters, width_coefficient, min_depth, depth_divisor)

    # 1. Built-in preprocessing: B variants standardize with the ImageNet
    # mean and std, S/M/L (and non-RGB input) scale to [-1, 1].
    x = img_input
    if include_preprocessing:
        variant = weights_name or name.split("-")[-1]
        if variant.startswith("b") and input_shape[bn_axis - 1] == 3:
            x = layers.Rescaling(scale=1.0 / 255)(x)
            x = layers.Normalization(
                mean=[0.485, 0.456, 0.406],
                variance=[0.229**2, 0.224**2, 0.225**2],
                axis=bn_axis,
            )(x)
        else:
            x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)

    # 2. Stem.
    x = layers.Conv2D(
        filters_of(blocks_args[0]["input_filters"]),
        3,
        strides=2,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name="stem_conv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    # 3. Stages of blocks `block{stage}{a, b, ...}_`.
    blocks_args = copy.deepcopy(blocks_args)
    # Keras: the rate's denominator counts the stages' repeats before depth
    # scaling, so deeper variants exceed `drop_connect_rate` in the end.
    total = float(sum(args["num_repeat"] for args in blocks_args))
    b = 0
    for i, args in enumerate(blocks_args):
        if args["num_repeat"] <= 0:
            raise ValueError(
                "EfficientNetV2 expects every stage's `num_repeat` to be > 0; "
                f"got num_repeat={args['num_repeat']} in blocks_args[{i}]."
            )
        args["input_filters"] = filters_of(args["input_filters"])
        args["output_filters"] = filters_of(args["output_filters"])
        for j in range(round_repeats(args.pop("num_repeat"), depth_coefficient)):
            if j > 0:
                args["strides"] = 1
                args["input_filters"] = args["output_filters"]
            x = block(
                x,
                activation=activation,
                bn_momentum=bn_momentum,
                drop_rate=drop_connect_rate * b / total,
                name=f"block{i + 1}{chr(j + 97)}_",
                **args,
            )
            b += 1

    # 4. Top convolution, then head or pooling.
    x = layers.Conv2D(
        filters_of(1280),
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name="top_conv",
    )(x)
    x = layers.BatchNormalization(axis=bn_axis, momentum=bn_momentum, name="top_bn")(x)
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
        # The file is named for the variant, whatever the model's name.
        fname = f"efficientnetv2-{weights_name}" + (
            ".h5" if include_top else "_notop.h5"
        )
        file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHTS_PATH + fname, file_hash
        )
    return imagenet_utils._load_weights(model, weights)


def block(
    inputs,
    conv_type: int = 0,
    input_filters: int = 32,
    output_filters: int = 16,
    expand_ratio: int = 1,
    kernel_size: int = 3,
    strides: int = 1,
    se_ratio: float = 0.0,
    bn_momentum: float = 0.9,
    activation="swish",
    drop_rate: float = 0.0,
    name: str = "",
):
    """One inverted bottleneck of EfficientNetV2, on a symbolic tensor.

    `conv_type=0` (MBConv): optional 1x1 expansion, depthwise convolution,
    squeeze-and-excitation, 1x1 projection. `conv_type=1` (fused MBConv): the
    expansion is a full `kernel_size` convolution (or, without expansion,
    the projection is), with no depthwise step. Both end in a residual sum,
    through per-sample dropout of rate `drop_rate`, when the shapes allow.
    Layers are named `{name}expand_conv`, `{name}dwconv2`, `{name}se_*`,
    `{name}project_conv` and so on, as in Keras.
    """
    bn_axis = 3 if backend.image_data_format() == "channels_last" else 1
    fused = conv_type == 1
    filters = input_filters * expand_ratio

    def conv_bn(x, filters, kernel, stride, prefix, act):
        x = layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}{prefix}_conv",
        )(x)
        x = layers.BatchNormalization(
            axis=bn_axis, momentum=bn_momentum, name=f"{name}{prefix}_bn"
        )(x)
        if act:
            x = layers.Activation(activation, name=f"{name}{prefix}_activation")(x)
        return x

    # 1. Expansion (full convolution when fused), then the depthwise step.
    x = inputs
    if expand_ratio != 1:
        if fused:
            x = conv_bn(x, filters, kernel_size, strides, "expand", True)
        else:
            x = conv_bn(x, filters, 1, 1, "expand", True)
    if not fused:
        x = layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            depthwise_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}dwconv2",
        )(x)
        x = layers.BatchNormalization(
            axis=bn_axis, momentum=bn_momentum, name=f"{name}bn"
        )(x)
        x = layers.Activation(activation, name=f"{name}activation")(x)

    # 2. Squeeze-and-excitation.
    if 0 < se_ratio <= 1:
        filters_se = max(1, int(input_filters * se_ratio))
        x = squeeze_excite(x, filters, filters_se, activation, name, bn_axis)

    # 3. Projection; a fused block without expansion does the strided
    # convolution here and keeps its activation.
    if fused and expand_ratio == 1:
        x = conv_bn(x, output_filters, kernel_size, strides, "project", True)
    else:
        x = conv_bn(x, output_filters, 1, 1, "project", False)
    if strides == 1 and input_filters == output_filters:
        if drop_rate:
            x = layers.Dropout(
                drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop"
            )(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def _variant(key):
    width, depth, size = _VARIANTS[key]
    title = key.upper()

    def builder(
        include_top: bool = True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        include_preprocessing: bool = True,
        name: str = f"efficientnetv2-{key}",
    ):
        return EfficientNetV2(
            width,
            depth,
            size,
            blocks_args=DEFAULT_BLOCKS_ARGS[f"efficientnetv2-{key}"],
            name=name,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            include_preprocessing=include_preprocessing,
            weights_name=key,
        )

    if key.startswith("b"):
        scaling = f"the B stages scaled x{width} in width and x{depth} in depth"
        preprocessing = "standardizes them with the ImageNet mean and std"
    else:
        scaling = f"the {title} stages"
        preprocessing = "scales them to [-1, 1]"
    builder.__name__ = builder.__qualname__ = f"EfficientNetV2{title}"
    builder.__doc__ = f"""Build EfficientNetV2{title} ({scaling}, trained
    at {size}x{size}), optionally with Keras's ImageNet weights.

    With `include_preprocessing=True` the model takes RGB images with values
    0..255 and {preprocessing} itself
    (`lamina.applications.efficientnet_v2.preprocess_input` returns its
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
        include_preprocessing: Whether the model starts with its input
            scaling layers. Defaults to `True`.
        name: The model's name. Defaults to `"efficientnetv2-{key}"`.

    Returns:
        A functional `lamina.Model`.
    """
    return builder


EfficientNetV2B0 = _variant("b0")
EfficientNetV2B1 = _variant("b1")
EfficientNetV2B2 = _variant("b2")
EfficientNetV2B3 = _variant("b3")
EfficientNetV2S = _variant("s")
EfficientNetV2M = _variant("m")
EfficientNetV2L = _variant("l")


def preprocess_input(x, data_format=None):
    """Return `x` unchanged: EfficientNetV2 models scale their input
    themselves (`include_preprocessing=True`). Kept so that every
    application module has one."""
    return x


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
