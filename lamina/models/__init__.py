"""lamina.models: Model, Sequential, and (re)building models from configs."""

from lamina.models.functional import Functional
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.saving.cloning import clone_model
from lamina.saving.saving_api import (
    load_model,
    model_from_json,
    model_from_yaml,
    save_model,
)

__all__ = [
    "Functional",
    "Model",
    "Sequential",
    "clone_model",
    "load_model",
    "model_from_json",
    "model_from_yaml",
    "save_model",
]
