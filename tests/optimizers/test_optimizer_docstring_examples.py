"""The `Example:` sections of the optimizer and schedule docstrings run as written."""

import doctest
import importlib

import pytest

MODULES = [
    "lamina.optimizers",
    "lamina.optimizers.optimizer",
    "lamina.optimizers.sgd",
    "lamina.optimizers.rmsprop",
    "lamina.optimizers.adam",
    "lamina.optimizers.adamw",
    "lamina.optimizers.adagrad",
    "lamina.optimizers.adadelta",
    "lamina.optimizers.adamax",
    "lamina.optimizers.nadam",
    "lamina.optimizers.lion",
    "lamina.optimizers.schedules.learning_rate_schedule",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
