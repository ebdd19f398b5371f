"""ConvNeXt (Liu et al., 2022): a ResNet modernized in the image of vision
transformers: patchify stem, 7x7 depthwise convolutions, LayerNorm, GELU
MLPs and per-channel layer scale."""

import numpy as np

from lamina import backend, initializers, layers, ops, random
from lamina.applications import imagenet_utils
from lamina.layers.layer import Layer
from lamina.models.functional import Functional
from lamina.models.sequential import Sequential

BASE_WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
)
# (with top, without top) sha256 hashes of Keras's published weight files.
WEIGHTS_HASHES = {
    "convnext_tiny": (
        "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
    ),
    "convnext_small": (
        "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
        "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab",
    ),
    "convnext_base": (
        "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
        "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45",
    ),
    "convnext_large": (
        "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
        "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd",
    ),
    "convnext_xlarge": (
        "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05",
    ),
}
_LONG = [3, 3, 27, 3]
MODEL_CONFIGS = {
    "tiny": {"depths": [3, 3, 9, 3], "projection_dims": [96, 192, 384, 768]},
    "small": {"depths": _LONG, "projection_dims": [96, 192, 384, 768]},
    "base": {"depths": _LONG, "projection_dims": [128, 256, 512, 1024]},
    "large": {"depths": _LONG, "projection_dims": [192, 384, 768, 1536]},
    "xlarge": {"depths": _LONG, "projection_dims": [256, 512, 1024, 2048]},
}
for _config in MODEL_CONFIGS.values():
    _config["default_size"] = 224


class StochasticDepth(Layer):
    """Residual-branch dropout per sample: in training, each sample's input
    is zeroed with probability `drop_path_rate` (and the rest scaled up by
    `1 / (1 - drop_path_rate)`); at inference the input passes unchanged.

    Args:
        drop_path_rate: Probability of dropping a sample's branch, in [0, 1).
    """

    def __init__(self, drop_path_rate: float, **kwargs):
        super().__init__(**kwargs)
        self.drop_path_rate = drop_path_rate

    def call(self, x, training=None):
        if not training:
            return x
        keep_prob = 1 - self.drop_path_rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = ops.floor(keep_prob + random.uniform(shape, 0, 1))
        return ops.multiply(ops.divide(x, keep_prob), ops.cast(mask, x.dtype))

    def get_config(self):
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate}


class LayerScale(Layer):
    """Multiplies the last axis by a learned vector `gamma`, initialized to
    `init_values`.

    Args:
        init_values: Initial value of every entry of `gamma`.
        projection_dim: Size of the last axis.
    """

    def __init__(self, init_values: float, projection_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        self.gamma = self.add_weight(
            shape=(self.projection_dim,),
            initializer=initializers.Constant(self.init_values),
            trainable=True,
        )

    def call(self, x):
        return ops.multiply(x, self.gamma)

    def get_config(self):
        return {
            **super().get_config(),
            "init_values": self.init_values,
            "projection_dim": self.projection_dim,
        }


def ConvNeXtBlock(
    projection_dim: int,
    drop_path_rate: float = 0.0,
    layer_scale_init_value=1e-6,
    name=None,
):
    """A function applying one ConvNeXt block: 7x7 depthwise convolution,
    LayerNorm, a GELU MLP of width `4 * projection_dim`, layer scale, and a
    residual sum (through stochastic depth when `drop_path_rate` > 0)."""
    if name is None:
        name = f"prestem{backend.get_uid('prestem')}"

    def apply(inputs):
        x = layers.Conv2D(
            filters=projection_dim,
            kernel_size=7,
            padding="same",
            groups=projection_dim,
            name=f"{name}_depthwise_conv",
        )(inputs)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = LayerScale(
                layer_scale_init_value, projection_dim, name=f"{name}_layer_scale"
            )(x)
        if drop_path_rate:
            x = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")(x)
        else:
            x = layers.Activation("linear", name=f"{name}_identity")(x)
        # Keras: a plain `+`, an operation rather than an `Add` layer.
        return inputs + x

    return apply


def PreStem(name=None):
    """A function normalizing 0..255 RGB images with the ImageNet mean and
    standard deviation (a `Normalization` layer with fixed statistics)."""
    if name is None:
        name = f"prestem{backend.get_uid('prestem')}"

    def apply(x):
        mean = [0.485 * 255, 0.456 * 255, 0.406 * 255]
        std = [0.229 * 255, 0.224 * 255, 0.225 * 255]
        return layers.Normalization(
            mean=mean,
            variance=[s**2 for s in std],
            name=f"{name}_prestem_normalization",
        )(x)

    return apply


def Head(num_classes: int = 1000, classifier_activation=None, name=None):
    """A function applying the classifier: global average pooling,
    LayerNorm and a Dense layer of `num_classes`."""
    if name is None:
        name = str(backend.get_uid("head"))

    def apply(x):
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_layernorm")(x)
        return layers.Dense(
            num_classes, activation=classifier_activation, name=f"{name}_head_dense"
        )(x)

    return apply


def ConvNeXt(
    depths,
    projection_dims,
    drop_path_rate: float = 0.0,
    layer_scale_init_value=1e-6,
    default_size: int = 224,
    name: str = "convnext",
    include_preprocessing: bool = True,
    include_top: bool = True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    weights_name=None,
):
    """Build a ConvNeXt of four stages.

    Args:
        depths: Number of blocks of each of the four stages.
        projection_dims: Channels of each stage.
        drop_path_rate: Largest stochastic-depth rate, reached by the last
            block. Defaults to `0.0`.
        layer_scale_init_value: Initial layer scale, or `None` for none.
            Defaults to `1e-6`.
        default_size: Image side with the top. Defaults to `224`.
        name: The model's name, prefix of its layers' names; with imagenet
            weights it must contain `weights_name`.
        include_preprocessing, include_top, weights, input_tensor,
            input_shape, pooling, classes, classifier_activation: As for
            `ConvNeXtTiny`; `weights` defaults to `None` here.
        weights_name: Key of `WEIGHTS_HASHES`, e.g. `"convnext_tiny"`.

    Returns:
        A functional `lamina.Model`.
    """
    if backend.image_data_format() == "channels_first":
        raise ValueError(
            "ConvNeXt supports only the 'channels_last' image data format; the "
            "current format is 'channels_first'. Call "
            "lamina.backend.set_image_data_format('channels_last') first."
        )
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
    x = img_input

    # 1. Optional normalization, then a 4x4 patchify stem and three 2x2
    # downsampling steps, each a nested Sequential as in Keras.
    if include_preprocessing and input_shape[-1] == 3:
        x = PreStem(name=name)(x)
    downsample_layers = [
        Sequential(
            [
                layers.Conv2D(
                    projection_dims[0],
                    kernel_size=4,
                    strides=4,
                    name=f"{name}_stem_conv",
                ),
                layers.LayerNormalization(epsilon=1e-6, name=f"{name}_stem_layernorm"),
            ],
            name=f"{name}_stem",
        )
    ]
    for i in range(3):
        downsample_layers.append(
            Sequential(
                [
                    layers.LayerNormalization(
                        epsilon=1e-6, name=f"{name}_downsampling_layernorm_{i}"
                    ),
                    layers.Conv2D(
                        projection_dims[i + 1],
                        kernel_size=2,
                        strides=2,
                        name=f"{name}_downsampling_conv_{i}",
                    ),
                ],
                name=f"{name}_downsampling_block_{i}",
            )
        )

    # 2. Four stages of blocks with linearly rising drop-path rates.
    drop_rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    cur = 0
    for i in range(4):
        x = downsample_layers[i](x)
        for j in range(depths[i]):
            x = ConvNeXtBlock(
                projection_dim=projection_dims[i],
                drop_path_rate=drop_rates[cur + j],
                layer_scale_init_value=layer_scale_init_value,
                name=f"{name}_stage_{i}_block_{j}",
            )(x)
        cur += depths[i]

    # 3. Head, or optional pooling and a final LayerNorm.
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Head(
            num_classes=classes, classifier_activation=classifier_activation, name=name
        )(x)
    else:
        x = imagenet_utils._top_or_pooling(x, include_top, pooling)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
    model = Functional(
        imagenet_utils._model_inputs(input_tensor, img_input), x, name=name
    )

    if weights == "imagenet":
        expected = MODEL_CONFIGS[weights_name.split("convnext_")[-1]]
        if (
            list(depths) != expected["depths"]
            or list(projection_dims) != expected["projection_dims"]
        ):
            raise ValueError(
                f"The architecture does not match the {weights_name} weights: "
                f"expected depths={expected['depths']} and projection_dims="
                f"{expected['projection_dims']}; got depths={list(depths)} and "
                f"projection_dims={list(projection_dims)}."
            )
        if weights_name not in name:
            raise ValueError(
                f"Model name {name!r} does not match weights variant "
                f"{weights_name!r}: with imagenet weights the name must contain "
                f"{weights_name!r} (it names the weights file)."
            )
        fname = name + (".h5" if include_top else "_notop.h5")
        file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
        return imagenet_utils._load_weights(
            model, weights, fname, BASE_WEIGHTS_PATH + fname, file_hash
        )
    return imagenet_utils._load_weights(model, weights)


def _variant(size):
    config = MODEL_CONFIGS[size]
    title = {"xlarge": "XLarge"}.get(size, size.capitalize())

    def builder(
        include_top: bool = True,
        include_preprocessing: bool = True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        name: str = f"convnext_{size}",
    ):
        return ConvNeXt(
            weights_name=f"convnext_{size}",
            depths=config["depths"],
            projection_dims=config["projection_dims"],
            drop_path_rate=0.0,
            layer_scale_init_value=1e-6,
            default_size=config["default_size"],
            name=name,
            include_top=include_top,
            include_preprocessing=include_preprocessing,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
        )

    builder.__name__ = builder.__qualname__ = f"ConvNeXt{title}"
    builder.__doc__ = f"""Build ConvNeXt{title} (stages of {config["depths"]}
    blocks, {config["projection_dims"]} channels), optionally with Keras's
    ImageNet weights.

    The model normalizes its input itself (`include_preprocessing=True`):
    feed it RGB images with values 0..255
    (`lamina.applications.convnext.preprocess_input` returns its input
    unchanged). Only the 'channels_last' image data format is supported.

    Args:
        include_top: Whether to end with the classifier head (pooling,
            LayerNorm, Dense). Defaults to `True`.
        include_preprocessing: Whether the model starts with ImageNet
            normalization (only for 3-channel input). Defaults to `True`.
        weights: `None` (random initialization), `"imagenet"` (download
            Keras's pretrained file) or the path of a weights file. Defaults
            to `"imagenet"`.
        input_tensor: Optional symbolic tensor (e.g. from `lamina.Input`) to
            build the model on.
        input_shape: Image shape without the batch axis; must be
            `(224, 224, 3)` with `include_top=True` and imagenet weights,
            else sides of at least 32. Defaults to `None`.
        pooling: Without the top: `None` (4D feature maps), `"avg"` or
            `"max"` (global pooling to 2D); a LayerNorm follows either way.
            Defaults to `None`.
        classes: Number of classes of the head. Defaults to `1000`.
        classifier_activation: Activation of the head's Dense layer; only
            `None` or `"softmax"` with pretrained weights. Defaults to
            `"softmax"`.
        name: The model's name and its layers' prefix. Defaults to
            `"convnext_{size}"`.

    Returns:
        A functional `lamina.Model`.
    """
    return builder


ConvNeXtTiny = _variant("tiny")
ConvNeXtSmall = _variant("small")
ConvNeXtBase = _variant("base")
ConvNeXtLarge = _variant("large")
ConvNeXtXLarge = _variant("xlarge")


def preprocess_input(x, data_format=None):
    """Return `x` unchanged: ConvNeXt models normalize their input
    themselves. Kept so that every application module has one."""
    return x


def decode_predictions(preds, top: int = 5) -> list:
    """The top ImageNet classes of each prediction; see
    `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
