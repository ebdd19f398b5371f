"""LearningRateScheduler: set the learning rate from a function of the epoch."""

import inspect
import numbers

import torch

from lamina.callbacks._io_utils import print_msg
from lamina.callbacks._learning_rates import rate_owners
from lamina.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """At the start of each epoch, set the rate to `schedule(epoch, lr)`.

    `epoch` counts from 0 and `lr` is the optimizer's current rate. A function
    of the epoch alone, `schedule(epoch)`, is accepted too (Keras 2 style).
    Each epoch's logs get the rate as `learning_rate`. With a `MultiOptimizer`,
    each inner optimizer's rate is scheduled and logged as
    `learning_rate_<its name>`.

    Args:
        schedule: Function returning the new rate, a number.
        verbose: 1 prints the rate set at each epoch. Defaults to 0.

    Raises:
        ValueError: At the first epoch's start, if `schedule` returns something
            that is not a number.

    Example:
    >>> def halve_after_two(epoch, lr):
    ...     return lr if epoch < 2 else lr * 0.5
    >>> model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    >>> model.compile(lamina.optimizers.SGD(0.1), "mse")
    >>> history = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=4, verbose=0,
    ...     callbacks=[lamina.callbacks.LearningRateScheduler(halve_after_two)])
    >>> [round(lr, 4) for lr in history.history["learning_rate"]]
    [0.1, 0.1, 0.05, 0.025]
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler expects `schedule` to be a function "
                f"schedule(epoch, lr) -> float; got {type(schedule).__name__} "
                f"{schedule!r}."
            )
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _accepts_two_arguments(schedule)

    def _new_learning_rate(self, optimizer, epoch) -> float:
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError(
                'Optimizer must have a "learning_rate" attribute for '
                f"LearningRateScheduler; {type(optimizer).__name__} has none."
            )
        if self._takes_lr:
            value = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            value = self.schedule(epoch)
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()  # once per epoch, not per step
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                "The output of the `schedule` function should be a float (the "
                f"new learning rate); at epoch {epoch} it returned "
                f"{type(value).__name__} {value!r}. Return a number, e.g. "
                "`return lr * 0.9`."
            )
        return float(value)

    def on_epoch_begin(self, epoch, logs=None):
        owners = rate_owners(self.model.optimizer)
        for _, optimizer in owners:
            learning_rate = self._new_learning_rate(optimizer, epoch)
            optimizer.learning_rate = learning_rate
            if self.verbose > 0:
                whose = f"{optimizer.name} " if len(owners) > 1 else ""
                print_msg(
                    f"\nEpoch {epoch + 1}: LearningRateScheduler setting "
                    f"{whose}learning rate to {learning_rate}."
                )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for key, optimizer in rate_owners(self.model.optimizer):
                logs[key] = float(optimizer.learning_rate)


def _accepts_two_arguments(function) -> bool:
    """Whether `function(epoch, lr)` binds; `False` means `function(epoch)`."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature
        return True
    try:
        signature.bind(0, 0.1)
    except TypeError:
        return False
    return True
