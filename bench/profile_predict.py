"""Where eager `predict` spends its time, in microseconds, on the bench workloads.

For each Keras-API model of `_workloads` run in predict mode (and for single
layers), this prints:

- per layer call: `layer(x)` minus `layer.call(x)` on a small batch under
  `torch.inference_mode()` (what `Layer.__call__` adds around the math), called
  on its own ("top") and as a model calls it during predict ("nested": inside
  an outer call that set `training=False`);
- per predict call: `model.predict` on one small batch minus `model(x)` on it
  (the fixed cost: data adapter, callbacks, mode switching, output conversion);
- per batch: `(predict over n batches - predict over 1 batch) / (n - 1)` minus
  the same batches through the hand-written torch module with its softmax, i.e.
  what lamina adds per batch over the reference loop (negative: lamina is faster);
- the whole timed pass of `bench/run_all.py`, lamina against the reference, as a
  ratio of throughputs (> 1: lamina is faster).

All timings are interleaved repeats in one process, one thread: the fastest
round in CPU time for the microsecond figures, the median wall time for the
whole pass (as `run_all.py` measures it).

Run: .venv/bin/python bench/profile_predict.py [--repeats 7] [--cprofile]
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _workloads  # noqa: E402


def _interleaved_us(fns, number, repeats):
    """Per-call time of each callable in us, run round-robin: the fastest of
    `repeats` rounds of `number` calls, in CPU time of this process (user +
    system, so page faults count), which other processes on a busy machine
    disturb far less than wall time."""
    times = [[] for _ in fns]
    for fn in fns:
        fn()  # warm-up
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.process_time()
            for _ in range(number):
                fn()
            times[i].append((time.process_time() - start) / number * 1e6)
    return [min(t) for t in times]


def layer_overheads(lamina, torch, repeats):
    """`layer(x) - layer.call(x)` for a few layer kinds on a tiny input."""
    layers = lamina.layers
    cases = [
        ("Dense(10)", layers.Dense(10), (8, 16)),
        ("Dense(10, relu)", layers.Dense(10, activation="relu"), (8, 16)),
        ("Dense(10, softmax)", layers.Dense(10, activation="softmax"), (8, 16)),
        ("Conv2D(4, 3, relu)", layers.Conv2D(4, 3, activation="relu"), (2, 6, 6, 1)),
        ("MaxPooling2D()", layers.MaxPooling2D(), (2, 6, 6, 4)),
        ("Flatten()", layers.Flatten(), (2, 3, 3, 4)),
    ]
    from lamina.layers.layer import _CALL_CONTEXT

    def nested(layer, x):
        # What Sequential.call does inside model(x, training=False).
        _CALL_CONTEXT.depth, _CALL_CONTEXT.training = 1, False
        try:
            return layer(x)
        finally:
            _CALL_CONTEXT.depth, _CALL_CONTEXT.training = 0, None

    rows = []
    with torch.inference_mode():
        for name, layer, shape in cases:
            x = torch.rand(shape)
            layer(x)
            top, inside, bare, context = _interleaved_us(
                [
                    lambda f=layer, x=x: f(x),
                    lambda f=layer, x=x: nested(f, x),
                    lambda f=layer, x=x: f.call(x),
                    lambda f=layer, x=x: nested(f.call, x),
                ],
                2000,
                repeats,
            )
            rows.append((name, top - bare, inside - context, bare))
    return rows


def predict_costs(lamina, torch, workload, repeats):
    """Fixed cost per predict call and extra cost per batch, in us."""
    x, y = _workloads.make_data(workload)
    model = _workloads.keras_api_model(lamina, workload)
    reference = _workloads.torch_model(workload)
    xt, _ = _workloads.torch_tensors(workload, x, y)
    batch = workload.batch_size
    small = 8
    x_small = x[:small]
    xt_small = torch.from_numpy(x_small)
    with torch.inference_mode():
        direct = lambda: model(xt_small)  # noqa: E731
        call_us, predict_us = _interleaved_us(
            [direct, lambda: model.predict(x_small, verbose=0)], 200, repeats
        )
    n = min(8, x.shape[0] // batch)
    many, one = x[: n * batch], x[:batch]
    many_t, one_t = xt[: n * batch], xt[:batch]
    number = 3 if workload.model == "cnn" else 30
    lam_many, lam_one, ref_many, ref_one = _interleaved_us(
        [
            lambda: model.predict(many, batch_size=batch, verbose=0),
            lambda: model.predict(one, batch_size=batch, verbose=0),
            lambda: _workloads.torch_predict(workload, reference, many_t),
            lambda: _workloads.torch_predict(workload, reference, one_t),
        ],
        number,
        repeats,
    )
    per_batch_lamina = (lam_many - lam_one) / (n - 1)
    per_batch_ref = (ref_many - ref_one) / (n - 1)
    passes = [[], []]
    for _ in range(repeats):
        passes[0].append(
            _workloads.timed(lambda: model.predict(x, batch_size=batch, verbose=0))
        )
        passes[1].append(
            _workloads.timed(lambda: _workloads.torch_predict(workload, reference, xt))
        )
    passes = [statistics.median(p) for p in passes]
    return {
        "fixed_us": predict_us - call_us,
        "per_batch_lamina_us": per_batch_lamina,
        "per_batch_torch_us": per_batch_ref,
        "ratio": passes[1] / passes[0],
        "model": model,
        "x": x,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--cprofile", action="store_true", help="also print a cProfile top 15"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    import lamina

    lamina.backend.set_device("cpu")
    print("per layer call, inference mode: Layer.__call__ overhead (us)")
    for name, top, inside, bare in layer_overheads(lamina, torch, args.repeats):
        print(
            f"  {name:<20} top +{top:5.1f}  nested +{inside:5.1f}   "
            f"(call() itself {bare:8.1f})"
        )
    for workload in _workloads.WORKLOADS:
        if workload.mode != "predict":
            continue
        costs = predict_costs(lamina, torch, workload, args.repeats)
        print(workload.name)
        print(f"  per predict call (fixed)   {costs['fixed_us']:10.1f} us")
        print(
            f"  per batch: lamina {costs['per_batch_lamina_us']:10.1f} us, torch "
            f"{costs['per_batch_torch_us']:10.1f} us, difference "
            f"{costs['per_batch_lamina_us'] - costs['per_batch_torch_us']:+.1f} us"
        )
        print(f"  whole pass: lamina / torch throughput {costs['ratio']:.2f}x")
        if args.cprofile:
            model, x = costs["model"], costs["x"]
            profiler = cProfile.Profile()
            profiler.enable()
            model.predict(x, batch_size=workload.batch_size, verbose=0)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
