"""GroupNormalization: normalize each example over groups of channels."""

import torch
import torch.nn.functional as F

from lamina import constraints, initializers, regularizers
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.normalization.batch_normalization import _channel_axis

_HALF = (torch.float16, torch.bfloat16)


class GroupNormalization(Layer):
    """Splits the channels into `groups` and normalizes each example over each
    group (its channels and all other non-batch axes), then applies a
    per-channel `gamma` and `beta`.

    `groups=1` normalizes over all channels at once (like layer normalization
    over every non-batch axis); `groups=-1` (or the number of channels) gives
    instance normalization.

    Args:
        groups: Number of groups, a positive int that divides the number of
            channels, or `-1` for one group per channel. Defaults to `32`.
        axis: The channel axis, an int. Defaults to `-1`.
        epsilon: Added to the variance before the square root. Defaults to
            `1e-3`.
        center: Whether to add the learned offset `beta`. Defaults to `True`.
        scale: Whether to multiply by the learned `gamma`. Defaults to `True`.
        beta_initializer, gamma_initializer: Defaults to `"zeros"`, `"ones"`.
        beta_regularizer, gamma_regularizer: Optional weight penalties.
        beta_constraint, gamma_constraint: Optional weight constraints.

    Input: rank >= 2 with a known size on `axis`. Output: the same shape.

    Example:
    >>> layer = lamina.layers.GroupNormalization(groups=2, epsilon=0.0)
    >>> layer(np.array([[1.0, 3.0, 10.0, 30.0]], "float32")).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """

    def __init__(
        self,
        groups=32,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        if (
            isinstance(groups, bool)
            or not isinstance(groups, int)
            or (groups <= 0 and groups != -1)
        ):
            raise ValueError(
                "Invalid value for argument `groups`: GroupNormalization expects "
                "`groups` to be a positive int (or -1 for one group per channel); "
                f"got groups={groups!r}."
            )
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(
                "GroupNormalization expects `axis` (the channel axis) to be an "
                f"int; got axis={axis!r}. For channels-last data write axis=-1."
            )
        super().__init__(**kwargs)
        self.groups = groups
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        # Keras: inputs keep their dtype; the layer computes in >= float32.
        self.autocast = False

    def build(self, input_shape):
        who = f"Layer '{self.name}' (GroupNormalization)"
        if len(input_shape) < 2:
            raise ValueError(
                f"{who} expects inputs of rank >= 2 (batch, ..., channels); got "
                f"shape {tuple(input_shape)}."
            )
        channel = _channel_axis(self, input_shape)
        dim = input_shape[channel]
        if dim is None:
            raise ValueError(
                f"{who} needs a known number of channels on axis {self.axis}: the "
                "input tensor should have a defined dimension but the layer "
                f"received an input with shape {tuple(input_shape)}."
            )
        if self.groups == -1:
            self.groups = dim  # Keras records the resolved count in the config.
        if dim % self.groups != 0:
            relation = (
                "cannot be more than the number of channels"
                if self.groups > dim
                else "must be a multiple of the number of channels"
            )
            raise ValueError(
                f"Number of groups ({self.groups}) {relation} ({dim}). "
                f"{who} splits {dim} channels into groups={self.groups}, but "
                f"{self.groups} does not divide {dim}. Choose a number of groups "
                f"that divides the channel count (e.g. one of "
                f"{[g for g in range(1, dim + 1) if dim % g == 0]})."
            )
        self._channel = channel
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        if self.scale:
            self.gamma = self.add_weight(
                shape=(dim,),
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                autocast=False,
            )
        else:
            self.gamma = None
        if self.center:
            self.beta = self.add_weight(
                shape=(dim,),
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                autocast=False,
            )
        else:
            self.beta = None

    def call(self, inputs):
        x = (
            inputs
            if inputs.is_floating_point() and inputs.dtype not in _HALF
            else inputs.float()
        )
        gamma = None if self.gamma is None else self.gamma.to(x.dtype)
        beta = None if self.beta is None else self.beta.to(x.dtype)
        channel = self._channel
        # F.group_norm wants channels on axis 1; a channels-last input is viewed
        # (not copied) that way.
        view = x if channel == 1 else x.movedim(channel, 1)
        out = F.group_norm(view, self.groups, gamma, beta, self.epsilon)
        if channel != 1:
            out = out.movedim(1, channel)
        return out.to(self._compute_torch_dtype)

    def compute_output_shape(self, input_shape):
        _channel_axis(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
