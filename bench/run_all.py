"""The whole benchmark in one command: every workload, every side, one table.

Timing: one subprocess per workload sets up every side (same data, same
initial weights), runs one warm-up pass per side (which also compiles under
`jit_compile=True`), then `--repeats` rounds of one timed pass per side,
round-robin, so that all sides share the machine's noise. Throughput is samples /
median pass time; ratios are throughput relative to the hand-written PyTorch loop
(> 1: faster than it).

Run: .venv/bin/python bench/run_all.py [--threads 1] [--repeats 3]
     [--only SUBSTRING] [--sides torch,lamina,lamina_jit,keras]

Memory: one more subprocess per (workload, side) runs that side alone (its
warm-up pass, compilation included) and reports `resource.getrusage(RUSAGE_SELF).ru_maxrss` (peak
resident set size) and its growth over the resident size measured just before
the warm-up pass (after imports, data and model set-up). tracemalloc does
not see torch's allocations, and CPU builds of torch keep no allocator
statistics, so the operating system's count is the one that is comparable.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _workloads  # noqa: E402

LABELS = {
    "torch": "hand-written torch",
    "lamina": "lamina eager",
    "lamina_jit": "lamina jit_compile",
    "keras": "Keras 3 torch",
}


def _rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_sides(index, sides, threads, repeats):
    """Child process: time every side of one workload, interleaved (round-robin
    passes share the machine's noise); print a JSON line."""
    import torch

    torch.set_num_threads(threads)
    workload = _workloads.WORKLOADS[index]
    runs, first, times = {}, {}, {side: [] for side in sides}
    for side in sides:
        runs[side] = _workloads.runner(workload, side)
        first[side] = _workloads.timed(runs[side])
    for _ in range(repeats):
        for side in sides:
            times[side].append(_workloads.timed(runs[side]))
    result = {}
    for side in sides:
        median = statistics.median(times[side])
        result[side] = {
            "throughput": workload.samples / median,
            "first_s": first[side],
            "median_s": median,
        }
    print(json.dumps(result))


def measure_memory(index, side, threads):
    """Child process: peak RSS of one side alone over its warm-up pass."""
    import torch

    torch.set_num_threads(threads)
    run = _workloads.runner(_workloads.WORKLOADS[index], side)
    rss_before = _rss_mib()
    run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mib": peak, "growth_mib": peak - rss_before}))


def _child(args, *extra):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), KERAS_BACKEND="torch")
    command = [sys.executable, os.path.abspath(__file__), *extra]
    command += ["--threads", str(args.threads), "--repeats", str(args.repeats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(lines[-1])


def import_time(module, runs=5):
    """Best-of-`runs` wall time of `python -c "import <module>"`, in seconds."""
    env = dict(os.environ, KERAS_BACKEND="torch")
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def _keras_available():
    env = dict(os.environ, KERAS_BACKEND="torch")
    done = subprocess.run(
        [sys.executable, "-c", "import keras"], env=env, capture_output=True
    )
    return done.returncode == 0


def _table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in rows])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="run workloads whose name has it")
    parser.add_argument("--sides", default=",".join(_workloads.SIDES))
    parser.add_argument("--no-memory", action="store_true", help="skip peak RSS")
    parser.add_argument("--time-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_child:
        index, sides = args.time_child
        time_sides(int(index), sides.split(","), args.threads, args.repeats)
        return
    if args.memory_child:
        measure_memory(int(args.memory_child[0]), args.memory_child[1], args.threads)
        return
    sides = [s for s in args.sides.split(",") if s]
    if "keras" in sides and not _keras_available():
        sides.remove("keras")
    import torch

    print(
        f"torch {torch.__version__}, {args.threads} thread(s), cpu, "
        f"{os.cpu_count()} cores; throughput vs the hand-written loop (median of "
        f"{args.repeats} passes after a warm-up)"
    )
    rows, memory, compile_times = [], [], []
    for index, workload in enumerate(_workloads.WORKLOADS):
        if args.only and args.only not in workload.name:
            continue
        timing = _child(args, "--time-child", str(index), ",".join(sides))
        if "error" in timing:
            print(f"  {workload.name}: {timing['error']}", flush=True)
            continue
        base = timing.get("torch", {}).get("throughput")
        row, mem = [workload.name], [workload.name]
        for side in sides:
            rate = timing[side]["throughput"]
            if side == "torch":
                row.append(f"{rate:,.0f} samples/s")
            else:
                row.append(f"{rate / base:.2f}x" if base else f"{rate:,.0f}/s")
            if side == "lamina_jit":
                compile_times.append(
                    (workload.name, timing[side]["first_s"] - timing[side]["median_s"])
                )
            if args.no_memory:
                continue
            memory_result = _child(args, "--memory-child", str(index), side)
            if "error" in memory_result:
                mem.append("error")
                print(f"  {workload.name} / {side}: {memory_result['error']}")
            else:
                mem.append(
                    f"{memory_result['peak_mib']:.0f} "
                    f"(+{memory_result['growth_mib']:.0f})"
                )
        rows.append(row)
        memory.append(mem)
        print(f"  done: {workload.name}", file=sys.stderr, flush=True)
    labels = [LABELS[s] for s in sides]
    print()
    print(_table(rows, ["workload"] + labels))
    if not args.no_memory:
        print()
        print("Peak RSS MiB, one process per side (growth over the RSS after set-up)")
        print(_table(memory, ["workload"] + labels))
    if compile_times:
        print()
        print("jit_compile: first pass minus a steady pass (compile + eager step)")
        for name, seconds in compile_times:
            print(f"  {name}: {seconds:.1f} s")
    print()
    torch_s = import_time("torch")
    lamina_s = import_time("lamina")
    line = (
        f"import time (best of 5): torch {torch_s:.2f} s, lamina {lamina_s:.2f} s "
        f"(+{lamina_s - torch_s:.2f} s over torch)"
    )
    if "keras" in sides:
        keras_s = import_time("keras")
        line += f", keras {keras_s:.2f} s (+{keras_s - torch_s:.2f} s)"
    print(line)


if __name__ == "__main__":
    main()
