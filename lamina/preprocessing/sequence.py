"""lamina.preprocessing.sequence: `keras.preprocessing.sequence`."""

from lamina.utils.sequence_utils import pad_sequences

__all__ = ["pad_sequences"]
