"""VGG16 (Simonyan & Zisserman, 2014): stacks of 3x3 convolutions and max
pooling, then three fully connected layers."""

from lamina import backend, layers
from lamina.applications import imagenet_utils
from lamina.models.functional import Functional

WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_PATH_NO_TOP = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
_HASHES = ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc")


def VGG16(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "vgg16",
):
    """Build VGG16, optionally with Keras's ImageNet weights.

    Feed it images prepared by `lamina.applications.vgg16.preprocess_input`.

    Args:
        include_top: Whether to end with the three fully connected layers
            (`fc1`, `fc2`, `predictions`). Defaults to `True`.
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
        name: The model's name. Defaults to `"vgg16"`.

    Returns:
        A functional `lamina.Model`.
    """
    return _vgg(
        (2, 2, 3, 3, 3),
        (WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP),
        _HASHES,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def _vgg(
    convs_per_block,
    urls,
    hashes,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
):
    """VGG with `convs_per_block[i]` 3x3 convolutions in block `i + 1`."""
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
    x = img_input
    for block, (filters, convs) in enumerate(
        zip((64, 128, 256, 512, 512), convs_per_block), start=1
    ):
        for conv in range(1, convs + 1):
            x = layers.Conv2D(
                filters,
                (3, 3),
                activation="relu",
                padding="same",
                name=f"block{block}_conv{conv}",
            )(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(
            x
        )
    x = imagenet_utils._top_or_pooling(x, include_top, pooling)
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )
    url = urls[0] if include_top else urls[1]
    return imagenet_utils._load_weights(
        model,
        weights,
        url.rsplit("/", 1)[1],
        url,
        hashes[0] if include_top else hashes[1],
    )


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for VGG16: "caffe" mode of
    `imagenet_utils.preprocess_input` (BGR, ImageNet mean subtracted)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
