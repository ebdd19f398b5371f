"""ResNet (He et al., 2015) and the shared builder of ResNetV2: residual
bottleneck blocks in four stacks."""

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

BASE_WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
)
# (with top, without top) md5 hashes of Keras's published weight files.
WEIGHTS_HASHES = {
    "resnet50": (
        "2cb95161c43110f7111970584f804107",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "resnet101": (
        "f1aeb4b969a6efcfb50fad2f0c20cfc5",
        "88cf7a10940856eca736dc7b7e228a21",
    ),
    "resnet152": (
        "100835be76be38e30d865e96f2aaae62",
        "ee4c566cf9a93f14d82f913c2dc6dd0c",
    ),
    "resnet50v2": (
        "3ef43a0b657b3be2300d5770ece849e0",
        "fac2f116257151a9d068a22e544a4917",
    ),
    "resnet101v2": (
        "6343647c601c52e1368623803854d971",
        "c0ed64b8031c3730f411d2eb4eea35b5",
    ),
    "resnet152v2": (
        "a49b44d1979771252814e80f8ec446f9",
        "ed17cf2e0169df9d443503ef94b23b33",
    ),
}
_EPSILON = 1.001e-5


def _bn_axis():
    return 3 if backend.image_data_format() == "channels_last" else 1


def _bn(name):
    return layers.BatchNormalization(axis=_bn_axis(), epsilon=_EPSILON, name=name)


def ResNet(
    stack_fn,
    preact: bool,
    use_bias: bool,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "resnet",
    weights_name=None,
):
    """Build a ResNet (v1 when `preact=False`, v2 when `preact=True`).

    Args:
        stack_fn: Function from the stem's output tensor to the output of the
            residual stacks.
        preact: Whether blocks use pre-activation (ResNetV2): no BN/ReLU after
            the stem, a final `post_bn`/`post_relu` instead.
        use_bias: Whether the stem convolution has a bias.
        weights_name: Key of `WEIGHTS_HASHES` whose published file
            `weights="imagenet"` loads.

    The other arguments are those of `ResNet50`.

    Returns:
        A functional `lamina.Model`.
    """
    imagenet_utils._check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=224,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)

    # 1. Stem: 7x7/2 convolution, 3x3/2 max pooling.
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _bn("conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    # 2. Residual stacks.
    x = stack_fn(x)
    if preact:
        x = _bn("post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)

    # 3. Head or pooling.
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(
            x
        )
    x = imagenet_utils._top_or_pooling(
        x, include_top, pooling, ("avg_pool", "max_pool")
    )
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )

    if weights == "imagenet" and weights_name in WEIGHTS_HASHES:
        suffix = "" if include_top else "_notop"
        fname = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHTS_PATH + fname, file_hash
        )
    if weights == "imagenet":
        raise ValueError(
            f"ResNet: no published imagenet weights for weights_name={weights_name!r}; "
            f"known names are {sorted(WEIGHTS_HASHES)}. Pass weights=None or a path."
        )
    return imagenet_utils._load_weights(model, weights)


def residual_block_v1(
    x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None
):
    """Bottleneck block 1x1 -> kxk -> 1x1 (x4 filters), BN after each, ReLU
    after the sum; `conv_shortcut` projects the shortcut with a 1x1 conv."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(
            x
        )
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="SAME", name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """`blocks` v1 blocks; the first projects its shortcut and strides by
    `stride1`."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(
    x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None
):
    """Pre-activation bottleneck block (BN and ReLU before each convolution);
    the stride sits on the 3x3 convolution."""
    preact = _bn(f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(
            preact
        )
    elif stride > 1:
        # Keras leaves this pooling unnamed: its name comes from the counter.
        shortcut = layers.MaxPooling2D(1, strides=stride)(x)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(
        preact
    )
    x = _bn(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(
        filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv"
    )(x)
    x = _bn(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """`blocks` v2 blocks; the first projects its shortcut, the last strides
    by `stride1`."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _v1_stacks(blocks):
    def stack_fn(x):
        x = stack_residual_blocks_v1(x, 64, blocks[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, blocks[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, blocks[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, blocks[3], name="conv5")

    return stack_fn


def ResNet50(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "resnet50",
):
    """Build ResNet50 (stacks of 3, 4, 6, 3 bottleneck blocks).

    Feed it images prepared by `lamina.applications.resnet.preprocess_input`.

    Args:
        include_top: Whether to end with global average pooling and the
            `predictions` Dense layer. Defaults to `True`.
        weights: `None` (random initialization), `"imagenet"` (download
            Keras's pretrained file) or the path of a weights file. Defaults
            to `"imagenet"`.
        input_tensor: Optional symbolic tensor (e.g. from `lamina.Input`) to
            build the model on.
        input_shape: Image shape without the batch axis; must be
            `(224, 224, 3)` with `include_top=True` and imagenet weights,
            else sides of at least 32. Defaults to `None`.
        pooling: Without the top: `None` (4D feature maps), `"avg"` or
            `"max"` (global pooling to 2D). Defaults to `None`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the `predictions` layer; only
            `None` or `"softmax"` with pretrained weights. Defaults to
            `"softmax"`.
        name: The model's name. Defaults to `"resnet50"`.

    Returns:
        A functional `lamina.Model`.
    """
    return ResNet(
        _v1_stacks((3, 4, 6, 3)),
        preact=False,
        use_bias=True,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        weights_name="resnet50",
    )


def ResNet101(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "resnet101",
):
    """Build ResNet101 (stacks of 3, 4, 23, 3 bottleneck blocks); the
    arguments are those of `ResNet50`."""
    return ResNet(
        _v1_stacks((3, 4, 23, 3)),
        preact=False,
        use_bias=True,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        weights_name="resnet101",
    )


def ResNet152(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "resnet152",
):
    """Build ResNet152 (stacks of 3, 8, 36, 3 bottleneck blocks); the
    arguments are those of `ResNet50`."""
    return ResNet(
        _v1_stacks((3, 8, 36, 3)),
        preact=False,
        use_bias=True,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        weights_name="resnet152",
    )


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for ResNet: "caffe" mode of
    `imagenet_utils.preprocess_input` (BGR, ImageNet mean subtracted)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
