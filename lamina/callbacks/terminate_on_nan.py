"""TerminateOnNaN: stop training at the first batch whose loss is NaN or infinite."""

import math

import torch

from lamina.callbacks._io_utils import print_msg
from lamina.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stop `fit` after a training batch whose loss is NaN or infinite.

    Cost: the loss is read after every batch, which makes the host wait for the
    device once per step (the one callback that must; Keras does the same). On
    a GPU this can cost a few percent of throughput; leave it out of runs that
    are known to be stable.

    Args:
        raise_error: `False` (the default) prints a line and sets
            `model.stop_training`, so the epoch ends and every callback's
            `on_train_end` runs. `True` raises `RuntimeError` at once, skipping
            that clean-up (for example, to keep a `BackupAndRestore` backup).

    Example:
    >>> model = lamina.Sequential([lamina.Input((1,)), lamina.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> y = np.array([1.0, 1e30, 1.0], "float32")  # (1e30)**2 overflows to inf
    >>> history = model.fit(np.ones((3, 1)), y, batch_size=1, epochs=3,
    ...                     shuffle=False, verbose=0,
    ...                     callbacks=[lamina.callbacks.TerminateOnNaN()])
    Batch 1: Invalid loss, terminating training
    >>> len(history.history["loss"])
    1
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if isinstance(loss, torch.Tensor):
            finite = bool(torch.isfinite(loss.detach()).all())  # one device sync
        else:
            finite = math.isfinite(float(loss))
        if finite:
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                f"{float(loss)}. Terminating training immediately."
            )
        print_msg(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
