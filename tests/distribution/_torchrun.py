"""Launching a worker script as two torchrun ranks on the CPU (gloo), for the
data-parallel tests."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch.distributed as dist

import lamina

# The data-parallel test files' `pytestmark`.
needs_gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend to run 2 processes",
)


def run_two_ranks(worker_file, new_folder, *extra, done=None, timeout=300):
    """Run `worker_file` under torchrun with 2 CPU ranks, writing into the
    folder `new_folder()` returns; returns `(folder, completed_process)`.

    CPU processes even where a GPU exists (two processes cannot share one GPU
    under NCCL). One retry, in a fresh folder: on a loaded 2-core machine a
    gloo worker has been seen to abort at start-up. `done(folder, completed)`
    says whether the launch did what the test needs (default: exit status 0).
    """
    done = done or (lambda folder, completed: completed.returncode == 0)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.getcwd(),
        "CUDA_VISIBLE_DEVICES": "",
    }
    for _attempt in range(2):
        folder = new_folder()
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            worker_file,
            str(folder),
            *extra,
        ]
        completed = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout
        )
        if done(folder, completed):
            break
    return folder, completed


def both_ranks_saved(folder, completed):
    """A `done` for workers that save OUT/rank<k>.npz after every case: both
    files are there (a late case failing hides none of the earlier ones, nor
    costs a second launch)."""
    return all((folder / f"rank{r}.npz").exists() for r in (0, 1))


def rank_results(folder):
    """What each rank saved, as `[{name: array}, {name: array}]`."""
    return [dict(np.load(folder / f"rank{r}.npz")) for r in (0, 1)]


def run_every_case(worker, new_folder, timeout=240):
    """`worker` (a module whose ranks save OUT/rank<k>.npz after every case)
    under torchrun: `(folder, completed_process, rank_results(folder))`,
    failing the test with the ranks' stderr if either saved nothing."""
    out, completed = run_two_ranks(
        worker.__file__, new_folder, done=both_ranks_saved, timeout=timeout
    )
    assert both_ranks_saved(out, completed), completed.stderr[-3000:]
    return out, completed, rank_results(out)


def run_in_one_process(worker, folder):
    """`worker.run_all(folder)` in this process, the reference the ranks are
    compared with: on the CPU, as the ranks are (CUDA_VISIBLE_DEVICES=""),
    since the cases build their data with plain torch."""
    with lamina.device("cpu"):
        return worker.run_all(str(folder))
