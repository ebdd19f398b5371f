"""Rescaling: multiply inputs by `scale` and add `offset`."""

import numpy as np
import torch

from lamina import backend
from lamina.backend import shape_inference
from lamina.layers.layer import Layer
from lamina.layers.preprocessing._data_layer import DataLayerBackend
from lamina.saving import serialization_lib


class Rescaling(DataLayerBackend, Layer):
    """Computes `inputs * scale + offset` in the layer's compute dtype.

    Args:
        scale: A number, or an array broadcast against the inputs (e.g. one
            value per channel). `1 / 255` maps `[0, 255]` pixels to `[0, 1]`.
        offset: A number or array added after scaling. Defaults to `0.0`;
            `scale=1 / 127.5, offset=-1` maps `[0, 255]` to `[-1, 1]`.

    Input: any shape; output: the same shape. With an array `scale` and
    `image_data_format() == "channels_first"`, `scale` is aligned with the
    channel axis, as in Keras.

    Example:
    >>> layer = lamina.layers.Rescaling(1 / 255)
    >>> layer(np.array([[0, 255]], "uint8")).tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True
        self.built = True
        self._constants = None

    def _as_constants(self, device):
        # Converted once per device (not per call): the values never change.
        if self._constants is None or self._constants[0].device != device:
            dtype = self._compute_torch_dtype
            # Made outside inference mode: kept tensors built by a first call in
            # predict() would otherwise break a later fit() (autograd refuses
            # inference tensors).
            with torch.inference_mode(False):
                scale = torch.as_tensor(
                    np.asarray(self.scale), dtype=dtype, device=device
                )
                offset = torch.as_tensor(
                    np.asarray(self.offset), dtype=dtype, device=device
                )
            if scale.ndim > 0 and backend.image_data_format() == "channels_first":
                scale = scale.reshape(tuple(scale.shape) + (1,) * (3 - scale.ndim))
            if shape_inference.inferring():
                return scale, offset  # fake tensors of a shape probe: not kept
            self._constants = (scale, offset)
        return self._constants

    def call(self, inputs):
        scale, offset = self._as_constants(inputs.device)
        return inputs.to(self._compute_torch_dtype) * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": serialization_lib.serialize_keras_object(self.scale),
            "offset": serialization_lib.serialize_keras_object(self.offset),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("scale", "offset"):
            config[key] = serialization_lib.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)
