"""Host time per training step: the bench's fit workloads at tiny shapes, where
a step is almost all dispatch and Python, lamina eager against the hand-written
loop.

On a GPU, small models are bound by the host: the kernels run while Python
prepares the next ones, and the card waits on whichever side spends more host
time per step. This script measures that host time on the CPU, without a GPU:
the same networks as `run_all.py` (MLP, CNN, Embedding+LSTM) with batches and
sizes small enough that their kernels cost little. Process CPU time, best of
`--repeats` passes, the two sides alternating. A ratio under 1 here points at
Python to cut before a GPU run confirms it.

Run: .venv/bin/python bench/host_time.py [--only lstm] [--repeats 5]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _workloads  # noqa: E402

# Tiny versions of the bench's fit workloads (the CNN keeps its 28x28 input,
# which its Dense layer's size depends on; a batch of 2 keeps it small).
TINY = [
    _workloads.Workload("mlp", "mlp", "fit", 8, 1024, [32, 64, 64, 10]),
    _workloads.Workload("cnn", "cnn", "fit", 2, 256),
    _workloads.Workload("lstm", "lstm", "fit", 8, 1024),
]
TINY_LSTM = {"VOCAB": 100, "SEQ_LEN": 4, "EMBED": 8, "UNITS": 8}


def _sides(workload):
    import lamina

    x, y = _workloads.make_data(workload)
    model = _workloads.torch_model(workload)
    xt, yt = _workloads.torch_tensors(workload, x, y)
    net = _workloads.keras_api_model(lamina, workload)
    return {
        "torch": lambda: _workloads.torch_fit(workload, model, xt, yt),
        "lamina": lambda: net.fit(
            x, y, batch_size=workload.batch_size, epochs=1, verbose=0
        ),
    }


def _seconds(fn):
    start = time.process_time()
    fn()
    return time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="mlp, cnn or lstm")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    for name, value in TINY_LSTM.items():
        setattr(_workloads, name, value)
    print(f"torch {torch.__version__}, 1 thread, process CPU time per step")
    print(
        "| workload | hand-written torch (us/step) | lamina eager (us/step) | ratio |"
    )
    print("|---|---|---|---|")
    for workload in TINY:
        if args.only not in workload.name:
            continue
        sides = _sides(workload)
        for fn in sides.values():  # warm up: builds, first-call caches
            fn()
            fn()
        best = dict.fromkeys(sides, float("inf"))
        for _ in range(args.repeats):
            for name, fn in sides.items():
                best[name] = min(best[name], _seconds(fn))
        steps = workload.samples // workload.batch_size
        torch_us, lamina_us = (best[k] / steps * 1e6 for k in ("torch", "lamina"))
        print(
            f"| {workload.name}, batch {workload.batch_size} | {torch_us:.0f} "
            f"| {lamina_us:.0f} | {torch_us / lamina_us:.2f}x |"
        )


if __name__ == "__main__":
    main()
