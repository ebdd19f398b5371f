"""HashedCrossing: hash the combination of several categorical features."""

import numpy as np

from lamina import backend
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers.preprocessing.category_encoding import (
    _encode_categorical,
    _validate_output_mode,
)
from lamina.layers.preprocessing.hashing import _fingerprint64
from lamina.layers.preprocessing.index_lookup import _HostDataLayer, _to_numpy

_MASK = 0xFFFFFFFFFFFFFFFF
# TensorFlow's `sparse.cross_hashed`: default hash key and FingerprintCat64.
_HASH_KEY = 0xDECAFCAFFE
_MUL = 0xC6A4A7935BD1E995


def _shift_mix(value):
    return value ^ (value >> 47)


def _fingerprint_cat64(fp1, fp2):
    result = fp1 ^ _MUL
    result ^= (_shift_mix((fp2 * _MUL) & _MASK) * _MUL) & _MASK
    result = (result * _MUL) & _MASK
    result = (_shift_mix(result) * _MUL) & _MASK
    return _shift_mix(result)


def _feature_hash(value):
    # Strings hash by Fingerprint64; integers enter as their 64-bit pattern.
    if isinstance(value, str):
        return _fingerprint64(value.encode("utf-8"))
    return int(value) & _MASK


class HashedCrossing(_HostDataLayer):
    """Crosses two or more categorical features by hashing each combination of
    values into `num_bins` bins, with TensorFlow's `sparse.cross_hashed`
    function (as Keras uses it), so the bins equal Keras's.

    The layer runs on the host, on strings or integers.

    Args:
        num_bins: Number of hash bins, a positive int.
        output_mode: `"int"` (bin ids, int64 by default) or `"one_hot"`
            (float32). Defaults to `"int"`.
        sparse: Must be `False` (torch outputs here are dense).
        name: The layer's name.
        dtype: The output dtype.

    Input: a list or tuple of at least two features of equal shape `()`,
    `(batch,)` or `(batch, 1)`. Output: the bins in the same shape (`"int"`),
    or one-hot rows `(batch, num_bins)`.

    Example:
    >>> layer = lamina.layers.HashedCrossing(num_bins=5)
    >>> layer((np.array(["A", "B", "A"]), np.array([101, 101, 102]))).tolist()
    [1, 4, 3]
    """

    def __init__(
        self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs
    ):
        if output_mode == "int" and dtype is None:
            dtype = "int64"
        super().__init__(name=name, dtype=dtype, **kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
            raise ValueError(
                "HashedCrossing expects `num_bins` to be a positive int; got "
                f"num_bins={num_bins!r}."
            )
        _validate_output_mode("HashedCrossing", output_mode, ("int", "one_hot"))
        if sparse:
            raise ValueError(
                "HashedCrossing(sparse=True) is not supported: lamina runs on "
                "torch, whose outputs here are dense. Use sparse=False."
            )
        self.num_bins = num_bins
        self.output_mode = output_mode
        self.sparse = sparse

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and any(
            isinstance(x, KerasTensor) for x in inputs
        ):
            return super(_HostDataLayer, self).__call__(inputs, *args, **kwargs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"Layer '{self.name}' (HashedCrossing) should be called on a list "
                f"or tuple of features; got inputs of type {type(inputs).__name__}."
            )
        if len(inputs) < 2:
            raise ValueError(
                f"Layer '{self.name}' (HashedCrossing) should be called on at "
                f"least two inputs; got {len(inputs)}."
            )
        arrays, device = [], None
        for x in inputs:
            array, device = _to_numpy(x, self.name, "HashedCrossing")
            arrays.append(array)
        shape = arrays[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError(
                f"Layer '{self.name}' (HashedCrossing): inputs should have shape "
                f"(), (batch_size,) or (batch_size, 1); got shape {shape}."
            )
        if any(a.shape != shape for a in arrays[1:]):
            raise ValueError(
                f"Layer '{self.name}' (HashedCrossing) expects all inputs to have "
                f"equal shape; got shapes {[a.shape for a in arrays]}."
            )
        for a in arrays:
            if a.dtype != object and a.dtype.kind not in "iu":
                raise ValueError(
                    f"Layer '{self.name}' (HashedCrossing): all inputs should have "
                    f"an integer or string dtype; got dtype {a.dtype}."
                )
        columns = [a.reshape(-1).tolist() for a in arrays]
        bins = []
        for values in zip(*columns):
            hashed = _HASH_KEY
            for value in values:
                hashed = _fingerprint_cat64(hashed, _feature_hash(value))
            bins.append(hashed % self.num_bins)
        ids = np.array(bins, dtype=np.int64).reshape(shape)
        ids = backend.convert_to_tensor(ids, dtype="int64", device=device)
        if self.output_mode == "int":
            return ids.to(backend.to_torch_dtype(self.compute_dtype))
        if ids.ndim == 2:
            ids = ids.squeeze(-1)
        return _encode_categorical(ids, "one_hot", self.num_bins, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 2 or not all(
            isinstance(s, (tuple, list)) for s in input_shape
        ):
            raise ValueError(
                "HashedCrossing expects a list of at least two input shapes; got "
                f"input_shape={input_shape}."
            )
        first = tuple(input_shape[0])
        if self.output_mode == "int":
            return first
        if not first:
            return (self.num_bins,)
        if first[-1] != 1:
            return first + (self.num_bins,)
        return first[:-1] + (self.num_bins,)

    def get_config(self):
        return {
            "num_bins": self.num_bins,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "name": self.name,
            "dtype": self.dtype_policy.name,
        }
