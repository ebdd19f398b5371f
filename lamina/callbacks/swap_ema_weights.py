"""SwapEMAWeights: evaluate (and optionally checkpoint) with the EMA weights."""

import torch

from lamina.callbacks.callback import Callback


class SwapEMAWeights(Callback):
    """Swap the optimizer's moving-average weights into the model for evaluation.

    Needs an optimizer created with `use_ema=True` (with a `MultiOptimizer`,
    at least one inner optimizer; only its variables swap). During validation,
    `evaluate` and `predict` the model holds the exponential moving average of
    its weights; training resumes with the raw weights. With
    `swap_on_epoch=True` the average is also in the model from each epoch's
    end to the next epoch's start, so callbacks placed after this one (for
    example `ModelCheckpoint`) see it.

    Args:
        swap_on_epoch: Also swap around epoch ends. Defaults to `False`.

    Raises:
        ValueError: When the swap first happens, if the optimizer does not use
            EMA.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizers(self) -> list:
        """The optimizers whose averages to swap: the model's optimizer, or
        the inner optimizers with `use_ema=True` of a `MultiOptimizer`."""
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        inner = getattr(type(optimizer), "optimizers", None)
        if inner is not None:
            with_ema = [o for o in optimizer.optimizers if getattr(o, "use_ema", 0)]
            if not with_ema:
                raise ValueError(
                    "SwapEMAWeights must be used when at least one inner "
                    "optimizer has `use_ema=True` set; every inner optimizer of "
                    f"MultiOptimizer '{optimizer.name}' has use_ema=False."
                )
            candidates = with_ema
        else:
            candidates = [optimizer]
        for candidate in candidates:
            if not getattr(candidate, "use_ema", False) or not hasattr(
                candidate, "_model_variables_moving_average"
            ):
                raise ValueError(
                    "SwapEMAWeights must be used when `use_ema=True` is set on "
                    "the optimizer (and after it is built). Received: "
                    f"use_ema={getattr(candidate, 'use_ema', None)}. Create the "
                    "optimizer with use_ema=True."
                )
        return candidates

    @torch.no_grad()
    def _swap_variables(self):
        for optimizer in self._optimizers():
            variables = optimizer._trainable_variables
            averages = optimizer._model_variables_moving_average
            saved = [v.clone() for v in variables]
            torch._foreach_copy_(variables, averages)
            torch._foreach_copy_(averages, saved)

    @torch.no_grad()
    def _finalize_ema_values(self):
        for optimizer in self._optimizers():
            torch._foreach_copy_(
                optimizer._model_variables_moving_average,
                optimizer._trainable_variables,
            )

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            # Keras: after the last epoch both copies hold the average, so an
            # end-of-fit finalize_variable_values() keeps it in the model.
            if epoch == self.params.get("epochs", 0) - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_predict_end(self, logs=None):
        # Keras 3 tests the flag the wrong way round here and never swaps back
        # after predict(); lamina restores the raw weights as documented.
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False
