"""Learning-rate schedules: the learning rate as a function of the optimizer step.

Each schedule is a callable `schedule(step)`. Called with a Python int (what the
optimizers do on every step) it returns a Python float, so the training loop never
waits on the device; called with a tensor it returns a `floatx()` tensor on the
step's device, as Keras's schedules do. Formulas, argument names, defaults and
`get_config()` keys follow `keras.optimizers.schedules`.
"""

import math

import numpy as np
import torch

from lamina.backend import floatx, to_torch_dtype

# Each helper below works on Python numbers and on torch tensors alike, so every
# formula is written once.


def _is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


def _as_step(step):
    """A tensor step as a float tensor; anything else (int, NumPy scalar) as float."""
    if isinstance(step, np.ndarray) and step.ndim > 0:
        step = torch.as_tensor(step)
    if _is_tensor(step):
        return step.to(to_torch_dtype(floatx()))
    return float(step)


def _floor(x):
    return torch.floor(x) if _is_tensor(x) else float(math.floor(x))


def _ceil(x):
    return torch.ceil(x) if _is_tensor(x) else float(math.ceil(x))


def _cos(x):
    return torch.cos(x) if _is_tensor(x) else math.cos(x)


def _log(x):
    return torch.log(x) if _is_tensor(x) else math.log(x)


def _minimum(x, bound: float):
    return torch.clamp(x, max=bound) if _is_tensor(x) else min(x, bound)


def _where(condition, if_true, if_false):
    if _is_tensor(condition):
        return torch.where(condition, if_true, if_false)
    return if_true if condition else if_false


def _check_positive_steps(owner: str, arg: str, value) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or value <= 0
    ):
        raise ValueError(
            f"{owner} expects `{arg}` to be a positive number of steps; got "
            f"{arg}={value!r}. For a decay over 1000 steps write {arg}=1000."
        )


class LearningRateSchedule:
    """Base class of learning-rate schedules (`keras.optimizers.schedules`).

    Subclasses implement `__call__(step)` and, to be saved with a model,
    `get_config()`. Pass an instance as any optimizer's `learning_rate`; the
    optimizer then evaluates it at its current step and keeps no
    `learning_rate` variable.

    Example:
    >>> class Halving(LearningRateSchedule):
    ...     def __call__(self, step):
    ...         return 0.1 * 0.5 ** (step // 10)
    ...     def get_config(self):
    ...         return {}
    >>> Halving()(25)
    0.025
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`__call__(self, step)` and return the learning rate at `step`."
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`get_config()` to be saved; return its constructor arguments."
        )

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    Args:
        initial_learning_rate: The rate at step 0, a float.
        decay_steps: Steps per factor of `decay_rate`, a positive number.
        decay_rate: The factor applied every `decay_steps` steps.
        staircase: If `True`, `step / decay_steps` is floored, so the rate drops
            in whole steps. Defaults to `False`.
        name: Defaults to `"ExponentialDecay"`.

    Example:
    >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
    0.025
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ):
        _check_positive_steps("ExponentialDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _as_step(step) / self.decay_steps
        if self.staircase:
            p = _floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[1]` up to
    `boundaries[1]`, ..., `values[-1]` after `boundaries[-1]`.

    Args:
        boundaries: Increasing step numbers, one fewer than `values`.
        values: The learning rate on each interval.
        name: Defaults to `"PiecewiseConstant"`.

    Example:
    >>> schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    >>> [schedule(s) for s in (10, 11, 21)]
    [1.0, 0.5, 0.1]
    """

    def __init__(self, boundaries, values, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay expects one more value than boundaries; "
                f"got boundaries={boundaries!r} (length {len(boundaries)}) and "
                f"values={values!r} (length {len(values)}). Give a value for "
                "every interval, e.g. boundaries=[100], values=[1.0, 0.1]."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = _as_step(step)
        if not _is_tensor(step):
            for boundary, value in zip(self.boundaries, self.values):
                if step <= boundary:
                    return float(value)
            return float(self.values[-1])
        # Tensor step: the sum of indicator * value, as Keras computes it.
        b = self.boundaries
        result = (step <= b[0]).to(step.dtype) * self.values[0]
        result = result + (step > b[-1]).to(step.dtype) * self.values[-1]
        for low, high, value in zip(b[:-1], b[1:], self.values[1:-1]):
            result = result + ((step > low) & (step <= high)).to(step.dtype) * value
        return result

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` over `decay_steps`:
    `(initial - end) * (1 - step / decay_steps) ** power + end`.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Length of the decay, a positive number.
        end_learning_rate: The rate reached at `decay_steps`. Defaults to `1e-4`.
        power: Exponent of the polynomial. Defaults to `1.0` (linear).
        cycle: If `True`, restart the decay with `decay_steps` stretched to the
            first multiple above `step` instead of staying at the end rate.
            Defaults to `False`.
        name: Defaults to `"PolynomialDecay"`.

    Example:
    >>> round(PolynomialDecay(0.1, 10, end_learning_rate=0.0)(5), 6)
    0.05
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ):
        _check_positive_steps("PolynomialDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step = _as_step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            # Keras: step 0 counts as the first cycle, not as zero cycles.
            decay_steps = decay_steps * _where(
                step == 0, 1.0, _ceil(step / decay_steps)
            )
        else:
            step = _minimum(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (
            1 - p
        ) ** self.power + self.end_learning_rate

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Steps per unit of decay, a positive number.
        decay_rate: How fast the rate falls.
        staircase: If `True`, `step / decay_steps` is floored. Defaults to `False`.
        name: Defaults to `"InverseTimeDecay"`.

    Example:
    >>> InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)(2)
    0.05
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ):
        _check_positive_steps("InverseTimeDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _as_step(step) / self.decay_steps
        if self.staircase:
            p = _floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then a half cosine down to `alpha` times the peak.

    Without `warmup_target` the rate starts at `initial_learning_rate` and
    follows `peak * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) +
    alpha)`, staying at `peak * alpha` after `decay_steps`. With
    `warmup_target`, it first rises linearly from `initial_learning_rate` to
    `warmup_target` over `warmup_steps`, then decays from `warmup_target`.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Length of the cosine decay, a positive number.
        alpha: Final rate as a fraction of the peak. Defaults to `0.0`.
        name: Defaults to `"CosineDecay"`.
        warmup_target: Peak reached after warmup, or `None` for no warmup.
        warmup_steps: Length of the warmup. Defaults to `0`.

    Example:
    >>> round(CosineDecay(0.1, decay_steps=10)(5), 6)
    0.05
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps=0,
    ):
        _check_positive_steps("CosineDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, peak):
        cosine = 0.5 * (1.0 + _cos(math.pi * (step / self.decay_steps)))
        return peak * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _as_step(step)
        if self.warmup_target is None:
            return self._decay(
                _minimum(step, float(self.decay_steps)), self.initial_learning_rate
            )
        step = _minimum(step, float(self.decay_steps + self.warmup_steps))
        if not _is_tensor(step) and step >= self.warmup_steps:
            return self._decay(step - self.warmup_steps, self.warmup_target)
        warmup = (self.warmup_target - self.initial_learning_rate) * (
            step / self.warmup_steps
        ) + self.initial_learning_rate
        if not _is_tensor(step):
            return warmup
        decayed = self._decay(step - self.warmup_steps, self.warmup_target)
        return torch.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2016).

    The first period lasts `first_decay_steps` and decays from
    `initial_learning_rate` to `alpha` times it; each following period is
    `t_mul` times longer and starts at `m_mul` times the previous peak.

    Args:
        initial_learning_rate: The rate at step 0.
        first_decay_steps: Length of the first period, a positive number.
        t_mul: Growth of each period's length. Defaults to `2.0`.
        m_mul: Growth of each period's peak. Defaults to `1.0`.
        alpha: Final rate of a period as a fraction of its peak. Defaults to `0.0`.
        name: Defaults to `"SGDRDecay"`.

    Example:
    >>> schedule = CosineDecayRestarts(0.1, first_decay_steps=10)
    >>> [round(schedule(s), 6) for s in (0, 5, 10)]
    [0.1, 0.05, 0.1]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ):
        _check_positive_steps(
            "CosineDecayRestarts", "first_decay_steps", first_decay_steps
        )
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        fraction = _as_step(step) / self.first_decay_steps
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            restart = _floor(fraction)
            fraction = fraction - restart
        else:
            # Index of the current period of a geometric series of lengths.
            restart = _floor(_log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul**restart
        peak = self._m_mul**restart
        cosine = 0.5 * peak * (1.0 + _cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }
