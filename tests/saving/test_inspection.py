"""lamina.saving.inspection.summarize: what a file holds, without building it."""

import numpy as np
import pytest

import lamina
from lamina.saving.inspection import summarize


def test_summarize_lists_model_and_variables_of_a_keras_file(tmp_path):
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(np.ones((2, 3)), np.ones((2, 2)), verbose=0)
    model.save(tmp_path / "m.keras")
    lines = []
    info = summarize(tmp_path / "m.keras", print_fn=lines.append)
    assert info["format"] == "keras"
    assert info["model"]["class_name"] == "Sequential"
    assert info["model"]["compile_config"]["loss"] == "mse"
    assert ("layers/dense/vars", "0", (3, 2), "float32") in info["variables"]
    assert info["total_values"] == 3 * 2 + 2 + 2  # kernel, bias, iteration, lr
    assert lines[0].startswith("File:") and lines[-1] == "Total saved values: 10"


def test_summarize_reads_weights_files_and_refuses_other_names(tmp_path):
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
    model.save_weights(tmp_path / "m.weights.h5")
    info = summarize(tmp_path / "m.weights.h5", print_fn=None)
    assert info["format"] == "weights.h5" and info["total_values"] == 8
    with pytest.raises(ValueError, match="reads `.keras` and `.weights.h5`"):
        summarize(tmp_path / "m.txt", print_fn=None)
