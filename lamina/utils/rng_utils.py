"""`set_random_seed`: one call that makes a lamina program repeatable."""

import random

import numpy as np
import torch

# The seed given to the last `set_random_seed` call, or None.
_GLOBAL_RANDOM_SEED = None


def set_random_seed(seed: int) -> None:
    """Seed Python's `random`, NumPy and torch (CPU and every GPU) at once.

    After `set_random_seed(s)`, weight initialisation, dropout, shuffling and
    `lamina.random` calls without an explicit seed repeat from run to run (up
    to non-deterministic GPU kernels; see `torch.use_deterministic_algorithms`).
    As in Keras, unseeded initializers and seed generators then take their
    seeds from Python's `random`, and unseeded `lamina.random` calls from a
    global generator this call restarts: a model built after
    `set_random_seed(s)` starts from the same weights as under Keras 3 on torch.

    Args:
        seed: A non-negative int.

    Example:
    >>> lamina.utils.set_random_seed(0)
    >>> a = lamina.random.uniform((2,))
    >>> lamina.utils.set_random_seed(0)
    >>> bool((a == lamina.random.uniform((2,))).all())
    True
    """
    global _GLOBAL_RANDOM_SEED
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"set_random_seed expects a non-negative int; got seed={seed!r} of type "
            f"{type(seed).__name__}. Pass e.g. set_random_seed(42)."
        )
    seed = int(seed)
    _GLOBAL_RANDOM_SEED = seed
    from lamina.random.seed_generator import reset_global_seed_generator

    reset_global_seed_generator()  # Keras: the next unseeded op makes a new one
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seed must fit in 32 bits
    torch.manual_seed(seed)  # seeds CUDA (and MPS) generators too


def get_random_seed():
    """The seed of the last `set_random_seed` call, or `None` if never called."""
    return _GLOBAL_RANDOM_SEED
