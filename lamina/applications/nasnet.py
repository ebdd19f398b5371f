"""NASNet-A (Zoph et al., 2018): a cell found by architecture search,
stacked as normal cells (same size) and reduction cells (half the size),
each combining its input with the previous cell's output."""

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

BASE_WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"
)
NASNET_MOBILE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-mobile.h5"
NASNET_MOBILE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-mobile-no-top.h5"
NASNET_LARGE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-large.h5"
NASNET_LARGE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-large-no-top.h5"
# default_size -> ((file name, origin, md5) with top, the same without top),
# as Keras caches them.
_FILES = {
    224: (
        (
            "nasnet_mobile.h5",
            NASNET_MOBILE_WEIGHT_PATH,
            "020fb642bf7360b370c678b08e0adf61",
        ),
        (
            "nasnet_mobile_no_top.h5",
            NASNET_MOBILE_WEIGHT_PATH_NO_TOP,
            "1ed92395b5b598bdda52abe5c0dbfd63",
        ),
    ),
    331: (
        (
            "nasnet_large.h5",
            NASNET_LARGE_WEIGHT_PATH,
            "11577c9a518f0070763c2b964a382f17",
        ),
        (
            "nasnet_large_no_top.h5",
            NASNET_LARGE_WEIGHT_PATH_NO_TOP,
            "d81d89dc07e6e56530c4e77faddd61b5",
        ),
    ),
}
_CHANNEL_AXIS = -1  # NASNet is channels_last only.


def NASNet(
    input_shape=None,
    penultimate_filters: int = 4032,
    num_blocks: int = 6,
    stem_block_filters: int = 96,
    skip_reduction: bool = True,
    filter_multiplier: int = 2,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    default_size=None,
    classifier_activation="softmax",
    name: str = "NASNet",
):
    """Build a NASNet-A: a stem, two reduction cells, then three stacks of
    `num_blocks` normal cells separated by reduction cells.

    Args:
        input_shape: Image shape without the batch axis, e.g.
            `(224, 224, 3)`; sides of at least 32. Defaults to `None`
            (`default_size` square with the top).
        penultimate_filters: Filters of the last cells, a multiple of
            `24 * filter_multiplier ** 2`. Defaults to `4032`.
        num_blocks: Normal cells per stack. Defaults to `6`.
        stem_block_filters: Filters of the stem convolution. Defaults to `96`.
        skip_reduction: Whether each stack after a reduction cell pairs with
            the cell before the reduction rather than its input. Defaults
            to `True`.
        filter_multiplier: Growth of the filters at each reduction. Defaults
            to `2`.
        include_top, weights, input_tensor, pooling, classes,
            classifier_activation: As for `NASNetLarge`.
        default_size: Image side of the variant; `224` (mobile) and `331`
            (large) have imagenet weights. Defaults to `None` (331).
        name: The model's name. Defaults to `"NASNet"`.

    Returns:
        A functional `lamina.Model`.

    Raises:
        ValueError: With 'channels_first' images, bad weights, classes or
            input shape, `penultimate_filters` not a multiple of
            `24 * filter_multiplier ** 2`, or imagenet weights for a size
            other than 224 or 331.
    """
    if backend.image_data_format() == "channels_first":
        raise ValueError(
            "NASNet supports only the 'channels_last' image data format; got "
            "'channels_first'. Call "
            "lamina.backend.set_image_data_format('channels_last') first."
        )
    imagenet_utils._check_weights(weights, include_top, classes)
    if isinstance(input_shape, tuple) and None in input_shape and weights == "imagenet":
        raise ValueError(
            "NASNet with `weights='imagenet'` needs a static input shape (no "
            f"None sides); got input_shape={input_shape}."
        )
    if default_size is None:
        default_size = 331
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=32,
        data_format=backend.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    img_input = imagenet_utils._image_input(input_tensor, input_shape)
    if penultimate_filters % (24 * (filter_multiplier**2)) != 0:
        raise ValueError(
            "NASNet expects `penultimate_filters` to be a multiple of "
            f"24 * filter_multiplier ** 2 = {24 * filter_multiplier**2}; got "
            f"penultimate_filters={penultimate_filters}."
        )
    if weights == "imagenet" and default_size not in _FILES:
        raise ValueError(
            "ImageNet weights exist only for NASNetLarge (default_size=331) and "
            f"NASNetMobile (default_size=224); got default_size={default_size}."
        )
    filters = penultimate_filters // 24

    # 1. Stem: a strided convolution and two reduction cells.
    x = layers.Conv2D(
        stem_block_filters,
        3,
        strides=2,
        padding="valid",
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem_conv1",
    )(img_input)
    x = _bn(x, "stem_bn1")
    x, p = _reduction_a_cell(x, None, filters // filter_multiplier**2, "stem_1")
    x, p = _reduction_a_cell(x, p, filters // filter_multiplier, "stem_2")

    # 2. Three stacks of normal cells, the filters growing at each reduction.
    for stack in range(3):
        width = filters * filter_multiplier**stack
        if stack > 0:
            x, p0 = _reduction_a_cell(x, p, width, f"reduce_{stack * num_blocks}")
            p = p if skip_reduction else p0
        for i in range(num_blocks):
            block_id = stack * num_blocks + i + (1 if stack else 0)
            x, p = _normal_a_cell(x, p, width, str(block_id))

    x = layers.Activation("relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(
            x
        )
    x = imagenet_utils._top_or_pooling(x, include_top, pooling)
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )
    if weights == "imagenet":
        fname, origin, file_hash = _FILES[default_size][0 if include_top else 1]
        return imagenet_utils._load_weights(model, weights, fname, origin, file_hash)
    return imagenet_utils._load_weights(model, weights)


def _bn(x, name):
    return layers.BatchNormalization(
        axis=_CHANNEL_AXIS, momentum=0.9997, epsilon=1e-3, name=name
    )(x)


def _conv1x1(x, filters, name):
    return layers.Conv2D(
        filters,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _separable_conv_block(x, filters, kernel_size=3, strides=1, block_id=None):
    """ReLU, separable convolution (strided one padded as TF's 'same'),
    BatchNorm, ReLU, separable convolution, BatchNorm."""
    x = layers.Activation("relu")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(
            padding=imagenet_utils.correct_pad(x, kernel_size),
            name=f"separable_conv_1_pad_{block_id}",
        )(x)
    x = layers.SeparableConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid" if strides == 2 else "same",
        use_bias=False,
        name=f"separable_conv_1_{block_id}",
    )(x)
    x = _bn(x, f"separable_conv_1_bn_{block_id}")
    x = layers.Activation("relu")(x)
    x = layers.SeparableConv2D(
        filters,
        kernel_size,
        padding="same",
        use_bias=False,
        name=f"separable_conv_2_{block_id}",
    )(x)
    return _bn(x, f"separable_conv_2_bn_{block_id}")


def _adjust_block(p, ip, filters, block_id):
    """Bring the previous cell's output `p` to the size and width of `ip`:
    halve it with two offset 1x1 paths when it is larger, else project it
    with a 1x1 convolution when its width differs."""
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = layers.AveragePooling2D(
            1, strides=2, padding="valid", name=f"adjust_avg_pool_1_{block_id}"
        )(p)
        p1 = _conv1x1(p1, filters // 2, f"adjust_conv_1_{block_id}")
        # The second path samples the odd pixels: shift by one, then pool.
        p2 = layers.ZeroPadding2D(padding=((0, 1), (0, 1)))(p)
        p2 = layers.Cropping2D(cropping=((1, 0), (1, 0)))(p2)
        p2 = layers.AveragePooling2D(
            1, strides=2, padding="valid", name=f"adjust_avg_pool_2_{block_id}"
        )(p2)
        p2 = _conv1x1(p2, filters // 2, f"adjust_conv_2_{block_id}")
        p = layers.concatenate([p1, p2], axis=_CHANNEL_AXIS)
        return _bn(p, f"adjust_bn_{block_id}")
    if p.shape[_CHANNEL_AXIS] != filters:
        p = layers.Activation("relu")(p)
        p = _conv1x1(p, filters, f"adjust_conv_projection_{block_id}")
        return _bn(p, f"adjust_bn_{block_id}")
    return p


def _cell_input(ip, p, filters, kind, block_id):
    # Both cells start alike: adjust `p`, then ReLU, 1x1 convolution, BN of ip.
    p = _adjust_block(p, ip, filters, block_id)
    h = layers.Activation("relu")(ip)
    h = _conv1x1(h, filters, f"{kind}_conv_1_{block_id}")
    return p, _bn(h, f"{kind}_bn_1_{block_id}")


def _avg_pool_3x3(x, name, strides=1, padding="same"):
    return layers.AveragePooling2D(3, strides=strides, padding=padding, name=name)(x)


def _normal_a_cell(ip, p, filters, block_id):
    """A normal cell; returns its output and `ip` (the next cell's `p`)."""
    p, h = _cell_input(ip, p, filters, "normal", block_id)
    sep = _separable_conv_block
    x1 = layers.add(
        [
            sep(h, filters, 5, block_id=f"normal_left1_{block_id}"),
            sep(p, filters, block_id=f"normal_right1_{block_id}"),
        ],
        name=f"normal_add_1_{block_id}",
    )
    x2 = layers.add(
        [
            sep(p, filters, 5, block_id=f"normal_left2_{block_id}"),
            sep(p, filters, 3, block_id=f"normal_right2_{block_id}"),
        ],
        name=f"normal_add_2_{block_id}",
    )
    x3 = layers.add(
        [_avg_pool_3x3(h, f"normal_left3_{block_id}"), p],
        name=f"normal_add_3_{block_id}",
    )
    x4 = layers.add(
        [
            _avg_pool_3x3(p, f"normal_left4_{block_id}"),
            _avg_pool_3x3(p, f"normal_right4_{block_id}"),
        ],
        name=f"normal_add_4_{block_id}",
    )
    x5 = layers.add(
        [sep(h, filters, block_id=f"normal_left5_{block_id}"), h],
        name=f"normal_add_5_{block_id}",
    )
    x = layers.concatenate(
        [p, x1, x2, x3, x4, x5], axis=_CHANNEL_AXIS, name=f"normal_concat_{block_id}"
    )
    return x, ip


def _reduction_a_cell(ip, p, filters, block_id):
    """A reduction cell (half the size); returns its output and `ip`."""
    p, h = _cell_input(ip, p, filters, "reduction", block_id)
    h3 = layers.ZeroPadding2D(
        padding=imagenet_utils.correct_pad(h, 3), name=f"reduction_pad_1_{block_id}"
    )(h)
    sep = _separable_conv_block
    x1 = layers.add(
        [
            sep(h, filters, 5, strides=2, block_id=f"reduction_left1_{block_id}"),
            sep(p, filters, 7, strides=2, block_id=f"reduction_right1_{block_id}"),
        ],
        name=f"reduction_add_1_{block_id}",
    )
    x2 = layers.add(
        [
            layers.MaxPooling2D(
                3, strides=2, padding="valid", name=f"reduction_left2_{block_id}"
            )(h3),
            sep(p, filters, 7, strides=2, block_id=f"reduction_right2_{block_id}"),
        ],
        name=f"reduction_add_2_{block_id}",
    )
    x3 = layers.add(
        [
            _avg_pool_3x3(h3, f"reduction_left3_{block_id}", 2, "valid"),
            sep(p, filters, 5, strides=2, block_id=f"reduction_right3_{block_id}"),
        ],
        name=f"reduction_add3_{block_id}",
    )
    x4 = layers.add([x2, _avg_pool_3x3(x1, f"reduction_left4_{block_id}")])
    # Keras: this block reuses the "left4" name of the pooling above.
    x5 = layers.add(
        [
            sep(x1, filters, 3, block_id=f"reduction_left4_{block_id}"),
            layers.MaxPooling2D(
                3, strides=2, padding="valid", name=f"reduction_right5_{block_id}"
            )(h3),
        ],
        name=f"reduction_add4_{block_id}",
    )
    x = layers.concatenate(
        [x2, x3, x4, x5], axis=_CHANNEL_AXIS, name=f"reduction_concat_{block_id}"
    )
    return x, ip


def _variant(title, key, penultimate_filters, num_blocks, stem, skip, size):
    def builder(
        input_shape=None,
        include_top: bool = True,
        weights="imagenet",
        input_tensor=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        name: str = f"nasnet_{key}",
    ):
        if not include_top and input_shape is None and key == "mobile":
            # Keras: the mobile features default to 224 px too.
            input_shape = (224, 224, 3)
        return NASNet(
            input_shape,
            penultimate_filters=penultimate_filters,
            num_blocks=num_blocks,
            stem_block_filters=stem,
            skip_reduction=skip,
            filter_multiplier=2,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            pooling=pooling,
            classes=classes,
            default_size=size,
            classifier_activation=classifier_activation,
            name=name,
        )

    builder.__name__ = builder.__qualname__ = f"NASNet{title}"
    builder.__doc__ = f"""Build NASNet-A {title} ({num_blocks} normal cells per
    stack, {penultimate_filters} penultimate filters, trained at
    {size}x{size}), optionally with Keras's ImageNet weights.

    Feed it images prepared by `lamina.applications.nasnet.preprocess_input`.
    Only the 'channels_last' image data format is supported. (Keras refuses
    NASNetMobile on its torch backend; lamina builds it.)

    Args:
        input_shape: Image shape without the batch axis; must be
            `({size}, {size}, 3)` with `include_top=True` and imagenet
            weights, else sides of at least 32. Defaults to `None`.
        include_top: Whether to end with global average pooling and the
            `predictions` Dense layer. Defaults to `True`.
        weights: `None` (random initialization), `"imagenet"` (download
            Keras's pretrained file) or the path of a weights file. Defaults
            to `"imagenet"`.
        input_tensor: Optional symbolic tensor (e.g. from `lamina.Input`) to
            build the model on.
        pooling: Without the top: `None` (4D feature maps), `"avg"` or
            `"max"` (global pooling to 2D). Defaults to `None`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the `predictions` layer; only
            `None` or `"softmax"` with pretrained weights. Defaults to
            `"softmax"`.
        name: The model's name. Defaults to `"nasnet_{key}"`.

    Returns:
        A functional `lamina.Model`.
    """
    return builder


NASNetMobile = _variant("Mobile", "mobile", 1056, 4, 32, False, 224)
NASNetLarge = _variant("Large", "large", 4032, 6, 96, True, 331)


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for NASNet: "tf" mode of
    `imagenet_utils.preprocess_input` (scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
