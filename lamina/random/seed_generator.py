"""SeedGenerator: a seed plus a counter that hands out a fresh seed per random op."""

import random as python_random

import torch

from lamina.backend.naming import uniquify
from lamina.backend.shape_inference import _DEPTH as _INFERRING

_SEED_MASK = 0xFFFFFFFF


def _to_int32(value: int) -> int:
    # Keras keeps seeds in an int32 variable; the bit pattern is the uint32 seed.
    return ((value & _SEED_MASK) ^ 0x80000000) - 0x80000000


def _scramble(value: int) -> int:
    # Keras computes `(state + 1) * 5387 % 933199` on its int32 state: the
    # product wraps around 2**32 before the (floored) modulo.
    return _to_int32(_to_int32(_to_int32(value + 1) * 5387) % 933199)


def _keras_seed_order() -> bool:
    """Whether `lamina.utils.set_random_seed` was called: default seeds then
    come from Python's `random`, in Keras's order."""
    from lamina.utils import rng_utils

    return rng_utils.get_random_seed() is not None


def make_default_seed() -> int:
    """A seed in `[1, 1e9]` for an unseeded generator or initializer.

    After `lamina.utils.set_random_seed(s)` it comes from Python's `random`,
    as in Keras, so a script seeded that way starts from the same weights as
    under Keras 3 on torch; otherwise from torch's global CPU generator, so
    `torch.manual_seed(...)` alone makes runs reproducible.
    """
    if _keras_seed_order():
        return python_random.randint(1, 10**9)
    return int(torch.randint(1, 10**9 + 1, (1,)).item())


def noise_seed_generator(seed, active: bool = True):
    """The `SeedGenerator` a noise layer (Dropout, GaussianNoise, ...) draws
    from, or `None` for torch's global generator (the fast, unseeded path).

    An int `seed` gives `SeedGenerator(seed)`. For `seed=None`, Keras makes an
    unseeded `SeedGenerator` (its default seed from Python's `random`) and
    draws the layer's noise from it: after `lamina.utils.set_random_seed`
    lamina does the same, so the noise equals Keras's; otherwise it returns
    `None`. `active=False` (a rate or stddev of 0, where Keras makes no
    generator) returns `SeedGenerator(seed)` for an int seed, else `None`.
    """
    if seed is not None:
        return SeedGenerator(seed)
    if active and _keras_seed_order():
        return SeedGenerator()
    return None


class SeedGenerator:
    """A stateful source of seeds for `lamina.random` functions.

    An int seed given to a random function yields the same numbers on every
    call; a `SeedGenerator` yields new numbers on every call, reproducibly: it
    holds a seed and a counter, and each draw uses `(seed + counter) mod 2**32`
    then advances the counter, as Keras's PyTorch backend does.

    Args:
        seed: Initial seed, an int. Defaults to `None`: a seed is drawn
            with `make_default_seed` (from Python's `random` after
            `lamina.utils.set_random_seed`, as in Keras; otherwise from
            torch's global generator, so `torch.manual_seed` fixes it).
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
                "SeedGenerator: Argument `seed` must be an integer (or None); "
                f"got seed={seed!r} of type {type(seed).__name__}. Write, for "
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
            self._seed = _scramble(self._seed)
            self._counter = _scramble(self._counter)

    def _next_seed(self, ordered: bool = True) -> int:
        """The uint32 seed for one draw; advances the state (see `next`)."""
        seed = (self._seed + self._counter) & _SEED_MASK
        self._advance(ordered)
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


# The generator unseeded random ops draw from after `set_random_seed`, made
# on first use and dropped by every `set_random_seed` call, as in Keras.
_global_generator = None


def reset_global_seed_generator() -> None:
    """Forget the global generator; `lamina.utils.set_random_seed` calls this."""
    global _global_generator
    _global_generator = None


def global_draw_seed(seed, device=None):
    """`seed`, or for `None` after `set_random_seed` Keras's next global seed.

    Keras draws every unseeded random op from one global `SeedGenerator`
    (scrambled, not counted, per draw). After `lamina.utils.set_random_seed`
    lamina does the same, so unseeded `lamina.random` calls give Keras's
    numbers; otherwise `None` is returned as is, for torch's global generator.
    Symbolic calls (shape inference, the `meta` device) draw nothing, and
    code being compiled by `torch.compile` keeps torch's global generator.

    Args:
        seed: What the caller was given: an int, a `SeedGenerator` or `None`.
        device: The device the op runs on, if known.

    Returns:
        `seed` unchanged, or an int seed.
    """
    global _global_generator
    if seed is not None or _INFERRING[0]:
        return seed
    if device is not None and device.type == "meta":
        return seed
    if not _keras_seed_order() or torch.compiler.is_compiling():
        # Compiled code would bake one Python-side seed into the graph.
        return seed
    if _global_generator is None:
        _global_generator = SeedGenerator(name="global_seed_generator")
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Each rank its own noise stream, as the layers' generators (rank 0
            # keeps the single-process one).
            from lamina.distribution.data_parallel import separate_seed_generator

            separate_seed_generator(_global_generator)
    return _global_generator._next_seed(ordered=False)


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
