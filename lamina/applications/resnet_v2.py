"""ResNetV2 (He et al., 2016): pre-activation residual blocks."""

from lamina.applications import imagenet_utils
from lamina.applications.resnet import ResNet, stack_residual_blocks_v2


def _v2_stacks(blocks):
    def stack_fn(x):
        x = stack_residual_blocks_v2(x, 64, blocks[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, blocks[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, blocks[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, blocks[3], stride1=1, name="conv5")

    return stack_fn


def _resnet_v2(blocks, weights_name, **kwargs):
    return ResNet(
        _v2_stacks(blocks),
        preact=True,
        use_bias=True,
        weights_name=weights_name,
        **kwargs,
    )


def ResNet50V2(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "resnet50v2",
):
    """Build ResNet50V2 (pre-activation stacks of 3, 4, 6, 3 blocks).

    The arguments are those of `lamina.applications.ResNet50`; feed it images
    prepared by `lamina.applications.resnet_v2.preprocess_input`.

    Returns:
        A functional `lamina.Model`.
    """
    return _resnet_v2(
        (3, 4, 6, 3),
        "resnet50v2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def ResNet101V2(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "resnet101v2",
):
    """Build ResNet101V2 (pre-activation stacks of 3, 4, 23, 3 blocks); the
    arguments are those of `ResNet50V2`."""
    return _resnet_v2(
        (3, 4, 23, 3),
        "resnet101v2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def ResNet152V2(
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "resnet152v2",
):
    """Build ResNet152V2 (pre-activation stacks of 3, 8, 36, 3 blocks); the
    arguments are those of `ResNet50V2`."""
    return _resnet_v2(
        (3, 8, 36, 3),
        "resnet152v2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def preprocess_input(x, data_format=None):
    """Prepare RGB images (0..255) for ResNetV2: "tf" mode of
    `imagenet_utils.preprocess_input` (scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
