"""lamina.distillation: knowledge distillation, as `keras.distillation`.

A `Distiller` trains a student model on labels and on the outputs of a frozen
teacher; `LogitsDistillation` and `FeatureDistillation` say how the two models'
outputs are compared, and `DistillationLoss` is the base for custom ones.
"""

from lamina.distillation.distillation_loss import (
    DistillationLoss,
    FeatureDistillation,
    LogitsDistillation,
)
from lamina.distillation.distiller import Distiller

__all__ = [
    "DistillationLoss",
    "Distiller",
    "FeatureDistillation",
    "LogitsDistillation",
]
