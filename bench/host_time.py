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

A ratio is the hand-written loop's time over lamina's (> 1: lamina faster);
`--sides torch,lamina,torch_bf16,lamina_bf16` adds the mixed_bfloat16 pair
(lamina's policy against torch's autocast loop).

Run: .venv/bin/python bench/host_time.py [--only lstm] [--repeats 5] [--sides ...]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _workloads  # noqa: E402
from profile_step import _seconds  # noqa: E402  (process CPU time on the CPU)

# Tiny versions of the bench's workloads (the CNN keeps its 28x28 input, which
# its Dense layer's size depends on; a batch of 2 keeps it small).
TINY = [
    _workloads.Workload("mlp fit", "mlp", "fit", 8, 1024, [32, 64, 64, 10]),
    _workloads.Workload("cnn fit", "cnn", "fit", 2, 256),
    _workloads.Workload("lstm fit", "lstm", "fit", 8, 1024),
    _workloads.Workload("mlp predict", "mlp", "predict", 8, 1024, [32, 64, 64, 10]),
]
TINY_LSTM = {"VOCAB": 100, "SEQ_LEN": 4, "EMBED": 8, "UNITS": 8}
# Each lamina side against the hand-written loop of the same precision.
PAIRS = {"lamina": "torch", "lamina_bf16": "torch_bf16"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="e.g. lstm, fit, predict")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sides", default="torch,lamina", help="also torch_bf16,lamina_bf16"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    for name, value in TINY_LSTM.items():
        setattr(_workloads, name, value)
    sides = args.sides.split(",")
    pairs = [(a, b) for a, b in PAIRS.items() if a in sides and b in sides]
    print(f"torch {torch.__version__}, 1 thread, process CPU time per batch (us)")
    header = " | ".join(sides + [f"{a} / {b}" for a, b in pairs])
    print(f"| workload | {header} |")
    print("|---" * (1 + len(sides) + len(pairs)) + "|")
    for workload in TINY:
        if args.only not in workload.name:
            continue
        fns = {side: _workloads.runner(workload, side) for side in sides}
        for fn in fns.values():  # warm up: builds, first-call caches
            fn()
            fn()
        best = dict.fromkeys(fns, float("inf"))
        for _ in range(args.repeats):
            for side, fn in fns.items():
                best[side] = min(best[side], _seconds(fn, "cpu"))
        batches = workload.samples // workload.batch_size
        micros = {side: best[side] / batches * 1e6 for side in sides}
        cells = [f"{micros[side]:.0f}" for side in sides]
        cells += [f"{micros[b] / micros[a]:.2f}x" for a, b in pairs]
        print(f"| {workload.name}, batch {workload.batch_size} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
