"""The benchmark's sides start from the same weights and run what they claim."""

import importlib.util
import pathlib

import numpy as np
import pytest
import torch

import lamina

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"


def _load_workloads():
    spec = importlib.util.spec_from_file_location(
        "lamina_bench_workloads", BENCH / "_workloads.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


W = _load_workloads()
BY_MODEL = {w.model: w for w in W.WORKLOADS if w.mode == "fit"}


@pytest.fixture(autouse=True)
def _automatic_device_afterwards():
    yield
    lamina.backend.set_device(None)  # the runner pins the bench's device


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
def test_torch_and_lamina_models_start_from_the_same_weights(kind):
    workload = BY_MODEL[kind]
    x, y = W.make_data(workload)
    x, y = x[:8], y[:8]
    expected = W.keras_api_model(lamina, workload).predict(x, verbose=0)
    model = W.torch_model(workload)
    xt, _ = W.torch_tensors(workload, x, y)
    with torch.no_grad():
        logits = model(xt)
    got = torch.sigmoid(logits) if kind == "lstm" else torch.softmax(logits, -1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
def test_lamina_bf16_side_computes_in_bfloat16_and_restores_the_policy(kind):
    workload = BY_MODEL[kind]
    before = lamina.mixed_precision.global_policy().name
    W.runner(workload, "lamina_bf16")
    assert lamina.mixed_precision.global_policy().name == before
    # A model built afterwards is float32 again.
    model = W.keras_api_model(lamina, workload)
    with pytest.raises(RuntimeError, match="not in effect"):
        W.check_compute_dtype(model, W.make_data(workload)[0], "bfloat16")


def test_torch_bf16_fit_trains_under_autocast():
    workload = BY_MODEL["mlp"]
    x, y = W.make_data(workload)
    model = W.torch_model(workload)
    xt, yt = W.torch_tensors(workload, x[:256], y[:256])
    loss, accuracy = W.torch_fit(workload, model, xt, yt, torch.bfloat16)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    assert model[0].weight.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(xt[:2]).dtype == torch.bfloat16


def test_steps_per_execution_side_is_fit_only():
    predict = next(w for w in W.WORKLOADS if w.mode == "predict")
    assert W.runner(predict, "lamina_spe") is None


def test_fit_workloads_fill_whole_groups_of_eight_steps():
    for workload in W.WORKLOADS:
        if workload.mode == "fit":
            assert workload.samples % (8 * workload.batch_size) == 0, workload.name


def test_host_time_script_prints_a_ratio_per_workload():
    import re
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "host_time.py"),
            "--only",
            "mlp predict",
            "--repeats",
            "1",
            "--sides",
            "torch,lamina,torch_bf16,lamina_bf16",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = re.findall(
        r"^\| mlp predict, batch 8 \| (\d+) \| (\d+) \| (\d+) \| (\d+) "
        r"\| ([\d.]+)x \| ([\d.]+)x \|$",
        done.stdout,
        re.M,
    )
    assert len(rows) == 1, done.stdout
    torch_us, lamina_us, torch_bf16, lamina_bf16, ratio, ratio_bf16 = map(
        float, rows[0]
    )
    assert min(torch_us, lamina_us, torch_bf16, lamina_bf16) > 0
    assert ratio == pytest.approx(torch_us / lamina_us, abs=0.05)
    assert ratio_bf16 == pytest.approx(torch_bf16 / lamina_bf16, abs=0.05)
