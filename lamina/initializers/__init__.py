"""lamina.initializers: how new weights are filled, and lookup by Keras name."""

import re

import numpy as np
import torch

from lamina.backend import standardize_dtype, to_torch_dtype
from lamina.initializers.constant_initializers import Constant, Identity, Ones, Zeros
from lamina.initializers.initializer import Initializer, standardize_shape
from lamina.initializers.random_initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
)
from lamina.initializers.stft_initializer import STFT
from lamina.saving import serialization_lib

# Keras exports snake_case and legacy aliases as the same classes.
constant = Constant
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
identity = Identity
IdentityInitializer = Identity
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
ones = Ones
orthogonal = Orthogonal
OrthogonalInitializer = Orthogonal
random_normal = RandomNormal
random_uniform = RandomUniform
stft = STFT
STFTInitializer = STFT
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
zeros = Zeros

ALL_OBJECTS = (
    Initializer,
    Constant,
    Identity,
    Ones,
    Zeros,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    STFT,
    TruncatedNormal,
    VarianceScaling,
)


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_snake_case(cls.__name__): cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update(
    {
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
        "STFTInitializer": STFT,
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
    }
)


def serialize(initializer) -> dict:
    """Keras 3 config dict of an initializer (`module`, `class_name`, `config`, ...).

    Example:
    >>> from lamina import initializers
    >>> initializers.serialize(initializers.Zeros())["class_name"]
    'Zeros'
    """
    return serialization_lib.serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    """The initializer that `serialize` described (an instance).

    Args:
        config: A config dict, or a name such as `"glorot_uniform"`.
        custom_objects: Optional `{name: class}` for user initializers.
    """
    return serialization_lib.deserialize_family_object(
        config, custom_objects, ALL_OBJECTS_DICT, "initializer", instantiate=True
    )


def _fixed_value(value):
    # Keras: a tensor or array as `initializer` fills a weight of its own shape.
    if isinstance(value, torch.Tensor):
        fixed = value.detach().to("cpu")
    else:
        fixed = torch.as_tensor(np.asarray(value))

    def initialize_fn(shape, dtype=None):
        shape = standardize_shape(shape, "initializer")
        if shape != tuple(fixed.shape):
            raise ValueError(
                f"Expected `shape` to be {tuple(fixed.shape)} (a tensor used as "
                f"initializer fills only its own shape); the weight has shape "
                f"{shape}. Pass a tensor of the weight's shape or an initializer "
                "name."
            )
        return fixed.to(to_torch_dtype(standardize_dtype(dtype))).clone()

    return initialize_fn


def get(identifier):
    """The initializer a `*_initializer=` argument names.

    Args:
        identifier: `None`, a Keras name (`"glorot_uniform"`, `"GlorotUniform"`,
            `"zeros"`, ...), a config dict, a class (instantiated with
            defaults), an instance or callable `(shape, dtype=None) -> tensor`,
            or a tensor / array (fills a weight of exactly its shape).

    Returns:
        A callable initializer, or `None`.

    Raises:
        ValueError: For an unknown name (with close matches).
        TypeError: For anything else.

    Example:
    >>> from lamina import initializers
    >>> type(initializers.get("he_normal")).__name__
    'HeNormal'
    """
    if isinstance(identifier, (torch.Tensor, np.ndarray, np.generic)):
        return _fixed_value(identifier)
    return serialization_lib.get_family_object(
        identifier,
        "initializer",
        ALL_OBJECTS_DICT,
        deserialize,
        "An initializer must be a name such as 'glorot_uniform', a config dict, "
        "an Initializer, a callable (shape, dtype=None) -> tensor, or a tensor",
    )


__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "IdentityInitializer",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "OrthogonalInitializer",
    "RandomNormal",
    "RandomUniform",
    "STFT",
    "STFTInitializer",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "constant",
    "deserialize",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "serialize",
    "stft",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]
