"""When does fusing train steps pay? 3-layer MLPs of growing width, Adam,
`jit_compile=True`, one step per graph call (`steps_per_execution=1`) against
4 (`steps_per_execution=4`), per trainable-weight size. The crossover sets
`lamina.trainers.compiled_step.CPU_FUSED_WEIGHT_BYTES`; the rule is switched
off here (limit raised) so both settings really run as asked.

Run: .venv/bin/python bench/fused_steps_sweep.py [--widths 64,256,512,768]
     [--batch-size 64] [--device cpu|cuda]
"""

import argparse
import time

import numpy as np
import torch

import lamina
from lamina.trainers import compiled_step


def _model(width, features, steps):
    model = lamina.Sequential(
        [
            lamina.Input((features,)),
            lamina.layers.Dense(width, activation="relu"),
            lamina.layers.Dense(width, activation="relu"),
            lamina.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        jit_compile=True,
        steps_per_execution=steps,
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="64,128,256,384,512,640,768")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    lamina.backend.set_device(args.device)
    compiled_step.CPU_FUSED_WEIGHT_BYTES = float("inf")
    batch, features, batches = args.batch_size, 128, 64
    rng = np.random.default_rng(0)
    x = rng.random((batch * batches, features), dtype=np.float32)
    y = rng.integers(0, 10, batch * batches)
    print("| weights | 1 step/call (us/step) | 4 steps/call | fused speed-up |")
    print("|---|---|---|---|")
    for width in (int(w) for w in args.widths.split(",")):
        models = {steps: _model(width, features, steps) for steps in (1, 4)}
        for model in models.values():  # compile, then a warm pass
            model.fit(x, y, batch_size=batch, epochs=2, verbose=0)
        best = {steps: float("inf") for steps in models}
        for _ in range(args.repeats):  # interleaved: both see the same load
            for steps, model in models.items():
                if args.device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
                if args.device == "cuda":
                    torch.cuda.synchronize()
                best[steps] = min(best[steps], time.perf_counter() - start)
        mib = models[1].count_params() * 4 / 2**20
        one, four = (best[s] / batches * 1e6 for s in (1, 4))
        print(f"| {mib:.2f} MiB | {one:.0f} | {four:.0f} | {one / four:.2f}x |")


if __name__ == "__main__":
    main()
