"""ReLU: the rectified linear unit as a layer, with leak, cap and threshold."""

from lamina import activations
from lamina.layers.layer import Layer


class ReLU(Layer):
    """Computes `max_value`-capped ReLU with a leak below `threshold`:
    `x` for `threshold <= x < max_value`, `max_value` above the cap and
    `negative_slope * (x - threshold)` below the threshold.

    Args:
        max_value: Upper cap, a non-negative float, or `None` (no cap).
            Defaults to `None`.
        negative_slope: Slope below the threshold, non-negative. Defaults to
            `0.0`.
        threshold: Values below it count as inactive, non-negative. Defaults
            to `0.0`.

    Example:
    >>> layer = lamina.layers.ReLU(max_value=6.0)
    >>> layer(np.array([-1.0, 2.0, 9.0], "float32")).tolist()
    [0.0, 2.0, 6.0]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None:
            _check_non_negative("ReLU", "max_value", max_value)
        _check_non_negative("ReLU", "negative_slope", negative_slope)
        _check_non_negative("ReLU", "threshold", threshold)
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self.supports_masking = True
        # Stateless: built now, as in Keras, unless a subclass adds a `build`.
        self.built = type(self).build is Layer.build

    def call(self, inputs):
        return activations.relu(
            inputs,
            negative_slope=self.negative_slope,
            max_value=self.max_value,
            threshold=self.threshold,
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


def _check_non_negative(who: str, arg: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        # Keras's wording first, then lamina's.
        if who == "LeakyReLU":
            keras_phrase = f"The {arg} value of a Leaky ReLU layer cannot be None"
        elif arg == "max_value":
            keras_phrase = f"{arg} of a ReLU layer cannot be a negative value"
        else:
            keras_phrase = f"{arg} of a ReLU layer cannot be None or a negative value"
        raise ValueError(
            f"{keras_phrase}: {who} expects `{arg}` to be a non-negative number; "
            f"got {arg}={value!r}."
        )
