"""Where a train step's time goes: the hand-written loop against lamina eager,
lamina's compiled whole step, and the compiled step fused N at a time.

Per variant, for one epoch of a fit workload: CPU microseconds per step (best
of `--repeats` passes, process CPU time, so other jobs on the machine count
less), the ratio to the hand-written loop, ATen operator and compiled-kernel
calls per step (torch.profiler: exact, load-independent) and Python function
calls per step (cProfile: exact). Fewer operator calls means fewer dispatches;
fewer Python calls means less interpreter time around them.

With `--device cuda` every side's data and weights are on the GPU, times are
wall-clock between `torch.cuda.synchronize()` calls, and a column counts kernel
launches per step (`cudaLaunchKernel` and kin in the profile): on a GPU small
models are bound by launches and the Python around them.

Run: .venv/bin/python bench/profile_step.py [--only tutorial] [--repeats 5]
     [--steps-per-execution 8] [--device cpu|cuda]
"""

import argparse
import cProfile
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _workloads  # noqa: E402


def _seconds(fn, device):
    if device == "cpu":
        start = time.process_time()
        fn()
        return time.process_time() - start
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def _variants(workload, steps_per_execution, device):
    import torch

    import lamina

    x, y = _workloads.make_data(workload)
    model = _workloads.torch_model(workload).to(device)
    xt, yt = _workloads.torch_tensors(workload, x, y, device)
    variants = {
        "hand-written torch": lambda: _workloads.torch_fit(workload, model, xt, yt)
    }
    lamina.backend.set_device(device)
    if device != "cpu":  # lamina's data on the device up front too
        x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    for name, jit, steps in (
        ("lamina eager", False, 1),
        ("lamina jit_compile", True, 1),
        (f"lamina jit, spe={steps_per_execution}", True, steps_per_execution),
    ):
        net = _workloads.keras_api_model(lamina, workload)
        net.compile(
            optimizer="adam",
            loss=net.loss,
            metrics=["accuracy"],
            jit_compile=jit,
            steps_per_execution=steps,
        )
        net.set_weights(_workloads.initial_weights(workload))
        variants[name] = _one_epoch(net, x, y, workload.batch_size)
    return variants


def _one_epoch(net, x, y, batch_size):
    return lambda: net.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)


_LAUNCHES = (
    "cudaLaunchKernel",
    "cudaLaunchKernelExC",
    "cuLaunchKernel",
    "cuLaunchKernelEx",
)


def _counts(fn, steps):
    """ATen operator (and compiled-kernel) calls, kernel launches (CUDA only)
    and Python function calls, per step."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = prof.key_averages()
    ops = sum(e.count for e in events if e.key.startswith(("aten::", "graph_")))
    launches = sum(e.count for e in events if e.key in _LAUNCHES)
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    return ops / steps, launches / steps, pstats.Stats(profiler).total_calls / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="tutorial")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps-per-execution", type=int, default=8)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    import torch
    import torch._inductor.config

    torch.set_num_threads(1)
    # Name compiled kernels in the profile ("graph_..."), so they are counted.
    torch._inductor.config.cpp.enable_kernel_profile = True
    for workload in _workloads.WORKLOADS:
        if workload.mode != "fit" or args.only not in workload.name:
            continue
        variants = _variants(workload, args.steps_per_execution, args.device)
        steps = -(-workload.samples // workload.batch_size)
        for fn in variants.values():  # warm up (and compile)
            fn()
            fn()
        best = {
            name: min(_seconds(fn, args.device) for _ in range(args.repeats))
            for name, fn in variants.items()
        }
        base = best["hand-written torch"]
        print(
            f"\n{workload.name}: {steps} steps per epoch, torch {torch.__version__}, "
            f"{args.device}"
        )
        print(
            "| variant | us/step | vs torch | ops/step | launches/step | Python calls/step |"
        )
        print("|---|---|---|---|---|---|")
        for name, fn in variants.items():
            ops, launches, calls = _counts(fn, steps)
            micros = best[name] / steps * 1e6
            print(
                f"| {name} | {micros:.0f} | {base / best[name]:.2f}x | {ops:.0f} "
                f"| {launches:.0f} | {calls:.0f} |"
            )


if __name__ == "__main__":
    main()
