"""Hashing: strings or integers to bins with Keras's stable hashes.

Keras (through TensorFlow's `to_hash_bucket_fast` / `_strong`) hashes with
FarmHash's `Fingerprint64` (the `farmhashna::Hash64` function) or, with a salt,
SipHash-2-4. Both are written here in plain Python integer arithmetic, checked
bit for bit against TensorFlow 2.21, so lamina assigns every value the same bin
as Keras. They run on the host, once per distinct value in a batch.
"""

import numpy as np

from lamina import backend
from lamina.layers.preprocessing.category_encoding import (
    _encode_categorical,
    _encoded_shape,
    _validate_output_mode,
)
from lamina.layers.preprocessing.index_lookup import (
    _HostDataLayer,
    _normalize_salt,
    _to_numpy,
)

# FarmHash constants and 64-bit helpers (Python ints masked to 64 bits).
_MASK = 0xFFFFFFFFFFFFFFFF
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F


def _fetch64(data, i):
    return int.from_bytes(data[i : i + 8], "little")


def _fetch32(data, i):
    return int.from_bytes(data[i : i + 4], "little")


def _rotr(value, shift):
    return ((value >> shift) | (value << (64 - shift))) & _MASK


def _shift_mix(value):
    return value ^ (value >> 47)


def _hash_len16(u, v, mul):
    a = ((u ^ v) * mul) & _MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK
    b ^= b >> 47
    return (b * mul) & _MASK


def _hash_len0to16(s, n):
    if n >= 8:
        mul = _K2 + n * 2
        a = (_fetch64(s, 0) + _K2) & _MASK
        b = _fetch64(s, n - 8)
        c = (_rotr(b, 37) * mul + a) & _MASK
        d = ((_rotr(a, 25) + b) * mul) & _MASK
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = _K2 + n * 2
        a = _fetch32(s, 0)
        return _hash_len16(n + (a << 3), _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _MASK) * _K2) & _MASK
    return _K2


def _hash_len17to32(s, n):
    mul = _K2 + n * 2
    a = (_fetch64(s, 0) * _K1) & _MASK
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK
    d = (_fetch64(s, n - 16) * _K2) & _MASK
    return _hash_len16(
        (_rotr((a + b) & _MASK, 43) + _rotr(c, 30) + d) & _MASK,
        (a + _rotr((b + _K2) & _MASK, 18) + c) & _MASK,
        mul,
    )


def _hash_len33to64(s, n):
    mul = _K2 + n * 2
    a = (_fetch64(s, 0) * _K2) & _MASK
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK
    d = (_fetch64(s, n - 16) * _K2) & _MASK
    y = (_rotr((a + b) & _MASK, 43) + _rotr(c, 30) + d) & _MASK
    z = _hash_len16(y, (a + _rotr((b + _K2) & _MASK, 18) + c) & _MASK, mul)
    e = (_fetch64(s, 16) * mul) & _MASK
    f = _fetch64(s, 24)
    g = ((y + _fetch64(s, n - 32)) * mul) & _MASK
    h = ((z + _fetch64(s, n - 24)) * mul) & _MASK
    return _hash_len16(
        (_rotr((e + f) & _MASK, 43) + _rotr(g, 30) + h) & _MASK,
        (e + _rotr((f + a) & _MASK, 18) + g) & _MASK,
        mul,
    )


def _weak32(s, i, a, b):
    w, x, y, z = (_fetch64(s, i + k) for k in (0, 8, 16, 24))
    a = (a + w) & _MASK
    b = _rotr((b + a + z) & _MASK, 21)
    c = a
    a = (a + x + y) & _MASK
    b = (b + _rotr(a, 44)) & _MASK
    return (a + z) & _MASK, (b + c) & _MASK


def _fingerprint64(s: bytes) -> int:
    """FarmHash Fingerprint64 (farmhashna::Hash64) of `s`, as TensorFlow uses."""
    n = len(s)
    if n <= 16:
        return _hash_len0to16(s, n)
    if n <= 32:
        return _hash_len17to32(s, n)
    if n <= 64:
        return _hash_len33to64(s, n)
    # Over 64 bytes: FarmHash's 64-byte block loop with the seed 81.
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _MASK
    z = (_shift_mix((y * _K2 + 113) & _MASK) * _K2) & _MASK
    v0 = v1 = w0 = w1 = 0
    x = (x * _K2 + _fetch64(s, 0)) & _MASK
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    i = 0
    while True:
        x = (_rotr((x + y + v0 + _fetch64(s, i + 8)) & _MASK, 37) * _K1) & _MASK
        y = (_rotr((y + v1 + _fetch64(s, i + 48)) & _MASK, 42) * _K1) & _MASK
        x ^= w1
        y = (y + v0 + _fetch64(s, i + 40)) & _MASK
        z = (_rotr((z + w0) & _MASK, 33) * _K1) & _MASK
        v0, v1 = _weak32(s, i, (v1 * _K1) & _MASK, (x + w0) & _MASK)
        w0, w1 = _weak32(s, i + 32, (z + w1) & _MASK, (y + _fetch64(s, i + 16)) & _MASK)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = _K1 + ((z & 0xFF) << 1)
    i = last64
    w0 = (w0 + ((n - 1) & 63)) & _MASK
    v0 = (v0 + w0) & _MASK
    w0 = (w0 + v0) & _MASK
    x = (_rotr((x + y + v0 + _fetch64(s, i + 8)) & _MASK, 37) * mul) & _MASK
    y = (_rotr((y + v1 + _fetch64(s, i + 48)) & _MASK, 42) * mul) & _MASK
    x ^= (w1 * 9) & _MASK
    y = (y + v0 * 9 + _fetch64(s, i + 40)) & _MASK
    z = (_rotr((z + w0) & _MASK, 33) * mul) & _MASK
    v0, v1 = _weak32(s, i, (v1 * mul) & _MASK, (x + w0) & _MASK)
    w0, w1 = _weak32(s, i + 32, (z + w1) & _MASK, (y + _fetch64(s, i + 16)) & _MASK)
    z, x = x, z
    return _hash_len16(
        (_hash_len16(v0, w0, mul) + _shift_mix(y) * _K0 + z) & _MASK,
        (_hash_len16(v1, w1, mul) + x) & _MASK,
        mul,
    )


def _rotl(v, s):
    return ((v << s) | (v >> (64 - s))) & _MASK


def _siphash24(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 of `data` under the 128-bit key (k0, k1), as highwayhash."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(v0, v1, v2, v3, count):
        for _ in range(count):
            v0 = (v0 + v1) & _MASK
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _MASK
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _MASK
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _MASK
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    n = len(data)
    full = n - n % 8
    for i in range(0, full, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
        v0 ^= m
    m = int.from_bytes(data[full:], "little") | ((n & 0xFF) << 56)
    v3 ^= m
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
    v0 ^= m
    v2 ^= 0xFF
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def _hash_to_bins(values: np.ndarray, num_bins: int, salt=None) -> np.ndarray:
    """int64 bins in `[0, num_bins)` of an array of str, bytes or numbers.

    Numbers are hashed as their decimal text (floats truncated to integers
    first), as Keras does. Each distinct value is hashed once.
    """
    if values.dtype.kind == "f":
        values = values.astype(np.int64)
    flat = values.reshape(-1).tolist()
    bins = dict.fromkeys(flat)  # the distinct values, found in C
    if salt is None:
        for value in bins:
            bins[value] = _fingerprint64(_as_bytes(value)) % num_bins
    else:
        k0, k1 = (int(k) & _MASK for k in salt)
        for value in bins:
            bins[value] = _siphash24(k0, k1, _as_bytes(value)) % num_bins
    out = np.fromiter(map(bins.__getitem__, flat), dtype=np.int64, count=len(flat))
    return out.reshape(values.shape)


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return str(int(value)).encode("ascii")


class Hashing(_HostDataLayer):
    """Hashes strings or integers into `num_bins` bins, with Keras's hashes.

    Without `salt` a value's bin is `Fingerprint64(value) % num_bins` (FarmHash);
    with `salt` it is SipHash-2-4 keyed by the salt. Integers are hashed as their
    decimal text. The bins equal Keras's bit for bit.

    The layer runs on the host: it takes Python strings or numbers (nested
    lists, NumPy arrays, or integer tensors, which are copied to the host) and
    returns a tensor on lamina's device. Use it on the data before `fit` (or in
    a `PyDataset`), or as the first layer of a model called on NumPy data.

    Args:
        num_bins: Number of bins, including the mask bin if `mask_value` is set.
        mask_value: Inputs equal to it go to bin 0; the others hash into bins
            `1..num_bins-1`. Defaults to `None` (no mask bin).
        salt: An int, or a pair of ints, keying SipHash. Defaults to `None`
            (FarmHash, no key).
        output_mode: `"int"` (bin ids, int64), `"one_hot"`, `"multi_hot"` or
            `"count"` (float32, encoded as in `CategoryEncoding`).
            Defaults to `"int"`.
        sparse: Must be `False` (torch outputs here are dense).

    Example:
    >>> layer = lamina.layers.Hashing(num_bins=3)
    >>> layer([["A"], ["B"], ["C"], ["D"], ["E"]]).tolist()
    [[1], [0], [1], [1], [2]]
    """

    def __init__(
        self,
        num_bins,
        mask_value=None,
        salt=None,
        output_mode="int",
        sparse=False,
        **kwargs,
    ):
        # Keras: int64 ids in "int" mode, floatx encodings otherwise.
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else backend.floatx()
        super().__init__(**kwargs)
        if (
            num_bins is None
            or isinstance(num_bins, bool)
            or not isinstance(num_bins, (int, np.integer))
            or num_bins <= 0
        ):
            raise ValueError(
                "The `num_bins` for `Hashing` cannot be `None` or non-positive: "
                f"it must be a positive int; got num_bins={num_bins!r}."
            )
        if output_mode == "int" and self.dtype_policy.name not in ("int32", "int64"):
            raise ValueError(
                'When `output_mode="int"`, `dtype` should be an integer type, '
                "so Hashing expects dtype 'int32' or 'int64'; got "
                f"dtype={self.dtype_policy.name!r}."
            )
        _validate_output_mode(
            "Hashing", output_mode, ("int", "one_hot", "multi_hot", "count")
        )
        if sparse:
            in_keras = (
                " (and in Keras `sparse` may only be true if `output_mode` is "
                "'one_hot', 'multi_hot' or 'count')"
                if output_mode == "int"
                else ""
            )
            raise ValueError(
                "Hashing(sparse=True) is not supported: lamina runs on torch, "
                f"whose outputs here are dense{in_keras}. Use sparse=False."
            )
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.strong_hash = salt is not None
        self.salt = _normalize_salt("Hashing", salt)
        self.output_mode = output_mode
        self.sparse = sparse

    def call(self, inputs):
        values, device = _to_numpy(inputs, self.name, "Hashing")
        if self.output_mode == "one_hot" and values.ndim and values.shape[-1] == 1:
            values = values.squeeze(-1)
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            if isinstance(self.mask_value, (str, bytes)) != (values.dtype == object):
                raise TypeError(
                    f"Layer '{self.name}' (Hashing) compares inputs with "
                    f"mask_value={self.mask_value!r}, so it expects inputs of the "
                    f"same kind; got data of dtype {values.dtype}."
                )
            mask = values == self.mask_value
        ids = _hash_to_bins(values, bins, self.salt)
        if mask is not None:
            ids = np.where(mask, 0, ids + 1)
        ids = backend.convert_to_tensor(ids, dtype="int64", device=device)
        return _encode_categorical(ids, self.output_mode, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self):
        return {
            **super().get_config(),
            "num_bins": self.num_bins,
            "salt": self.salt,
            "mask_value": self.mask_value,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }
