#!/usr/bin/env bash
# Wheels for the GPU machine: Keras 3 (the version in .venv) and the two of its
# dependencies that machine's image lacks (namex, optree), so that
# bench/cuda_check.sh there runs the suite's Keras parity tests on CUDA too and
# the bench can time a `keras` side. Run here, before the device call, and name
# .whl in the call's `carry`:
#
#   bash bench/gpu_wheels.sh          # -> .whl/ (ignored by git), ~3 MB
#
# PY_VERSION is the GPU machine's Python (3.12 there so far).
set -eu
PY=${PY:-.venv/bin/python}
version=$("$PY" -c "import importlib.metadata as m; print(m.version('keras'))")
"$PY" -m pip download -q --no-deps --only-binary=:all: \
    --python-version "${PY_VERSION:-3.12}" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "keras==$version" namex optree
ls .whl
