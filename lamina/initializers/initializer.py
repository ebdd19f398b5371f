"""Initializer: the base class of everything that fills a new weight."""

import torch


class Initializer:
    """Base class of weight initializers.

    An initializer is called with a shape and a dtype and returns a new tensor.
    lamina initializers return it on the CPU; the layer that owns the weight
    moves it to the device, so a seeded model starts from the same numbers on
    every machine.

    Subclasses implement `__call__(shape, dtype=None)` and, when they take
    arguments, `get_config()` returning them by their constructor names.

    Example:
    >>> import torch
    >>> from lamina import initializers
    >>> class Twos(initializers.Initializer):
    ...     def __call__(self, shape, dtype=None):
    ...         return torch.full(tuple(shape), 2.0)
    >>> Twos()((2,)).tolist()
    [2.0, 2.0]
    """

    def __call__(self, shape, dtype=None) -> torch.Tensor:
        """A new tensor of `shape` and `dtype` (defaults to `floatx()`)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(shape, dtype=None) "
            "returning a tensor of that shape."
        )

    def get_config(self) -> dict:
        """Constructor arguments by name, JSON-ready. Defaults to `{}`."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        """Rebuild an initializer from `get_config()`'s output."""
        return cls(**config)

    def clone(self) -> "Initializer":
        """A new initializer with the same configuration."""
        return self.__class__.from_config(self.get_config())


def standardize_shape(shape, who: str) -> tuple:
    """`shape` as a tuple of non-negative ints, or a ValueError naming `who`."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{who} expects `shape` to be a tuple of ints; got shape={shape!r}. "
            "Write, for example, shape=(3, 4)."
        ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{who} expects non-negative dimensions; got shape={shape!r}.")
    return dims
