"""Inception-ResNet V2 (Szegedy et al., 2016): Inception branches whose
concatenation, projected back to the input's width and scaled down, is
added to the input as a residual."""

from lamina import backend, layers, ops
from lamina.applications import imagenet_utils
from lamina.layers.layer import Layer
from lamina.models.functional import Functional

BASE_WEIGHT_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/"
)
# (file name, md5 hash) of Keras's published weight files, with and without top.
_FILES = (
    (
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
        "e693bd0210a403b3192acc6073ad2e96",
    ),
    (
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "d19885ff4a710c122648d3b5c3b684e4",
    ),
)

# Per block type: the branches, each a chain of (filters, kernel_size).
_BRANCHES = {
    "block35": (
        ((32, 1),),
        ((32, 1), (32, 3)),
        ((32, 1), (48, 3), (64, 3)),
    ),
    "block17": (
        ((192, 1),),
        ((128, 1), (160, (1, 7)), (192, (7, 1))),
    ),
    "block8": (
        ((192, 1),),
        ((192, 1), (224, (1, 3)), (256, (3, 1))),
    ),
}


class CustomScaleLayer(Layer):
    """Residual sum with a scaled branch: `inputs[0] + inputs[1] * scale`.

    Args:
        scale: Factor of the second input.
    """

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        return ops.add(inputs[0], ops.multiply(inputs[1], self.scale))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def InceptionResNetV2(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "inception_resnet_v2",
):
    """Build Inception-ResNet V2, optionally with Keras's ImageNet weights.

    Feed it images prepared by
    `lamina.applications.inception_resnet_v2.preprocess_input`.

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
        name: The model's name. Defaults to `"inception_resnet_v2"`.

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

    # 1. Stem, as Inception V3's.
    x = conv2d_bn(img_input, 32, 3, strides=2, padding="valid")
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = layers.MaxPooling2D(3, strides=2)(x)

    # 2. mixed_5b (35x35 at 299 px), then 10 block35.
    branches = [
        _chain(x, ((96, 1),)),
        _chain(x, ((48, 1), (64, 5))),
        _chain(x, ((64, 1), (96, 3), (96, 3))),
        _chain(layers.AveragePooling2D(3, strides=1, padding="same")(x), ((64, 1),)),
    ]
    x = layers.Concatenate(axis=axis, name="mixed_5b")(branches)
    for i in range(1, 11):
        x = inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=i)

    # 3. Reduction mixed_6a (17x17), then 20 block17.
    branches = [
        conv2d_bn(x, 384, 3, strides=2, padding="valid"),
        conv2d_bn(_chain(x, ((256, 1), (256, 3))), 384, 3, strides=2, padding="valid"),
        layers.MaxPooling2D(3, strides=2, padding="valid")(x),
    ]
    x = layers.Concatenate(axis=axis, name="mixed_6a")(branches)
    for i in range(1, 21):
        x = inception_resnet_block(x, scale=0.1, block_type="block17", block_idx=i)

    # 4. Reduction mixed_7a (8x8), then 10 block8, the last one linear.
    branches = [
        conv2d_bn(_chain(x, ((256, 1),)), 384, 3, strides=2, padding="valid"),
        conv2d_bn(_chain(x, ((256, 1),)), 288, 3, strides=2, padding="valid"),
        conv2d_bn(_chain(x, ((256, 1), (288, 3))), 320, 3, strides=2, padding="valid"),
        layers.MaxPooling2D(3, strides=2, padding="valid")(x),
    ]
    x = layers.Concatenate(axis=axis, name="mixed_7a")(branches)
    for i in range(1, 10):
        x = inception_resnet_block(x, scale=0.2, block_type="block8", block_idx=i)
    x = inception_resnet_block(
        x, scale=1.0, activation=None, block_type="block8", block_idx=10
    )
    x = conv2d_bn(x, 1536, 1, name="conv_7b")

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
        fname, file_hash = _FILES[0 if include_top else 1]
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHT_URL + fname, file_hash
        )
    return imagenet_utils._load_weights(model, weights)


def conv2d_bn(
    x,
    filters: int,
    kernel_size,
    strides=1,
    padding: str = "same",
    activation="relu",
    use_bias: bool = False,
    name=None,
):
    """Convolution, then (without bias) BatchNormalization with no scale,
    then `activation` (none for `None`), on a symbolic tensor.

    The layers are named `name`, `{name}_bn` and `{name}_ac` when `name` is
    given, else numbered automatically.
    """
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        name=name,
    )(x)
    if not use_bias:
        axis = 1 if backend.image_data_format() == "channels_first" else 3
        x = layers.BatchNormalization(
            axis=axis, scale=False, name=None if name is None else f"{name}_bn"
        )(x)
    if activation is not None:
        x = layers.Activation(activation, name=None if name is None else f"{name}_ac")(
            x
        )
    return x


def _chain(x, specs):
    # Keras's layer counters number the layers in creation order, so every
    # branch is built in Keras's order.
    for filters, kernel_size in specs:
        x = conv2d_bn(x, filters, kernel_size)
    return x


def inception_resnet_block(
    x, scale: float, block_type: str, block_idx: int, activation="relu"
):
    """One Inception-ResNet block on a symbolic tensor: its branches are
    concatenated (`{block_type}_{block_idx}_mixed`), projected by a 1x1
    convolution with bias to the input's width (`..._conv`), multiplied by
    `scale` and added to the input, then `activation` (`..._ac`) applies.

    Args:
        x: The block's input.
        scale: Factor of the residual branch.
        block_type: `"block35"`, `"block17"` or `"block8"`.
        block_idx: Number of the block within its type, for the names.
        activation: Activation after the sum; `None` for none. Defaults to
            `"relu"`.

    Returns:
        The block's output, of the input's shape.

    Raises:
        ValueError: For an unknown `block_type`.
    """
    if block_type not in _BRANCHES:
        raise ValueError(
            "inception_resnet_block expects `block_type` to be one of "
            f"'block35', 'block17' or 'block8'; got block_type={block_type!r}."
        )
    axis = 1 if backend.image_data_format() == "channels_first" else 3
    block_name = f"{block_type}_{block_idx}"
    branches = [_chain(x, specs) for specs in _BRANCHES[block_type]]
    mixed = layers.Concatenate(axis=axis, name=f"{block_name}_mixed")(branches)
    up = conv2d_bn(
        mixed,
        x.shape[axis],
        1,
        activation=None,
        use_bias=True,
        name=f"{block_name}_conv",
    )
    x = CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{block_name}_ac")(x)
    return x


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for Inception-ResNet V2: "tf" mode of
    `imagenet_utils.preprocess_input` (scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
