"""SpatialDropout1D/2D/3D: drop whole feature maps (channels) while training."""

import torch

from lamina import backend, random
from lamina.layers.input_spec import InputSpec
from lamina.layers.regularization.dropout import Dropout


class _SpatialDropout(Dropout):
    """Shared logic: one keep/drop decision per (example, channel)."""

    _rank = None  # input rank: 3, 4 or 5

    def __init__(
        self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs
    ):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = _standardize_data_format(type(self).__name__, data_format)
        self.input_spec = InputSpec(ndim=self._rank)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if inputs.ndim != self._rank:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects inputs of "
                f"rank {self._rank}; got shape {tuple(inputs.shape)}."
            )
        # Channels keep their size; every other non-batch axis broadcasts.
        channel = 1 if self.data_format == "channels_first" else inputs.ndim - 1
        noise_shape = [1] * inputs.ndim
        noise_shape[0] = inputs.shape[0]
        noise_shape[channel] = inputs.shape[channel]
        if self.seed_generator is not None:
            # Seeded draws follow Keras's recipe, for identical masks.
            return random.dropout(
                inputs, self.rate, noise_shape=noise_shape, seed=self.seed_generator
            )
        if self.rate == 1:
            return torch.zeros_like(inputs)
        keep = 1.0 - self.rate
        noise = torch.empty(noise_shape, dtype=inputs.dtype, device=inputs.device)
        return inputs * noise.bernoulli_(keep).div_(keep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        # Keras's spatial dropout config holds exactly these keys.
        return {
            "rate": self.rate,
            "seed": self.seed,
            "name": self.name,
            "dtype": self.dtype,
            "data_format": self.data_format,
        }


class SpatialDropout1D(_SpatialDropout):
    """Drops entire channels of `(batch, steps, channels)` inputs while
    training, scaling the kept ones by `1 / (1 - rate)`; identity at inference.

    Neighbouring steps of a channel are strongly correlated, so dropping single
    values regularizes little; dropping the whole channel does.

    Args:
        rate: Fraction of channels to drop, in `[0, 1]`.
        seed: Int seed for reproducible masks. Defaults to the global RNG.

    Example:
    >>> x = np.ones((1, 3, 4), "float32")
    >>> y = lamina.layers.SpatialDropout1D(0.5, seed=1)(x, training=True)
    >>> bool((y == y[:, :1]).all())  # same mask at every step
    True
    """

    _rank = 3

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(
            rate,
            data_format="channels_last",
            seed=seed,
            name=name,
            dtype=dtype,
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class SpatialDropout2D(_SpatialDropout):
    """Drops entire channels (feature maps) of images while training, scaling
    the kept ones by `1 / (1 - rate)`; identity at inference.

    Args:
        rate: Fraction of channels to drop, in `[0, 1]`.
        data_format: `"channels_last"` (`(batch, H, W, C)`) or
            `"channels_first"` (`(batch, C, H, W)`). Defaults to
            `lamina.backend.image_data_format()`.
        seed: Int seed for reproducible masks. Defaults to the global RNG.

    Example:
    >>> x = np.ones((2, 4, 4, 3), "float32")
    >>> tuple(lamina.layers.SpatialDropout2D(0.5)(x, training=True).shape)
    (2, 4, 4, 3)
    """

    _rank = 4


class SpatialDropout3D(_SpatialDropout):
    """Drops entire channels of volumes while training, scaling the kept ones by
    `1 / (1 - rate)`; identity at inference.

    Args:
        rate: Fraction of channels to drop, in `[0, 1]`.
        data_format: `"channels_last"` (`(batch, D, H, W, C)`) or
            `"channels_first"` (`(batch, C, D, H, W)`). Defaults to
            `lamina.backend.image_data_format()`.
        seed: Int seed for reproducible masks. Defaults to the global RNG.
    """

    _rank = 5


def _standardize_data_format(who: str, data_format) -> str:
    if data_format is None:
        return backend.image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{who} expects data_format 'channels_last' or 'channels_first'; got "
            f"data_format={data_format!r}."
        )
    return value
