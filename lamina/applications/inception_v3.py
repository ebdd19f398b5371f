"""Inception V3 (Szegedy et al., 2015): parallel branches of factorized
convolutions, concatenated into "mixed" blocks."""

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
WEIGHTS_PATH = _BASE + "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_PATH_NO_TOP = _BASE + "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
# (with top, without top) md5 hashes of Keras's published weight files.
_HASHES = ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63")


def InceptionV3(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "inception_v3",
):
    """Build Inception V3, optionally with Keras's ImageNet weights.

    Feed it images prepared by
    `lamina.applications.inception_v3.preprocess_input`.

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
            else sides of at least 75. Defaults to `None`.
        pooling: Without the top: `None` (4D feature maps), `"avg"` or
            `"max"` (global pooling to 2D). Defaults to `None`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the `predictions` layer; only
            `None` or `"softmax"` with pretrained weights. Defaults to
            `"softmax"`.
        name: The model's name. Defaults to `"inception_v3"`.

    Returns:
        A functional `lamina.Model`.
    """
    imagenet_utils._check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=299,
        min_size=75,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)
    axis = 1 if backend.image_data_format() == "channels_first" else 3

    # 1. Stem.
    x = _conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = _conv2d_bn(x, 32, 3, 3, padding="valid")
    x = _conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = _conv2d_bn(x, 80, 1, 1, padding="valid")
    x = _conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D(3, strides=2)(x)

    # 2. mixed0-2 (35x35 at 299 px), reduction mixed3.
    for i, pool_filters in enumerate((32, 64, 64)):
        x = _block_35(x, pool_filters, axis, f"mixed{i}")
    branch3x3 = _conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    branch3x3dbl = _chain(x, ((64, 1, 1), (96, 3, 3)))
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2)(x)
    x = layers.concatenate(
        [branch3x3, branch3x3dbl, branch_pool], axis=axis, name="mixed3"
    )

    # 3. mixed4-7 (17x17) with 1x7 / 7x1 factorized branches, reduction mixed8.
    for i, width in enumerate((128, 160, 160, 192)):
        x = _block_17(x, width, axis, f"mixed{4 + i}")
    branch3x3 = _conv2d_bn(x, 192, 1, 1)
    branch3x3 = _conv2d_bn(branch3x3, 320, 3, 3, strides=(2, 2), padding="valid")
    branch7x7x3 = _chain(x, ((192, 1, 1), (192, 1, 7), (192, 7, 1)))
    branch7x7x3 = _conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2)(x)
    x = layers.concatenate(
        [branch3x3, branch7x7x3, branch_pool], axis=axis, name="mixed8"
    )

    # 4. mixed9-10 (8x8) with split 1x3 / 3x1 branches.
    for i in range(2):
        x = _block_8(x, axis, i)

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


def _conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Convolution (no bias), BatchNormalization (no scale) and ReLU; named
    `{name}_conv`, `{name}_bn` and `name` when `name` is given."""
    axis = 1 if backend.image_data_format() == "channels_first" else 3
    x = layers.Conv2D(
        filters,
        (num_row, num_col),
        strides=strides,
        padding=padding,
        use_bias=False,
        name=None if name is None else f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(
        axis=axis, scale=False, name=None if name is None else f"{name}_bn"
    )(x)
    return layers.Activation("relu", name=name)(x)


def _chain(x, specs):
    # Keras's layer counters number the layers in creation order, so every
    # branch is built in Keras's order.
    for filters, rows, cols in specs:
        x = _conv2d_bn(x, filters, rows, cols)
    return x


def _avg_pool_branch(x, filters):
    x = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    return _conv2d_bn(x, filters, 1, 1)


def _block_35(x, pool_filters, axis, name):
    branch1x1 = _conv2d_bn(x, 64, 1, 1)
    branch5x5 = _chain(x, ((48, 1, 1), (64, 5, 5)))
    branch3x3dbl = _chain(x, ((64, 1, 1), (96, 3, 3), (96, 3, 3)))
    branch_pool = _avg_pool_branch(x, pool_filters)
    return layers.concatenate(
        [branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=axis, name=name
    )


def _block_17(x, width, axis, name):
    branch1x1 = _conv2d_bn(x, 192, 1, 1)
    branch7x7 = _chain(x, ((width, 1, 1), (width, 1, 7), (192, 7, 1)))
    branch7x7dbl = _chain(
        x,
        ((width, 1, 1), (width, 7, 1), (width, 1, 7), (width, 7, 1), (192, 1, 7)),
    )
    branch_pool = _avg_pool_branch(x, 192)
    return layers.concatenate(
        [branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=axis, name=name
    )


def _block_8(x, axis, i):
    branch1x1 = _conv2d_bn(x, 320, 1, 1)
    branch3x3 = _conv2d_bn(x, 384, 1, 1)
    branch3x3 = layers.concatenate(
        [_conv2d_bn(branch3x3, 384, 1, 3), _conv2d_bn(branch3x3, 384, 3, 1)],
        axis=axis,
        name=f"mixed9_{i}",
    )
    branch3x3dbl = _chain(x, ((448, 1, 1), (384, 3, 3)))
    branch3x3dbl = layers.concatenate(
        [_conv2d_bn(branch3x3dbl, 384, 1, 3), _conv2d_bn(branch3x3dbl, 384, 3, 1)],
        axis=axis,
    )
    branch_pool = _avg_pool_branch(x, 192)
    return layers.concatenate(
        [branch1x1, branch3x3, branch3x3dbl, branch_pool],
        axis=axis,
        name=f"mixed{9 + i}",
    )


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for Inception V3: "tf" mode of
    `imagenet_utils.preprocess_input` (scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
