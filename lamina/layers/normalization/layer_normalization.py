"""LayerNormalization: normalize each example over its feature axes."""

import warnings

import torch
import torch.nn.functional as F

from lamina import constraints, initializers, regularizers
from lamina.layers.layer import Layer

_HALF = (torch.float16, torch.bfloat16)


class LayerNormalization(Layer):
    """Normalizes each example to zero mean and unit variance over `axis`, then
    scales by `gamma` and shifts by `beta` (both shaped like those axes).

    Args:
        axis: Int or list of ints, the axes to normalize over. Defaults to `-1`.
        epsilon: Added to the variance before the square root. Defaults to
            `1e-3`.
        center: Whether to add the learned offset `beta`. Defaults to `True`.
        scale: Whether to multiply by the learned `gamma`. Defaults to `True`.
        beta_initializer, gamma_initializer: Defaults to `"zeros"`, `"ones"`.
        beta_regularizer, gamma_regularizer: Optional weight penalties.
        beta_constraint, gamma_constraint: Optional weight constraints.
        rms_scaling: Deprecated in Keras 3 (it divides by the standard
            deviation without centering); kept for old configs, with Keras's
            warning. Use an RMS normalization layer instead.

    Input: any shape with known sizes on `axis`. Output: the same shape,
    computed in at least float32.

    Example:
    >>> layer = lamina.layers.LayerNormalization(epsilon=0.0)
    >>> layer(np.array([[1.0, 3.0]], "float32")).tolist()
    [[-1.0, 1.0]]
    """

    def __init__(
        self,
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
        rms_scaling=False,
        **kwargs,
    ):
        if rms_scaling:
            warnings.warn(
                "LayerNormalization(rms_scaling=True) is deprecated, as in Keras "
                "3: it scales by the variance, not the root mean square. Use an "
                "RMS normalization layer (keras.layers.RMSNormalization) instead.",
                stacklevel=2,
            )
        super().__init__(**kwargs)
        self.axis = _check_axis_argument("LayerNormalization", axis)
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        # Keras: inputs keep their dtype; the layer computes in >= float32.
        self.autocast = False
        self._fast = False  # set by build()

    def build(self, input_shape):
        # Keras: unknown sizes on the normalized axes are fine without weights.
        has_weights = self.scale or self.center or self.rms_scaling
        axes = _resolve_axes(self, input_shape, need_sizes=has_weights)
        # Keras stores the axes as a sorted list once built (visible in configs).
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        shape = tuple(input_shape[a] for a in axes)
        self._axes = axes
        # F.layer_norm normalizes trailing axes only.
        rank = len(input_shape)
        self._trailing = axes == list(range(rank - len(axes), rank))
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                trainable=True,
                autocast=False,
            )
        else:
            self.gamma = None
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                trainable=True,
                autocast=False,
            )
        else:
            self.beta = None
        # call()'s fast path: the fused kernel alone, when the inputs and the
        # weights already have the (float32 or float64) compute dtype.
        self._fast = (
            self._trailing
            and not self.rms_scaling
            and self._compute_torch_dtype in (torch.float32, torch.float64)
        )

    def call(self, inputs):
        if self._fast:
            gamma, beta, dtype = self.gamma, self.beta, inputs.dtype
            if (
                dtype == self._compute_torch_dtype
                and (gamma is None or gamma.dtype == dtype)
                and (beta is None or beta.dtype == dtype)
            ):
                n = len(self._axes)
                shape = inputs.shape[inputs.ndim - n :]
                return F.layer_norm(inputs, shape, gamma, beta, self.epsilon)
        x = (
            inputs.float()
            if inputs.dtype in _HALF or not inputs.is_floating_point()
            else inputs
        )
        gamma = None if self.gamma is None else self.gamma.to(x.dtype)
        beta = None if self.beta is None else self.beta.to(x.dtype)
        axes = self._axes
        if self.rms_scaling:
            variance = torch.var(x, dim=axes, correction=0, keepdim=True)
            out = x * torch.rsqrt(variance + self.epsilon)
            if gamma is not None:
                out = out * gamma.reshape(self._broadcast_shape(x))
        elif self._trailing:
            out = F.layer_norm(
                x, x.shape[x.ndim - len(axes) :], gamma, beta, self.epsilon
            )
        else:
            variance, mean = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
            inv = torch.rsqrt(variance + self.epsilon)
            shape = self._broadcast_shape(x)
            if gamma is not None:
                inv = inv * gamma.reshape(shape)
            out = x * inv - mean * inv
            if beta is not None:
                out = out + beta.reshape(shape)
        return out.to(self._compute_torch_dtype)

    def _broadcast_shape(self, x):
        shape = [1] * x.ndim
        for a in self._axes:
            shape[a] = x.shape[a]
        return shape

    def compute_output_shape(self, input_shape):
        _resolve_axes(self, input_shape, need_sizes=False)
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }


def _check_axis_argument(who: str, axis):
    """`axis` as given (an int, or a list for several axes); TypeError else."""
    if isinstance(axis, (list, tuple)):
        if all(isinstance(a, int) and not isinstance(a, bool) for a in axis) and axis:
            return list(axis)
    elif isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    keras_phrase = (
        "Invalid value for `axis` argument: expected an int or a list/tuple of ints."
        if who == "UnitNormalization"
        else "Expected an int or a list/tuple of ints for the argument 'axis'."
    )
    raise TypeError(
        f"{keras_phrase} {who} expects `axis` to be an int or a non-empty list of "
        f"ints; got axis={axis!r}. For the features axis write axis=-1."
    )


def _resolve_axes(layer, input_shape, need_sizes: bool = True) -> list:
    """The layer's axes as sorted non-negative ints for `input_shape`; a
    ValueError naming the layer if one is out of range, repeated or (with
    `need_sizes`) of unknown size."""
    rank = len(input_shape)
    axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    who = f"Layer '{layer.name}' ({type(layer).__name__})"
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"{who} got axis={layer.axis}, out of range for inputs of shape "
                f"{tuple(input_shape)} (rank {rank}); expected axes in "
                f"[{-rank}, {rank})."
            )
    resolved = sorted(a % rank for a in axes)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"{who} got axis={layer.axis}, which repeats an axis.")
    for a in resolved:
        if need_sizes and input_shape[a] is None:
            raise ValueError(
                f"{who} needs known sizes on the normalized axes; got input shape "
                f"{tuple(input_shape)} with axis {a} of unknown size."
            )
    return resolved
