"""VGG19 (Simonyan & Zisserman, 2014): VGG16 with a fourth 3x3 convolution in
blocks 3 to 5."""

from lamina.applications import imagenet_utils
from lamina.applications.vgg16 import _vgg

WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_PATH_NO_TOP = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")


def VGG19(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "vgg19",
):
    """Build VGG19, optionally with Keras's ImageNet weights.

    Takes the same arguments as `lamina.applications.VGG16` (`name` defaults
    to `"vgg19"`); feed it images prepared by
    `lamina.applications.vgg19.preprocess_input`.

    Returns:
        A functional `lamina.Model`.
    """
    return _vgg(
        (2, 2, 4, 4, 4),
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


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for VGG19: "caffe" mode of
    `imagenet_utils.preprocess_input` (BGR, ImageNet mean subtracted)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
