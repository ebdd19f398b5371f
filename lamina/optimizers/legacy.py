"""lamina.optimizers.legacy: the names of tf.keras's legacy (Keras 2) optimizers.

Keras 3 keeps these names only to explain that they are gone: creating one
raises `ImportError`, as in Keras. Use the optimizer of the same name in
`lamina.optimizers` (`lamina.optimizers.Adam`, ...).
"""


class _LegacyOptimizer:
    def __init__(self, *args, **kwargs):
        name = type(self).__name__
        raise ImportError(
            f"`optimizers.legacy.{name}` is a Keras 2 optimizer, which Keras 3 "
            f"and lamina do not provide. Use `lamina.optimizers.{name}` "
            "instead (it takes the same main arguments, e.g. learning_rate)."
        )


class Optimizer(_LegacyOptimizer):
    """Keras 2's legacy base optimizer: creating one raises `ImportError`."""


class Adagrad(_LegacyOptimizer):
    """Keras 2's legacy Adagrad: creating one raises `ImportError`."""


class Adam(_LegacyOptimizer):
    """Keras 2's legacy Adam: creating one raises `ImportError`."""


class Ftrl(_LegacyOptimizer):
    """Keras 2's legacy Ftrl: creating one raises `ImportError`."""


class RMSprop(_LegacyOptimizer):
    """Keras 2's legacy RMSprop: creating one raises `ImportError`."""


class SGD(_LegacyOptimizer):
    """Keras 2's legacy SGD: creating one raises `ImportError`."""


__all__ = ["Adagrad", "Adam", "Ftrl", "Optimizer", "RMSprop", "SGD"]
