"""DenseNet (Huang et al., 2016): dense blocks, where every layer's output is
concatenated to its input, joined by transition blocks that halve channels
and resolution."""

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

BASE_WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
)
# Blocks per dense block -> (file stem, md5 with top, md5 without top).
_WEIGHTS = {
    (6, 12, 24, 16): (
        "densenet121",
        "9d60b8095a5708f2dcce2bca79d332c7",
        "30ee3e1110167f948a6b9946edeeb738",
    ),
    (6, 12, 32, 32): (
        "densenet169",
        "d699b8f76981ab1b30698df4c175e90b",
        "b8c4d4c20dd625c148057b9ff1c1176b",
    ),
    (6, 12, 48, 32): (
        "densenet201",
        "1ceb130c1ea1b78c3bf6114dbdfd8807",
        "c13680b51ded0fb44dff2d8f86ac8bb1",
    ),
}
_EPSILON = 1.001e-5


def _bn(name):
    axis = 3 if backend.image_data_format() == "channels_last" else 1
    return layers.BatchNormalization(axis=axis, epsilon=_EPSILON, name=name)


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each adding 32 channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN, ReLU, 1x1 conv to `reduction` times the channels, 2x2 average pool."""
    axis = 3 if backend.image_data_format() == "channels_last" else 1
    x = _bn(f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(
        int(x.shape[axis] * reduction), 1, use_bias=False, name=f"{name}_conv"
    )(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4 x growth), BN-ReLU-3x3 conv (growth), concatenated
    to the input."""
    axis = 3 if backend.image_data_format() == "channels_last" else 1
    x1 = _bn(f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = _bn(f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(
        growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv"
    )(x1)
    return layers.Concatenate(axis=axis, name=f"{name}_concat")([x, x1])


def DenseNet(
    blocks,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "densenet",
):
    """Build a DenseNet with `blocks[i]` conv blocks in dense block `i`.

    Imagenet weights exist for the block counts of DenseNet121, 169 and 201;
    the other arguments are those of `DenseNet121`.

    Returns:
        A functional `lamina.Model`.
    """
    if backend.image_data_format() == "channels_first":
        raise ValueError(
            "DenseNet does not support the `channels_first` image data format; "
            "call lamina.backend.set_image_data_format('channels_last') first."
        )
    imagenet_utils._check_weights(weights, include_top, classes)
    blocks = tuple(blocks)
    if weights == "imagenet" and blocks not in _WEIGHTS:
        raise ValueError(
            f"DenseNet: no published imagenet weights for blocks={list(blocks)}; "
            f"they exist for {[list(b) for b in _WEIGHTS]}."
        )
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=224,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)

    # 1. Stem; Keras leaves both paddings unnamed.
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)

    # 2. Dense blocks and transitions.
    for i, count in enumerate(blocks):
        x = dense_block(x, count, name=f"conv{i + 2}")
        if i < len(blocks) - 1:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = _bn("bn")(x)
    x = layers.Activation("relu", name="relu")(x)

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

    if weights == "imagenet":
        stem, top_hash, notop_hash = _WEIGHTS[blocks]
        suffix = "" if include_top else "_notop"
        fname = f"{stem}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        return imagenet_utils._load_weights(
            model,
            weights,
            fname,
            BASE_WEIGHTS_PATH + fname,
            top_hash if include_top else notop_hash,
        )
    return imagenet_utils._load_weights(model, weights)


def DenseNet121(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "densenet121",
):
    """Build DenseNet121 (dense blocks of 6, 12, 24, 16 layers).

    Feed it images prepared by `lamina.applications.densenet.preprocess_input`.

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
        name: The model's name. Defaults to `"densenet121"`.

    Returns:
        A functional `lamina.Model`.
    """
    return DenseNet(
        (6, 12, 24, 16),
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name=name,
    )


def DenseNet169(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "densenet169",
):
    """Build DenseNet169 (dense blocks of 6, 12, 32, 32 layers); the
    arguments are those of `DenseNet121`."""
    return DenseNet(
        (6, 12, 32, 32),
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name=name,
    )


def DenseNet201(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "densenet201",
):
    """Build DenseNet201 (dense blocks of 6, 12, 48, 32 layers); the
    arguments are those of `DenseNet121`."""
    return DenseNet(
        (6, 12, 48, 32),
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name=name,
    )


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for DenseNet: "torch" mode of
    `imagenet_utils.preprocess_input` (scaled to [0, 1], then standardized
    with the ImageNet mean and std)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
