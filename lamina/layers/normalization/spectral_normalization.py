"""SpectralNormalization: keep a wrapped layer's kernel at spectral norm 1."""

import numbers

import torch

from lamina import backend, initializers
from lamina.layers.core.wrapper import Wrapper
from lamina.layers.input_spec import InputSpec


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's kernel by an estimate of its largest singular
    value (Miyato et al., 2018), refined by power iteration on every training
    call, which stabilizes GAN discriminators.

    While training, each call runs `power_iterations` steps from the kept
    vector `vector_u`, then writes the normalized kernel and the new vector
    back into the weights (no gradient flows through the normalization, as in
    Keras); the wrapped layer then runs on the updated kernel. In inference the
    layer runs unchanged. An all-zero kernel is left as it is.

    Args:
        layer: A layer with a `kernel` (Dense, Conv2D, ...) or `embeddings`
            (Embedding) weight.
        power_iterations: Power-iteration steps per training call, a positive
            int. Defaults to `1`.

    Weights: the wrapped layer's kernel, then the non-trainable `vector_u`
    `(1, kernel.shape[-1])`, then the wrapped layer's other weights (Keras's
    order). The output has the dtype of the inputs.

    Example:
    >>> layer = SpectralNormalization(lamina.layers.Dense(3))
    >>> tuple(layer(np.ones((2, 4), "float32"), training=True).shape)
    (2, 3)
    >>> [w.path for w in layer.weights][1]
    'spectral_normalization/vector_u'
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if (
            isinstance(power_iterations, bool)
            or not isinstance(power_iterations, numbers.Integral)
            or power_iterations <= 0
        ):
            raise ValueError(
                "`power_iterations` should be greater than zero. "
                "SpectralNormalization expects `power_iterations` to be a positive "
                f"int; got power_iterations={power_iterations!r}."
            )
        self.power_iterations = int(power_iterations)

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if not isinstance(kernel, torch.Tensor):
            raise ValueError(
                f"Layer '{self.name}' (SpectralNormalization) wraps a "
                f"{type(self.layer).__name__}, which has no `kernel` nor "
                "`embeddings` weight to normalize (the wrapped object has no "
                "attribute 'kernel' nor 'embeddings'). Wrap a layer such as Dense, "
                "Conv2D or Embedding."
            )
        # Keras: the wrapper tracks the kernel as its own first weight (a
        # variable of the wrapped layer assigned here is tracked by both), so
        # get_weights() and saved files list it before `vector_u`.
        self.kernel = kernel
        self.kernel_shape = tuple(kernel.shape)
        self.vector_u = self.add_weight(
            shape=(1, self.kernel_shape[-1]),
            initializer=initializers.TruncatedNormal(stddev=0.02),
            trainable=False,
            name="vector_u",
            dtype=backend.standardize_dtype(kernel.dtype),
        )

    def call(self, inputs, training=False):
        if training:
            # Keras runs the power iteration in the variables' dtype; under a
            # mixed policy's autocast, float16 would overflow `1 / epsilon`.
            no_autocast = torch.autocast(self.kernel.device.type, enabled=False)
            with torch.no_grad(), no_autocast:
                new_u, new_kernel = self.normalized_weights()
                # Keras skips the update for an all-zero kernel (no host sync).
                all_zero = torch.all(self.kernel == 0)
                self.vector_u.copy_(torch.where(all_zero, self.vector_u, new_u))
                self.kernel.copy_(torch.where(all_zero, self.kernel, new_kernel))
        output = self.layer(inputs)
        return output.to(inputs.dtype)

    def normalized_weights(self):
        """`(vector_u, kernel / sigma)` after `power_iterations` steps, where
        sigma estimates the kernel's largest singular value."""
        weights = self.kernel.reshape(-1, self.kernel_shape[-1])
        vector_u = self.vector_u.to(weights.dtype)
        for _ in range(self.power_iterations):
            vector_v = _l2_normalize(torch.matmul(vector_u, weights.T))
            vector_u = _l2_normalize(torch.matmul(vector_v, weights))
        sigma = torch.matmul(torch.matmul(vector_v, weights), vector_u.T)
        kernel = (self.kernel / sigma).reshape(self.kernel_shape)
        return vector_u.to(self.vector_u.dtype), kernel.to(self.kernel.dtype)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


def _l2_normalize(x):
    # Keras's ops.normalize(axis=None): x * min(rsqrt(sum(x**2)), 1 / epsilon).
    inv_norm = torch.rsqrt(torch.sum(x * x))
    return x * torch.clamp(inv_norm, max=1.0 / backend.epsilon())
