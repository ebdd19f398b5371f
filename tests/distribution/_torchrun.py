"""Launching a worker script as two torchrun ranks on the CPU (gloo), for the
data-parallel tests."""

import os
import subprocess
import sys

import pytest
import torch.distributed as dist

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
