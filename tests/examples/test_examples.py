"""Every example runs on tiny data, so they never rot."""

import importlib.util
import pathlib
import time

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
NAMES = [
    "tutorial_walkthrough",
    "image_classifier_cnn",
    "text_classifier_lstm",
    "transformer_encoder",
    "tabular_regression_pandas",
    "transfer_learning_freeze",
    "custom_train_step",
]


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f"lamina_example_{name}", EXAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_quickly(name, capsys):
    pytest.importorskip("sklearn")
    if name == "tabular_regression_pandas":
        pytest.importorskip("pandas")
    start = time.perf_counter()
    result = _load(name).main(quick=True)
    assert time.perf_counter() - start < 10
    assert isinstance(result, dict) and capsys.readouterr().out


def test_results_are_sensible():
    assert _load("tutorial_walkthrough").main(quick=True)["restored_agree"]
    assert _load("transfer_learning_freeze").main(quick=True)["frozen_unchanged"]
    logs = _load("custom_train_step").main(quick=True)["logs"]
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(logs)
