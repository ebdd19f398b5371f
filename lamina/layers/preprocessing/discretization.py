"""Discretization: bucket continuous values by ranges (given, or learned by adapt)."""

import numpy as np
import torch

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.layer import Layer
from lamina.layers.preprocessing._data_layer import DataLayerBackend
from lamina.layers.preprocessing.category_encoding import (
    _encode_categorical,
    _encoded_shape,
    _validate_output_mode,
)


class Discretization(DataLayerBackend, Layer):
    """Maps each value to the index of the bin it falls in.

    `bin_boundaries=[0., 1., 2.]` makes the bins `(-inf, 0)`, `[0, 1)`, `[1, 2)`
    and `[2, inf)`, numbered 0 to 3. Instead of boundaries, give `num_bins` and
    call `adapt(data)`: the boundaries become approximate quantiles of `data`,
    computed exactly as Keras computes them (the same summaries, merges and
    interpolation), so both libraries learn the same boundaries.

    Args:
        bin_boundaries: Sorted list of boundaries. Do not call `adapt` with it.
        num_bins: Number of bins to learn with `adapt`.
        epsilon: Error tolerance of the quantile summaries (smaller is more
            exact and slower). Defaults to `0.01`.
        output_mode: `"int"` (bin indices, int32), `"one_hot"`, `"multi_hot"`
            or `"count"` (as in `CategoryEncoding`, with `num_bins` slots).
            Defaults to `"int"`.
        sparse: Must be `False` (torch outputs here are dense).

    Input shape: any; output shape: the same for `"int"`, else encoded.

    Example:
    >>> layer = lamina.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    >>> layer(np.array([[-1.5, 1.0, 3.4, 0.5]])).tolist()
    [[0, 2, 3, 1]]
    """

    def __init__(
        self,
        bin_boundaries=None,
        num_bins=None,
        epsilon=0.01,
        output_mode="int",
        sparse=False,
        dtype=None,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError(
                "Discretization(sparse=True) is not supported: lamina runs on "
                "torch, whose outputs here are dense. Use sparse=False."
            )
        _validate_output_mode(
            "Discretization", output_mode, ("int", "one_hot", "multi_hot", "count")
        )
        if num_bins is not None and num_bins < 0:
            raise ValueError(
                f"Discretization expects `num_bins` >= 0; got num_bins={num_bins!r}."
            )
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(
                "Both `num_bins` and `bin_boundaries` were given: Discretization "
                "takes either `num_bins` (then call adapt()) or `bin_boundaries`, "
                f"not both; got num_bins={num_bins!r} and "
                f"bin_boundaries={bin_boundaries!r}."
            )
        if num_bins is None and bin_boundaries is None:
            raise ValueError(
                "Discretization needs either `num_bins` or `bin_boundaries`: "
                "`bin_boundaries` (a sorted list) or `num_bins` (then call "
                "adapt(data)); got neither."
            )
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = sparse
        self.summary = None if self.bin_boundaries else _empty_summary()
        self.built = True

    @property
    def output_dtype(self) -> str:
        return "int32" if self.output_mode == "int" else self.compute_dtype

    # --- adapt -----------------------------------------------------------------

    def adapt(self, data, steps=None) -> None:
        """Learn `num_bins` quantile boundaries from `data`.

        Args:
            data: A NumPy array or tensor (all of it is one batch), or any other
                iterable of batches (a list or a generator), as Keras treats it.
            steps: Stop after this many batches of an iterable.

        Raises:
            ValueError: The layer was built with `bin_boundaries`, or `data`
                holds no values.
        """
        if self.num_bins is None:
            raise ValueError(
                f"Layer '{self.name}' (Discretization) was created with "
                "`bin_boundaries`, so it cannot adapt. Create it with "
                "`num_bins=...` to learn boundaries from data."
            )
        self.reset_state()
        seen = 0
        if isinstance(data, (np.ndarray, torch.Tensor)) or not hasattr(
            data, "__iter__"
        ):
            seen += self.update_state(data)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                seen += self.update_state(batch)
        if seen == 0:
            raise ValueError(
                f"Layer '{self.name}' (Discretization) cannot adapt to empty "
                "data: expected at least one value to compute quantiles from; "
                f"got {type(data).__name__} with no values."
            )
        self.finalize_state()

    def update_state(self, data) -> int:
        """Merge one batch into the quantile summary; returns its value count."""
        data = np.asarray(backend.convert_to_numpy(data)).astype("float32")
        self.summary = _merge_summaries(
            _summarize(data, self.epsilon), self.summary, self.epsilon
        )
        return int(data.size)

    def finalize_state(self) -> None:
        if self.num_bins is None:
            return
        self.bin_boundaries = _bin_boundaries(self.summary, self.num_bins).tolist()

    def reset_state(self) -> None:
        if self.num_bins is None:
            return
        self.summary = _empty_summary()

    # --- calling ---------------------------------------------------------------

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (torch.Tensor, KerasTensor)):
            # Keras takes nested lists too; Layer.__call__ would read a list as
            # several inputs.
            inputs = backend.convert_to_tensor(np.asarray(inputs))
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(
                f"Layer '{self.name}' (Discretization) has no bin boundaries yet. "
                "You need to either pass `bin_boundaries=` when creating it, or "
                "call adapt(data) before using it."
            )
        if not inputs.is_floating_point():
            inputs = inputs.to(backend.to_torch_dtype(backend.floatx()))
        boundaries = torch.tensor(
            self.bin_boundaries, dtype=inputs.dtype, device=inputs.device
        )
        # right=True: a value equal to a boundary goes to the bin it opens.
        indices = torch.bucketize(inputs, boundaries, right=True)
        return _encode_categorical(
            indices,
            self.output_mode,
            len(self.bin_boundaries) + 1,
            self.output_dtype,
        )

    def compute_output_shape(self, input_shape):
        depth = (
            len(self.bin_boundaries) + 1
            if self.bin_boundaries is not None
            else self.num_bins
        )
        return _encoded_shape(input_shape, self.output_mode, depth)

    def compute_output_spec(self, inputs):
        return KerasTensor(
            self.compute_output_shape(inputs.shape), dtype=self.output_dtype
        )

    def get_config(self):
        # Keras lists exactly these keys (no `trainable`); dtype as a name.
        return {
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "name": self.name,
            "dtype": self.dtype,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        # After adapt() both are set, which __init__ refuses: restore the
        # boundaries after construction, as Keras does.
        if config.get("bin_boundaries") is not None and config.get("num_bins"):
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = list(boundaries)
            return layer
        return cls(**config)


# Quantile summaries, as Keras computes them: a summary is a (2, n) float32 array
# of (value, weight) columns sorted by value.


def _empty_summary():
    return np.array([[], []], dtype="float32")


def _summarize(values, epsilon):
    """Every `len/(1/epsilon)`-th sorted value, each weighted by that step."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(np.size(values) / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1) :: int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def _merge_summaries(first, second, epsilon):
    merged = np.concatenate((first, second), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return _compress_summary(merged, epsilon)


def _bin_boundaries(summary, num_bins):
    return _compress_summary(summary, 1.0 / num_bins)[0, :-1]


def _compress_summary(summary, epsilon):
    """Re-bin a summary at `epsilon` spacing of its cumulative weight."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")
