"""The whole benchmark in one command: every workload, every side, one table.

Timing: one subprocess per workload sets up every side (same data, same
initial weights), runs one warm-up pass per side (which also compiles the
compiled sides), then `--repeats` rounds of one timed pass per side,
round-robin, so that all sides share the machine's noise. Throughput is samples /
median pass time; ratios are throughput relative to the hand-written float32
PyTorch loop (> 1: faster than it), mixed-precision sides included. Compile time
is the warm-up pass minus the median pass, for every compiled side.

Run: .venv/bin/python bench/run_all.py [--threads 1] [--repeats 3]
     [--only SUBSTRING] [--sides torch,lamina,...] [--steps-per-execution 8]
     [--device cpu|cuda]

Sides (see bench/_workloads.py): torch, torch_compile, torch_bf16, lamina,
lamina_jit, lamina_spe, lamina_bf16, keras (when importable), and on CUDA only
torch_fp16, lamina_fp16 and lamina_cg (lamina_spe replayed as CUDA graphs).

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
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _workloads  # noqa: E402

LABELS = {
    "torch": "hand-written torch",
    "torch_compile": "torch.compile",
    "torch_bf16": "torch bf16",
    "lamina": "lamina eager",
    "lamina_jit": "lamina jit",
    "lamina_spe": "lamina jit spe={spe}",
    "lamina_bf16": "lamina bf16",
    "keras": "Keras 3 torch",
    "torch_fp16": "torch fp16",
    "lamina_fp16": "lamina fp16",
    "lamina_cg": "lamina spe={spe} CUDA graphs",
}
# (lamina side, the torch side it is compared with head to head)
PAIRS = [("lamina_bf16", "torch_bf16"), ("lamina_fp16", "torch_fp16")]


def _rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_sides(index, sides, args):
    """Child process: time every side of one workload, interleaved (round-robin
    passes share the machine's noise); print a JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    workload = _workloads.WORKLOADS[index]
    runs, first, result = {}, {}, {}
    for side in sides:
        try:
            run = _workloads.runner(
                workload, side, args.device, args.steps_per_execution
            )
            if run is not None:
                first[side] = _workloads.timed(run, args.device)
        except Exception as error:  # one side failing leaves the others' figures
            traceback.print_exc()
            result[side] = {"error": f"{type(error).__name__}: {error}"[:300]}
            continue
        if run is None:
            result[side] = None
            continue
        runs[side] = run
    times = {side: [] for side in runs}
    for _ in range(args.repeats):
        for side, run in runs.items():
            times[side].append(_workloads.timed(run, args.device))
    for side in runs:
        median = statistics.median(times[side])
        result[side] = {
            "throughput": workload.samples / median,
            "first_s": first[side],
            "median_s": median,
        }
    print(json.dumps(result))


def measure_memory(index, side, args):
    """Child process: peak RSS (and on CUDA, peak allocated device memory) of one
    side alone over its warm-up pass."""
    import torch

    torch.set_num_threads(args.threads)
    workload = _workloads.WORKLOADS[index]
    run = _workloads.runner(workload, side, args.device, args.steps_per_execution)
    if run is None:
        print(json.dumps(None))
        return
    rss_before = _rss_mib()
    _workloads.timed(run, args.device)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"peak_mib": peak, "growth_mib": peak - rss_before}
    if args.device.startswith("cuda"):
        result["device_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(result))


def _child(args, *extra):
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(args.threads),
        KERAS_BACKEND="torch",
        KERAS_TORCH_DEVICE=args.device,
    )
    command = [sys.executable, os.path.abspath(__file__), *extra]
    command += ["--threads", str(args.threads), "--repeats", str(args.repeats)]
    command += ["--device", args.device]
    command += ["--steps-per-execution", str(args.steps_per_execution)]
    command += ["--fuse-steps"] if args.fuse_steps else []
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if "Traceback" in done.stderr:  # a side that failed: its traceback, for the log
        sys.stderr.write(done.stderr[-6000:])
    lines = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("{") or line == "null"
    ]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(lines[-1])


def import_times(modules, runs=5):
    """Best-of-`runs` wall time of `python -c "import <module>"` per module, in
    seconds; the modules take turns, so they share the machine's noise.

    Bytecode caching is on, as in any installed package (an environment with
    PYTHONDONTWRITEBYTECODE=1 would otherwise add ~0.15 s of compiling lamina's
    sources to every import), and one untimed import per module writes the
    cache first."""
    env = dict(os.environ, KERAS_BACKEND="torch")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    best = dict.fromkeys(modules, float("inf"))
    for module in modules:
        subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
    for _ in range(runs):
        for module in modules:
            start = time.perf_counter()
            command = [sys.executable, "-c", f"import {module}"]
            subprocess.run(command, env=env, check=True)
            best[module] = min(best[module], time.perf_counter() - start)
    return best


def _keras_available():
    env = dict(os.environ, KERAS_BACKEND="torch")
    done = subprocess.run(
        [sys.executable, "-c", "import keras"], env=env, capture_output=True
    )
    return done.returncode == 0


def device_name(device):
    """The accelerator's name, or the CPU model and its bfloat16 instructions."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    bf16 = sorted(flags & {"avx512_bf16", "amx_bf16"})
    return model + (f" (bf16: {', '.join(bf16)})" if bf16 else "")


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
    parser.add_argument(
        "--sides",
        default="",
        help="comma-separated sides; default: all that apply to --device",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=8,
        help="steps_per_execution of the lamina_spe side",
    )
    parser.add_argument(
        "--fuse-steps",
        action="store_true",
        help="fuse compiled steps on torch before 2.13 too (lamina turns that "
        "off there: torch 2.11 computed some fused steps wrongly on the CPU); "
        "for measuring where bench/cuda_check.sh found them correct",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip peak RSS")
    parser.add_argument(
        "--no-import-time", action="store_true", help="skip the import-time line"
    )
    parser.add_argument("--time-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fuse_steps:
        from lamina.trainers import compiled_step

        compiled_step.FUSES_STEPS = True
    if args.time_child:
        index, sides = args.time_child
        time_sides(int(index), sides.split(","), args)
        return
    if args.memory_child:
        measure_memory(int(args.memory_child[0]), args.memory_child[1], args)
        return
    sides = _choose_sides(args)
    started = time.perf_counter()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here.")
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {args.device}: "
        f"{device_name(args.device)}, {os.cpu_count()} cores; throughput vs the "
        f"hand-written float32 loop (median of {args.repeats} passes after a "
        f"warm-up); lamina_spe: steps_per_execution={args.steps_per_execution}"
    )
    rows, memory, compile_rows, pair_rows = [], [], [], []
    compiled = [s for s in sides if s in _workloads.COMPILED_SIDES]
    pairs = [(a, b) for a, b in PAIRS if a in sides and b in sides]
    for index, workload in enumerate(_workloads.WORKLOADS):
        if args.only and args.only not in workload.name:
            continue
        timing = _child(args, "--time-child", str(index), ",".join(sides))
        if "error" in timing:
            print(f"  {workload.name}: {timing['error']}", flush=True)
            continue
        base = (timing.get("torch") or {}).get("throughput")
        row, mem = [workload.name], [workload.name]
        for side in sides:
            if (timing[side] or {}).get("error"):
                print(f"  {workload.name} / {side}: {timing[side]['error']}")
            row.append(_rate_cell(timing[side], base, side == "torch"))
            if not args.no_memory:
                mem.append(_memory_cell(args, index, workload, side))
        compile_rows.append(
            [workload.name] + [_compile_cell(timing, side) for side in compiled]
        )
        pair_rows.append(
            [workload.name]
            + [
                f"{timing[a]['throughput'] / timing[b]['throughput']:.2f}x"
                if "throughput" in (timing.get(a) or {})
                and "throughput" in (timing.get(b) or {})
                else "-"
                for a, b in pairs
            ]
        )
        rows.append(row)
        memory.append(mem)
        print(f"  done: {workload.name}", file=sys.stderr, flush=True)
    labels = [LABELS[s].format(spe=args.steps_per_execution) for s in sides]
    print()
    print(_table(rows, ["workload"] + labels))
    if "lamina_spe" in sides:
        print('"-": steps_per_execution does not change predict: no such side')
    if pairs:
        print()
        print("Mixed precision head to head: lamina's throughput / torch's")
        header = [f"{LABELS[a]} / {LABELS[b]}" for a, b in pairs]
        print(_table(pair_rows, ["workload"] + header))
    if not args.no_memory:
        print()
        title = "Peak RSS MiB, one process per side (growth over the RSS after set-up)"
        if args.device == "cuda":
            title += "; peak allocated CUDA memory MiB after the slash"
        print(title)
        print(_table(memory, ["workload"] + labels))
    if compiled:
        print()
        print("Compile time: first pass minus a steady pass (compile + eager steps)")
        header = [LABELS[s].format(spe=args.steps_per_execution) for s in compiled]
        print(_table(compile_rows, ["workload"] + header))
    print()
    if args.no_import_time:
        print(f"total wall time {time.perf_counter() - started:.0f} s")
        return
    best = import_times(["torch", "lamina"] + (["keras"] if "keras" in sides else []))
    torch_s, lamina_s = best["torch"], best["lamina"]
    line = (
        f"import time (best of 5, interleaved): torch {torch_s:.2f} s, lamina "
        f"{lamina_s:.2f} s (+{lamina_s - torch_s:.2f} s over torch)"
    )
    if "keras" in best:
        keras_s = best["keras"]
        line += f", keras {keras_s:.2f} s (+{keras_s - torch_s:.2f} s)"
    print(line)
    print(f"total wall time {time.perf_counter() - started:.0f} s")


def _choose_sides(args):
    """The sides to run: `--sides`, or every side that applies to the device."""
    if args.sides:
        sides = [s for s in args.sides.split(",") if s]
        unknown = [s for s in sides if s not in _workloads.SIDES]
        if unknown:
            sys.exit(f"Unknown sides {unknown}; choose from {list(_workloads.SIDES)}.")
        cuda_only = [s for s in sides if s in _workloads.CUDA_ONLY_SIDES]
        if cuda_only and args.device != "cuda":
            sys.exit(f"{cuda_only} run on --device cuda only (float16 on CPU is slow).")
    else:
        sides = [
            s
            for s in _workloads.SIDES
            if args.device == "cuda" or s not in _workloads.CUDA_ONLY_SIDES
        ]
    if "keras" in sides and not _keras_available():
        sides.remove("keras")
    return sides


def _rate_cell(timing, base, is_base):
    if timing is None:
        return "-"
    if "error" in timing:
        return "error"
    rate = timing["throughput"]
    if is_base:
        return f"{rate:,.0f} samples/s"
    return f"{rate / base:.2f}x" if base else f"{rate:,.0f}/s"


def _compile_cell(timing, side):
    if timing[side] is None or "error" in timing[side]:
        return "-"
    return f"{timing[side]['first_s'] - timing[side]['median_s']:.1f} s"


def _memory_cell(args, index, workload, side):
    result = _child(args, "--memory-child", str(index), side)
    if result is None:
        return "-"
    if "error" in result:
        print(f"  {workload.name} / {side}: {result['error']}")
        return "error"
    cell = f"{result['peak_mib']:.0f} (+{result['growth_mib']:.0f})"
    if "device_mib" in result:
        cell += f" / {result['device_mib']:.0f}"
    return cell


if __name__ == "__main__":
    main()
