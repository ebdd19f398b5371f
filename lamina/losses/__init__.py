"""lamina.losses: Keras 3's loss functions and `Loss` classes, on torch tensors.

`get("mse")` returns the function `mean_squared_error`; `get("MeanSquaredError")`
returns an instance, as in Keras.
"""

from lamina.losses._circle import Circle, circle
from lamina.losses._ctc import CTC, ctc
from lamina.losses._hinge import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from lamina.losses.focal import (
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
)
from lamina.losses.generalized_cross_entropy import (
    CategoricalGeneralizedCrossEntropy,
    categorical_generalized_cross_entropy,
)
from lamina.losses.input_checks import check_loss_inputs as check_loss_inputs
from lamina.losses.loss import Loss, LossFunctionWrapper
from lamina.losses.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from lamina.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from lamina.losses.segmentation import Dice, Tversky, dice, tversky
from lamina.saving import serialization_lib

ALL_OBJECTS = (
    Loss,
    LossFunctionWrapper,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    SparseCategoricalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCosh,
    Huber,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    Dice,
    Tversky,
    CTC,
    Circle,
    CategoricalGeneralizedCrossEntropy,
    kl_divergence,
    poisson,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    sparse_categorical_crossentropy,
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    cosine_similarity,
    log_cosh,
    huber,
    hinge,
    squared_hinge,
    categorical_hinge,
    dice,
    tversky,
    ctc,
    circle,
    categorical_generalized_cross_entropy,
)

# Names `get` and `deserialize` accept: every class and function by its own
# name, plus Keras's short aliases.
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in ALL_OBJECTS}
ALL_OBJECTS_DICT.update(
    {
        "bce": binary_crossentropy,
        "BCE": binary_crossentropy,
        "kld": kl_divergence,
        "KLD": kl_divergence,
        "mae": mean_absolute_error,
        "MAE": mean_absolute_error,
        "mse": mean_squared_error,
        "MSE": mean_squared_error,
        "mape": mean_absolute_percentage_error,
        "MAPE": mean_absolute_percentage_error,
        "msle": mean_squared_logarithmic_error,
        "MSLE": mean_squared_logarithmic_error,
    }
)


def serialize(loss):
    """Keras 3 config of a loss: a name dict for functions, a class dict for
    `Loss` objects."""
    return serialization_lib.serialize_keras_object(loss)


def deserialize(name, custom_objects=None):
    """Rebuild a loss function or `Loss` object from `serialize`'s output.

    Args:
        name: What `serialize` returned: a config dict or a loss name.
        custom_objects: Dict of user classes and functions to resolve names.

    Returns:
        A loss function or a `Loss` instance.
    """
    return serialization_lib.deserialize_family_object(
        name, custom_objects, ALL_OBJECTS_DICT, "loss"
    )


def get(identifier):
    """The loss named or described by `identifier`.

    Args:
        identifier: `None`; a name (`"mse"`, `"categorical_crossentropy"` give
            functions, `"MeanSquaredError"` an instance); a config dict; a `Loss`
            object or function (returned as is); or a `Loss` class (instantiated).

    Returns:
        A loss function, a `Loss` instance, or `None`.

    Raises:
        ValueError: Unknown name (with close matches).
        TypeError: Something that is neither a name, dict nor callable.
    """
    return serialization_lib.get_family_object(
        identifier,
        "loss",
        ALL_OBJECTS_DICT,
        deserialize,
        "A loss must be a name like 'mse', a config dict, a Loss object or a "
        "function (y_true, y_pred) -> losses",
    )


__all__ = [
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CTC",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "deserialize",
    "dice",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
]
