"""DropoutRNNCell: the dropout masks an RNN cell reuses at every timestep."""

import torch

from lamina import random


class DropoutRNNCell:
    """Mixin for RNN cells with `dropout` and `recurrent_dropout`, as in Keras.

    A cell draws one mask for its inputs and one for its recurrent state the
    first time it needs them, and reuses them at every timestep until the RNN
    layer resets them at the end of its call. A cell that sets
    `dropout_mask_count` (LSTM and GRU with `recurrent_dropout`) gets a list of
    that many masks, one per gate.

    The cell must define `dropout`, `recurrent_dropout` (floats in `[0, 1]`) and
    `seed_generator` (a `lamina.random.SeedGenerator`).
    """

    def _create_dropout_mask(self, step_input, rate):
        ones = torch.ones_like(step_input)
        count = getattr(self, "dropout_mask_count", None)
        if count is None:
            return random.dropout(ones, rate=rate, seed=self.seed_generator)
        return [
            random.dropout(ones, rate=rate, seed=self.seed_generator)
            for _ in range(count)
        ]

    def get_dropout_mask(self, step_input):
        """The cached input mask (shaped like `step_input`), drawn on first use."""
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        """The cached recurrent-state mask, drawn on first use."""
        if (
            getattr(self, "_recurrent_dropout_mask", None) is None
            and self.recurrent_dropout > 0
        ):
            self._recurrent_dropout_mask = self._create_dropout_mask(
                step_input, self.recurrent_dropout
            )
        return getattr(self, "_recurrent_dropout_mask", None)

    def _input_dropout_mask(self, inputs):
        """The input mask(s) shaped to broadcast against `inputs`, which is one
        step `(batch, features)` or a whole sequence `(batch, time, features)`
        (the same mask then applies at every timestep)."""
        sequence = inputs.ndim == 3
        mask = self.get_dropout_mask(inputs[:, 0] if sequence else inputs)
        if not sequence:
            return mask
        if isinstance(mask, list):
            return [m[:, None] for m in mask]
        return mask[:, None]

    def reset_dropout_mask(self):
        """Forget the input mask; the next call draws a new one."""
        # Only when one was drawn: the RNN resets around every call, and
        # setting an attribute on a module costs more than the check.
        if self.__dict__.get("_dropout_mask") is not None:
            self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        """Forget the recurrent mask; the next call draws a new one."""
        if self.__dict__.get("_recurrent_dropout_mask") is not None:
            self._recurrent_dropout_mask = None
