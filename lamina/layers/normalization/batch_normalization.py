"""BatchNormalization: normalize with batch statistics while training and with
their moving averages at inference."""

import torch
import torch.nn.functional as F

from lamina import backend, constraints, initializers, regularizers
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer

_HALF = (torch.float16, torch.bfloat16)


class BatchNormalization(Layer):
    """Normalizes each channel to zero mean and unit variance, then scales by
    `gamma` and shifts by `beta`.

    Training (`fit`, or `training=True`) uses the statistics of the batch and
    updates the moving statistics in place:
    `moving = moving * momentum + batch_stat * (1 - momentum)` (the batch
    variance divides by N, as in Keras). Inference uses the moving statistics.
    As in Keras, a layer with `trainable = False` always runs in inference
    mode and leaves its moving statistics alone.

    Args:
        axis: The channel axis, an int (`-1` for channels-last data, `1` after a
            `channels_first` convolution). Defaults to `-1`.
        momentum: Momentum of the moving averages. Defaults to `0.99`.
        epsilon: Added to the variance before the square root. Defaults to
            `1e-3`.
        center: Whether to add the learned offset `beta`. Defaults to `True`.
        scale: Whether to multiply by the learned `gamma`. Defaults to `True`.
        beta_initializer, gamma_initializer: Defaults to `"zeros"`, `"ones"`.
        moving_mean_initializer, moving_variance_initializer: Defaults to
            `"zeros"`, `"ones"`.
        beta_regularizer, gamma_regularizer: Optional weight penalties.
        beta_constraint, gamma_constraint: Optional weight constraints.
        renorm: Whether to use batch renormalization (Ioffe, 2017). Defaults to
            `False`.
        renorm_clipping: Dict with optional keys `"rmax"`, `"rmin"`, `"dmax"`
            that clip the renormalization corrections.
        renorm_momentum: Momentum of the renormalization statistics. Defaults
            to `0.99`.
        synchronized: Must be `False`: statistics are per replica, as with
            Keras's PyTorch backend.

    Input: any shape with a known size on `axis`. Output: the same shape.
    A mask of the inputs' rank minus one excludes masked steps from the batch
    statistics.

    Example:
    >>> layer = lamina.layers.BatchNormalization()
    >>> x = np.array([[0.0, 2.0], [2.0, 6.0]], "float32")
    >>> np.round(lamina.ops.convert_to_numpy(layer(x, training=True)), 2).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> [round(float(v), 3) for v in layer.moving_mean]
    [0.01, 0.04]
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(
                "BatchNormalization normalizes along one channel axis, so `axis` "
                f"must be an int; got axis={axis!r}. For channels-last data use "
                "axis=-1; after a channels_first convolution use axis=1."
            )
        if synchronized:
            raise ValueError(
                "BatchNormalization(synchronized=True) is only available with "
                "Keras's TensorFlow backend; lamina, like Keras on PyTorch, "
                "computes batch statistics per replica. Use synchronized=False."
            )
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.synchronized = synchronized
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.renorm = renorm
        if renorm:
            # Keras: with renorm on, a missing `renorm_clipping` is stored as {}.
            renorm_clipping = renorm_clipping or {}
            _check_renorm_clipping(renorm_clipping)
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.supports_masking = True

    def build(self, input_shape):
        channel_axis = _channel_axis(self, input_shape)
        dim = input_shape[channel_axis]
        if dim is None:
            raise ValueError(
                f"Layer '{self.name}' (BatchNormalization) needs a known size on "
                f"axis {self.axis}; got input shape {tuple(input_shape)}. Give "
                "that axis a fixed size (e.g. Input(shape=(..., channels)))."
            )
        shape = (dim,)
        # Keras order: gamma, beta, moving_mean, moving_variance (files need it).
        if self.scale:
            self.gamma = self.add_weight(
                shape=shape,
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                trainable=True,
                autocast=False,
            )
        else:
            self.gamma = None
        if self.center:
            self.beta = self.add_weight(
                shape=shape,
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                trainable=True,
                autocast=False,
            )
        else:
            self.beta = None
        self.moving_mean = self.add_weight(
            shape=shape,
            name="moving_mean",
            initializer=self.moving_mean_initializer,
            trainable=False,
            autocast=False,
        )
        self.moving_variance = self.add_weight(
            shape=shape,
            name="moving_variance",
            initializer=self.moving_variance_initializer,
            trainable=False,
            autocast=False,
        )
        if self.renorm:
            # Keras tracks the moving standard deviation for renormalization,
            # starting at the square root of the variance initializer.
            def stddev_initializer(shape, dtype=None):
                variance = _clone(self.moving_variance_initializer)(shape, dtype=dtype)
                return torch.sqrt(backend.convert_to_tensor(variance, dtype=dtype))

            self.moving_stddev = self.add_weight(
                shape=shape,
                name="moving_stddev",
                initializer=stddev_initializer,
                trainable=False,
                autocast=False,
            )
            self.renorm_mean = self.add_weight(
                shape=shape,
                name="renorm_mean",
                initializer=_clone(self.moving_mean_initializer),
                trainable=False,
                autocast=False,
            )
            self.renorm_stddev = self.add_weight(
                shape=shape,
                name="renorm_stddev",
                initializer=stddev_initializer,
                trainable=False,
                autocast=False,
            )
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        self._channel = channel_axis

    def call(self, inputs, training=None, mask=None):
        if mask is not None and mask.ndim != inputs.ndim - 1:
            raise ValueError(
                f"Layer '{self.name}' (BatchNormalization) expects a mask with one "
                f"axis fewer than its inputs; got mask shape {tuple(mask.shape)} "
                f"for inputs of shape {tuple(inputs.shape)}."
            )
        # Keras computes in at least float32: half precision overflows here,
        # and integer inputs (a numpy int array) are normalized as floats.
        x = (
            inputs.float()
            if inputs.dtype in _HALF or not inputs.is_floating_point()
            else inputs
        )
        gamma = None if self.gamma is None else self.gamma.to(x.dtype)
        beta = None if self.beta is None else self.beta.to(x.dtype)
        if training and self.trainable:
            if self.renorm or mask is not None or not self._fused_ok(x):
                outputs = self._train_step_unfused(x, mask, gamma, beta)
            else:
                outputs = self._fused(x, gamma, beta, training=True)
        elif self.epsilon > 0:
            outputs = self._fused(x, gamma, beta, training=False)
        else:
            # epsilon=0, which CUDA's fused kernel refuses (Keras allows it).
            mean = self.moving_mean.to(x.dtype)
            outputs = self._normalize(
                x, mean, self.moving_variance.to(x.dtype), gamma, beta
            )
        return outputs.to(self._compute_torch_dtype)

    def compute_output_shape(self, input_shape):
        _channel_axis(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(
                self.moving_mean_initializer
            ),
            "moving_variance_initializer": initializers.serialize(
                self.moving_variance_initializer
            ),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }

    # --- the fused kernel ------------------------------------------------------

    def _fused_ok(self, x):
        # F.batch_norm needs more than one value per channel in training, and
        # running statistics of the input's dtype.
        # CUDA's kernel also refuses epsilon=0 (Keras allows it).
        return (
            self.epsilon > 0
            and x.ndim >= 2
            and x.numel() > x.shape[self._channel]
            and x.dtype == self.moving_mean.dtype
        )

    def _fused(self, x, gamma, beta, training):
        """`F.batch_norm` on a channels-second view of `x`.

        Channels-last inputs are viewed as a 2-D `(N * ..., C)` matrix (free for
        contiguous data, and the layout torch's channels-last kernels use).
        """
        channel = self._channel
        if x.ndim == 1:
            view = x.reshape(1, -1)
        elif channel == x.ndim - 1:
            view = x.reshape(-1, x.shape[-1])
        else:
            view = x.movedim(channel, 1) if channel != 1 else x
        mean, variance = self.moving_mean, self.moving_variance
        if not training:
            out = F.batch_norm(
                view,
                mean.to(x.dtype),
                variance.to(x.dtype),
                gamma,
                beta,
                False,
                0.0,
                self.epsilon,
            )
        else:
            # torch moves running_var toward the unbiased (N - 1) variance;
            # Keras toward the biased (N) one. Running the update on
            # k * moving_variance, k = N / (N - 1), and dividing by k after
            # gives Keras's m * v + (1 - m) * var_N. The scaled copy is a new
            # tensor because autograd keeps the one F.batch_norm saw; the kernel
            # updates the moving mean in place itself.
            count = x.numel() // x.shape[channel]
            k = count / (count - 1)
            scaled = variance * k
            out = F.batch_norm(
                view,
                mean,
                scaled,
                gamma,
                beta,
                True,
                1.0 - self.momentum,
                self.epsilon,
            )
            with torch.no_grad():
                torch.div(scaled, k, out=variance)
        if x.ndim == 1 or channel == x.ndim - 1:
            return out.reshape(x.shape)
        return out.movedim(1, channel) if channel != 1 else out

    # --- masks, renormalization and tiny batches -------------------------------

    def _train_step_unfused(self, x, mask, gamma, beta):
        mean, variance = self._moments(x, mask)
        if self.renorm:
            gamma, beta = self._renorm_transform(mean, variance, gamma, beta)
        else:
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(
                    mean.detach().to(self.moving_mean.dtype), alpha=1 - self.momentum
                )
                self.moving_variance.mul_(self.momentum).add_(
                    variance.detach().to(self.moving_variance.dtype),
                    alpha=1 - self.momentum,
                )
        return self._normalize(x, mean, variance, gamma, beta)

    def _normalize(self, x, mean, variance, gamma, beta):
        """`(x - mean) / sqrt(variance + epsilon) * gamma + beta` per channel."""
        shape = [1] * x.ndim
        shape[self._channel] = x.shape[self._channel]
        inv = torch.rsqrt(variance + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        out = (x - mean.reshape(shape)) * inv.reshape(shape)
        if beta is not None:
            out = out + beta.reshape(shape)
        return out

    def _moments(self, x, mask):
        axes = [i for i in range(x.ndim) if i != self._channel]
        if not axes:  # a single vector: each channel is its own batch
            return x, torch.zeros_like(x)
        if mask is None:
            variance, mean = torch.var_mean(x, dim=axes, correction=0)
            return mean, variance
        # Keras: masked steps drop out of both moments (the mask covers every
        # axis but the last one).
        keep = torch.as_tensor(mask, device=x.device).bool()
        keep = keep.unsqueeze(-1).expand(x.shape)
        weight = keep.to(x.dtype).sum(dim=axes, keepdim=True)
        eps = backend.epsilon()
        mean = torch.where(keep, x, 0).sum(dim=axes, keepdim=True) / (weight + eps)
        squares = torch.where(keep, x - mean, 0).square()
        variance = squares.sum(dim=axes, keepdim=True) / (weight + eps)
        return mean.reshape(-1), variance.reshape(-1)

    def _renorm_transform(self, mean, variance, gamma, beta):
        """Batch renormalization: corrections r, d folded into gamma and beta,
        then the renorm and moving statistics are updated (as in Keras)."""
        eps = self.epsilon
        dtype = mean.dtype
        stddev = torch.sqrt(variance + eps)
        renorm_mean = self.renorm_mean.to(dtype)
        renorm_stddev = torch.clamp(self.renorm_stddev.to(dtype), min=eps**0.5)
        r = (stddev / renorm_stddev).detach()
        d = ((mean - renorm_mean) / renorm_stddev).detach()
        clipping = self.renorm_clipping or {}
        if clipping.get("rmin") is not None:
            r = torch.clamp(r, min=clipping["rmin"])
        if clipping.get("rmax") is not None:
            r = torch.clamp(r, max=clipping["rmax"])
        if clipping.get("dmax") is not None:
            d = torch.clamp(d, -clipping["dmax"], clipping["dmax"])
        if gamma is not None:
            new_gamma, new_beta = r * gamma, d * gamma
        else:
            new_gamma, new_beta = r, d
        if beta is not None:
            new_beta = new_beta + beta
        with torch.no_grad():
            stddev = stddev.detach()
            rm, m = self.renorm_momentum, self.momentum
            self.renorm_mean.mul_(rm).add_(mean.detach(), alpha=1 - rm)
            self.renorm_stddev.mul_(rm).add_(stddev, alpha=1 - rm)
            self.moving_mean.mul_(m).add_(mean.detach(), alpha=1 - m)
            self.moving_stddev.mul_(m).add_(stddev, alpha=1 - m)
            self.moving_variance.copy_(
                torch.relu(self.moving_stddev * self.moving_stddev - eps)
            )
        return new_gamma, new_beta


def _channel_axis(layer, input_shape) -> int:
    rank = len(input_shape)
    if not -rank <= layer.axis < rank:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) got axis={layer.axis}, "
            f"which is out of range for inputs of shape {tuple(input_shape)} "
            f"(rank {rank}); expected an axis in [{-rank}, {rank}). Use -1 for "
            "the last (channels) axis."
        )
    return layer.axis % rank


def _clone(initializer):
    # Keras clones initializers it calls twice, so seeded ones draw anew.
    if hasattr(initializer, "get_config") and hasattr(initializer, "from_config"):
        return type(initializer).from_config(initializer.get_config())
    return initializer


def _check_renorm_clipping(clipping) -> None:
    clipping = clipping or {}
    unknown = set(clipping) - {"rmax", "rmin", "dmax"}
    if unknown:
        raise ValueError(
            "BatchNormalization `renorm_clipping` accepts only the keys 'rmax', "
            f"'rmin' and 'dmax'. Received invalid keys {sorted(unknown)} in "
            f"renorm_clipping={clipping!r}."
        )
    rmax, rmin, dmax = (clipping.get(k) for k in ("rmax", "rmin", "dmax"))
    if rmax is not None and rmin is not None and rmax < rmin:
        raise ValueError(
            "BatchNormalization `renorm_clipping` needs rmax >= rmin (rmax should "
            f"be greater than rmin); got rmax={rmax}, rmin={rmin}."
        )
    if dmax is not None and dmax < 0:
        raise ValueError(
            "BatchNormalization `renorm_clipping` needs dmax >= 0 (dmax should be "
            f"non-negative); got dmax={dmax}."
        )
