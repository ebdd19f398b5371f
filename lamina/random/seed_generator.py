"""SeedGenerator: a seed plus a counter that hands out a fresh seed per random op."""

import torch

from lamina.backend.naming import uniquify
from lamina.backend.shape_inference import _DEPTH as _INFERRING

_SEED_MASK = 0xFFFFFFFF


def _to_int32(value: int) -> int:
    # Keras keeps seeds in an int32 variable; the bit pattern is the uint32 seed.
    return ((value & _SEED_MASK) ^ 0x80000000) - 0x80000000


def make_default_seed() -> int:
    """A seed in `[1, 1e9]` drawn from torch's global CPU generator.

    Drawing from torch (rather than Python's `random`, as Keras does) means
    `torch.manual_seed(...)` makes unseeded generators and initializers
    reproducible.
    """
    return int(torch.randint(1, 10**9 + 1, (1,)).item())


class SeedGenerator:
    """A stateful source of seeds for `lamina.random` functions.

    An int seed given to a random function yields the same numbers on every
    call; a `SeedGenerator` yields new numbers on every call, reproducibly: it
    holds a seed and a counter, and each draw uses `(seed + counter) mod 2**32`
    then advances the counter, as Keras's PyTorch backend does.

    Args:
        seed: Initial seed, an int. Defaults to `None`: a seed is drawn from
            torch's global generator, so `torch.manual_seed` fixes it.
        name: Name of the generator. Defaults to an automatic
            `"seed_generator"`, `"seed_generator_1"`, ...

    Example:
    >>> from lamina import random
    >>> gen = random.SeedGenerator(42)
    >>> a = random.normal((2,), seed=gen)
    >>> b = random.normal((2,), seed=gen)
    >>> bool((a != b).any())
    True
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs):
        kwargs.pop("backend", None)  # Keras accepts a custom backend module.
        if kwargs:
            raise ValueError(
                f"SeedGenerator got unexpected keyword arguments {sorted(kwargs)}; "
                "it accepts only `seed` and `name`."
            )
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(
                "SeedGenerator expects `seed` to be an int or None; got "
                f"seed={seed!r} of type {type(seed).__name__}. Write, for "
                "example, SeedGenerator(seed=1337)."
            )
        self.name = name if name is not None else uniquify("seed_generator")
        self._seed = _to_int32(seed)
        self._counter = 0

    @property
    def backend(self):
        """The `lamina.backend` module (Keras: the backend the generator's
        ops come from)."""
        from lamina import backend

        return backend

    @property
    def state(self) -> torch.Tensor:
        """`[seed, counter]` as an int32 CPU tensor (Keras's `seed_generator_state`)."""
        return torch.tensor([self._seed, self._counter], dtype=torch.int32)

    @state.setter
    def state(self, value) -> None:
        values = torch.as_tensor(value).reshape(-1).tolist()
        if len(values) != 2:
            raise ValueError(
                f"SeedGenerator '{self.name}' expects a state of two ints "
                f"[seed, counter]; got {len(values)} values: {values!r}."
            )
        self._seed = _to_int32(int(values[0]))
        self._counter = _to_int32(int(values[1]))

    def next(self, ordered: bool = True) -> torch.Tensor:
        """Return the current state `[seed, counter]`, then advance it.

        Args:
            ordered: `True` adds 1 to the counter; `False` scrambles both
                entries as Keras's global generator does.

        Returns:
            The state before advancing, an int32 CPU tensor of shape `(2,)`.
        """
        current = self.state
        self._advance(ordered)
        return current

    def _advance(self, ordered: bool = True) -> None:
        if _INFERRING[0]:
            # Keras: a symbolic call (building a functional model) draws in a
            # stateless scope, so the generator's state is left as it was.
            return
        if ordered:
            self._counter = _to_int32(self._counter + 1)
        else:
            self._seed = _to_int32((self._seed + 1) * 5387 % 933199)
            self._counter = _to_int32((self._counter + 1) * 5387 % 933199)

    def _next_seed(self) -> int:
        """The uint32 seed for one draw; advances the counter."""
        seed = (self._seed + self._counter) & _SEED_MASK
        self._advance()
        return seed

    def get_config(self) -> dict:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "SeedGenerator":
        return cls(**config)

    def __repr__(self) -> str:
        return (
            f"<SeedGenerator name={self.name!r} seed={self._seed} "
            f"counter={self._counter}>"
        )


def draw_seed(seed) -> int | None:
    """The uint32 seed one random op should use, or `None` for torch's global RNG.

    Args:
        seed: An int, a `SeedGenerator` (advanced by one), or `None`.

    Raises:
        ValueError: For anything else.
    """
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        return seed._next_seed()
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed & _SEED_MASK
    raise ValueError(
        "Expected `seed` to be an int, a lamina.random.SeedGenerator or None; "
        f"got seed={seed!r} of type {type(seed).__name__}. Pass seed=42 for "
        "repeatable numbers or seed=SeedGenerator(42) for a new draw per call."
    )
