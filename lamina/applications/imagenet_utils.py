"""ImageNet helpers shared by the application builders: input preprocessing,
prediction decoding, input-shape checks and loading of published weights."""

import json
import os
import warnings

import numpy as np

from lamina import activations, backend, layers, ops
from lamina.utils import file_utils
from lamina.utils.source_inputs import get_source_inputs

CLASS_INDEX = None
CLASS_INDEX_PATH = (
    "https://storage.googleapis.com/download.tensorflow.org/"
    "data/imagenet_class_index.json"
)
_CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

# Per-channel ImageNet statistics, in the channel order each mode works in.
_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR, pixel scale 0..255
_TORCH_MEAN = (0.485, 0.456, 0.406)  # RGB, pixel scale 0..1
_TORCH_STD = (0.229, 0.224, 0.225)


def preprocess_input(x, data_format=None, mode: str = "caffe"):
    """Scale a batch of RGB images (values 0..255) the way an ImageNet model
    was trained to see them.

    Args:
        x: A NumPy array or tensor, 3D (one image) or 4D (a batch), with 3
            colour channels. Integer input is cast to `floatx()` first.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `None`, which means `lamina.backend.image_data_format()`.
        mode: `"caffe"` (RGB to BGR, then subtract the ImageNet mean per
            channel, no scaling), `"tf"` (scale to [-1, 1]) or `"torch"` (scale
            to [0, 1], then standardize each channel with the ImageNet mean
            and std). Defaults to `"caffe"`.

    Returns:
        The preprocessed images, same shape; a NumPy array for NumPy input,
        else a tensor. Unlike Keras, NumPy input is never overwritten.

    Raises:
        ValueError: For an unknown `mode` or `data_format`.

    Example:
    >>> import numpy as np
    >>> preprocess_input(np.full((1, 2, 2, 3), 255.0), mode="tf")[0, 0, 0]
    array([1., 1., 1.])
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError(
            "preprocess_input expects `mode` to be one of 'caffe', 'tf' or "
            f"'torch'; got mode={mode!r}."
        )
    if data_format is None:
        data_format = backend.image_data_format()
    elif data_format not in {"channels_first", "channels_last"}:
        raise ValueError(
            "preprocess_input expects `data_format` to be 'channels_last' or "
            f"'channels_first'; got data_format={data_format!r}."
        )
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_axis(ndim, data_format):
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def _channel_shape(ndim, data_format):
    # A shape that broadcasts 3 per-channel values against the images.
    shape = [1] * ndim
    shape[_channel_axis(ndim, data_format)] = 3
    return tuple(shape)


def _preprocess_numpy(x, data_format, mode):
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx())
    dtype = x.dtype
    if mode == "tf":
        return (x / dtype.type(127.5) - dtype.type(1.0)).astype(dtype, copy=False)
    shape = _channel_shape(x.ndim, data_format)
    if mode == "torch":
        mean = np.asarray(_TORCH_MEAN, dtype=dtype).reshape(shape)
        std = np.asarray(_TORCH_STD, dtype=dtype).reshape(shape)
        return ((x / dtype.type(255.0) - mean) / std).astype(dtype, copy=False)
    x = np.flip(x, axis=_channel_axis(x.ndim, data_format))  # RGB -> BGR
    mean = np.asarray(_CAFFE_MEAN, dtype=dtype).reshape(shape)
    return (x - mean).astype(dtype, copy=False)


def _preprocess_tensor(x, data_format, mode):
    x = ops.convert_to_tensor(x)
    dtype = backend.standardize_dtype(x.dtype)
    if not dtype.startswith(("float", "bfloat")):
        dtype = backend.floatx()
        x = ops.cast(x, dtype)
    # ops functions rather than operators: symbolic tensors have no operators.
    if mode == "tf":
        return ops.subtract(ops.divide(x, 127.5), 1.0)
    ndim = len(x.shape)
    shape = _channel_shape(ndim, data_format)
    if mode == "torch":
        mean = ops.reshape(ops.convert_to_tensor(_TORCH_MEAN, dtype=dtype), shape)
        std = ops.reshape(ops.convert_to_tensor(_TORCH_STD, dtype=dtype), shape)
        return ops.divide(ops.subtract(ops.divide(x, 255.0), mean), std)
    x = ops.flip(x, axis=_channel_axis(ndim, data_format))  # RGB -> BGR
    mean = ops.reshape(ops.convert_to_tensor(_CAFFE_MEAN, dtype=dtype), shape)
    return ops.subtract(x, mean)


def decode_predictions(preds, top: int = 5) -> list:
    """The `top` ImageNet classes of each prediction, best first.

    Downloads Keras's ImageNet class index (`imagenet_class_index.json`, into
    the `models` cache folder) on first use.

    Args:
        preds: Array or tensor of shape `(samples, 1000)`.
        top: How many classes to return per sample. Defaults to `5`.

    Returns:
        One list per sample of `(class_id, class_name, score)` tuples, e.g.
        `("n02123045", "tabby", 0.81)`.

    Raises:
        ValueError: If `preds` is not of shape `(samples, 1000)`.
    """
    global CLASS_INDEX
    preds = ops.convert_to_numpy(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "decode_predictions expects a batch of ImageNet predictions, an "
            f"array of shape (samples, 1000); got shape {tuple(preds.shape)}."
        )
    if CLASS_INDEX is None:
        path = file_utils.get_file(
            "imagenet_class_index.json",
            CLASS_INDEX_PATH,
            cache_subdir="models",
            file_hash=_CLASS_INDEX_HASH,
        )
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    results = []
    for pred in preds:
        best = np.argsort(pred)[::-1][:top]
        results.append([(*CLASS_INDEX[str(i)], pred[i]) for i in best])
    return results


def obtain_input_shape(
    input_shape,
    default_size: int,
    min_size: int,
    data_format: str,
    require_flatten: bool,
    weights=None,
):
    """Validate a builder's `input_shape` (or choose the default one).

    Args:
        input_shape: `None` or a 3-tuple such as `(224, 224, 3)`.
        default_size: The image side the architecture was designed for.
        min_size: The smallest image side it accepts.
        data_format: `"channels_last"` or `"channels_first"`.
        require_flatten: Whether a classifier head (`include_top=True`)
            needs a fixed spatial size.
        weights: `None`, `"imagenet"` or a file path.

    Returns:
        The input shape to build with, a 3-tuple (possibly with `None` sides).

    Raises:
        ValueError: When the shape does not fit the architecture or weights.
    """
    channels_last = data_format != "channels_first"

    def with_size(channels):
        side = (default_size, default_size)
        return side + (channels,) if channels_last else (channels,) + side

    # 1. The default shape keeps a user's channel count unless imagenet.
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[-1] if channels_last else input_shape[0]
        if channels not in {1, 3}:
            warnings.warn(
                f"This model usually expects 1 or 3 input channels; got "
                f"input_shape={tuple(input_shape)} with {channels} channels.",
                stacklevel=3,
            )
        default_shape = with_size(channels)
    else:
        default_shape = with_size(3)
    # 2. imagenet weights with the classifier head fix the whole shape.
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(
                "When setting `include_top=True` and loading `imagenet` weights, "
                f"`input_shape` should be {default_shape}; got "
                f"input_shape={input_shape}."
            )
        return default_shape
    # 3. A user shape: three ints, 3 channels for imagenet, big enough sides.
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError(
                "`input_shape` must be a tuple of three integers (rows, cols, "
                f"channels); got input_shape={input_shape}."
            )
        channels = input_shape[-1] if channels_last else input_shape[0]
        if channels != 3 and weights == "imagenet":
            raise ValueError(
                "The input must have 3 channels to load `imagenet` weights; got "
                f"`input_shape={input_shape}`."
            )
        sides = input_shape[:2] if channels_last else input_shape[1:]
        if any(side is not None and side < min_size for side in sides):
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; got "
                f"input_shape={input_shape}."
            )
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (None, None, 3) if channels_last else (3, None, None)
    if require_flatten and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static "
            f"`input_shape`; got input_shape={input_shape}."
        )
    return tuple(input_shape)


def correct_pad(inputs, kernel_size):
    """The `ZeroPadding2D` padding that lets a strided 'valid' convolution of
    `kernel_size` line up as TF's 'same' padding does."""
    row_axis = 2 if backend.image_data_format() == "channels_first" else 1
    rows, cols = inputs.shape[row_axis : row_axis + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if rows is None else (1 - rows % 2, 1 - cols % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def validate_activation(classifier_activation, weights) -> None:
    """Pretrained heads only accept `softmax` or no activation (`None`)."""
    if weights is None:
        return
    activation = activations.get(classifier_activation)
    if activation not in {activations.get("softmax"), activations.get(None)}:
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the "
            "`classifier_activation` argument when using pretrained weights, "
            "with `include_top=True`; got "
            f"classifier_activation={classifier_activation!r}."
        )


# --- shared by the builders --------------------------------------------------


def _check_weights(weights, include_top, classes) -> None:
    if not (weights in {"imagenet", None} or _exists(weights)):
        raise ValueError(
            "The `weights` argument should be either `None` (random "
            "initialization), 'imagenet' (pre-training on ImageNet), or the path "
            f"to an existing weights file; got weights={weights!r}."
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` "
            f"should be 1000; got classes={classes}. Pass include_top=False to "
            "put your own classifier on the pretrained features."
        )


def _exists(path) -> bool:
    try:
        return os.path.exists(path)
    except TypeError:
        return False


def _image_input(input_tensor, input_shape):
    """The image tensor to build on: a new `Input`, or the user's tensor."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if backend.is_keras_tensor(input_tensor):
        return input_tensor
    raise TypeError(
        "`input_tensor` must be a symbolic tensor, e.g. the output of "
        f"lamina.Input(); got {type(input_tensor).__name__}."
    )


def _model_inputs(input_tensor, img_input):
    # Keras: a user tensor may itself come from earlier layers; the model
    # starts from the `Input` tensors behind it.
    if input_tensor is None:
        return img_input
    sources = get_source_inputs(input_tensor)
    return sources[0] if len(sources) == 1 else sources


def _top_or_pooling(x, include_top, pooling, pool_names=(None, None)):
    """Without a head, apply the optional global pooling (`'avg'`/`'max'`)."""
    if include_top:
        return x
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=pool_names[0])(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=pool_names[1])(x)
    return x


def _load_weights(model, weights, fname=None, origin=None, file_hash=None):
    """Load `weights`: Keras's published file for `'imagenet'` (downloaded
    into the `models` cache) or a user's file path."""
    if weights == "imagenet":
        path = file_utils.get_file(
            fname, origin, cache_subdir="models", file_hash=file_hash
        )
        model.load_weights(path)
    elif weights is not None:
        model.load_weights(weights)
    return model
