#!/usr/bin/env bash
# The checks to run when a CUDA machine is at hand, in one go: what the card
# and torch are, the whole test suite (lamina puts models and data on the GPU
# by default when CUDA is available), then the benchmark with --device cuda.
# Everything is also written under $OUT (default /tmp/cuda_check).
#
#   bash bench/cuda_check.sh            # python3 must have torch with CUDA
#   PY=.venv/bin/python TEST_S=300 TOTAL_S=600 bash bench/cuda_check.sh
#
# With .whl/ from bench/gpu_wheels.sh carried along, Keras is installed first
# (its parity tests then run too). WORKLOADS picks bench workloads
# (';'-separated name parts, each optionally "@side,side"); PROFILE="MLP 784"
# adds bench/profile_step.py --device cuda for the fit workloads it names;
# MODELS="transformer,resnet" adds bench/bench_models.py --device cuda.
# Each part has a time limit (TEST_S for the tests, TOTAL_S for the whole script) so the script ends on a
# machine lent for a fixed time; the bench runs one workload per process call
# and appends its table, so a cut-off run still leaves the finished workloads.
set -u
OUT=${OUT:-/tmp/cuda_check}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
start=$SECONDS

# Wheels from bench/gpu_wheels.sh (carried as .whl): Keras, for its parity tests.
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$PY" -c "import torch, torch._dynamo.config as c; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(), 'trace_autograd_ops:', hasattr(c, 'trace_autograd_ops'))"
    KERAS_BACKEND=torch "$PY" -c "import keras; print('keras', keras.__version__)" 2>&1 | tail -1
} 2>&1 | tee "$OUT/device.txt"

# Beside the suite, in the background: the CUDA-only tests (they would skip
# anywhere else, so they go first rather than wherever the suite's time limit
# falls), then, on torch before 2.13 (which runs one compiled step per graph
# call: torch 2.11 fused steps wrongly on the CPU), the fused-step tests with
# fusing forced on. If those match eager, the bench measures steps fused.
(
    timeout 200 "$PY" -m pytest -q -p no:cacheprovider -p no:benchmark -rfEs \
        tests/ops/test_ops_on_cuda.py tests/trainers/test_cuda_no_sync.py \
        tests/trainers/test_compiled_step.py -k "cuda" >"$OUT/cuda_only.log" 2>&1
    if "$PY" -c "import sys, torch; sys.exit(torch.__version__ >= (2, 13))"; then
        timeout 200 "$PY" -c "
import sys, pytest
from lamina.trainers import compiled_step
compiled_step.FUSES_STEPS = True
sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider',
    'tests/trainers/test_compiled_step.py',
    '-k', 'shuffled or sixteen or two_outputs or groups_batches']))
" >"$OUT/fused_check.log" 2>&1 && touch "$OUT/.fuse_ok"
    fi
) &
side_tests=$!

# SIGINT at the time limit: pytest then still prints its summary of failures.
workers=$("$PY" -c "import xdist" 2>/dev/null && echo "-n ${WORKERS:-8}")
timeout -s INT -k 30 "${TEST_S:-240}" "$PY" -m pytest -q -p no:cacheprovider \
    -p no:benchmark $workers -rfE --durations=15 ${TEST_ARGS:-} >"$OUT/tests.log" 2>&1
echo "tests: exit $? after $((SECONDS - start)) s"
grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/tests.log" | tail -60
wait $side_tests
echo "CUDA-only tests:"; grep -E "^(FAILED|ERROR|SKIPPED)|passed|failed" "$OUT/cuda_only.log" | tail -20
fuse=""
if [ -f "$OUT/fused_check.log" ]; then
    [ -f "$OUT/.fuse_ok" ] && fuse="--fuse-steps" && rm "$OUT/.fuse_ok"
    echo "fused steps on this torch: ${fuse:-not used (see fused_check.log)}"
    tail -3 "$OUT/fused_check.log"
fi

# A workload may name its sides after an @: "CNN 28x28x1, b128@torch,lamina".
IFS=';' read -ra workloads <<<"${WORKLOADS:-tutorial MLP 32;tutorial MLP, predict;MLP 784;CNN 28x28x1, b128;CNN 28x28x1, predict;LSTM}"
import_time=""
for entry in "${workloads[@]}"; do
    only=${entry%%@*}
    sides=""
    [ "$only" != "$entry" ] && sides="--sides ${entry#*@}"
    left=$(( ${TOTAL_S:-600} - (SECONDS - start) ))
    [ "$left" -gt 20 ] || { echo "bench: no time left for $only"; break; }
    timeout "$left" "$PY" bench/run_all.py --device cuda --no-memory $import_time \
        --repeats "${REPEATS:-5}" --only "$only" $sides $fuse ${BENCH_ARGS:-} 2>&1 | tee -a "$OUT/bench.txt"
    import_time="--no-import-time"  # measured once
done
if [ -n "${MODELS:-}" ]; then  # e.g. MODELS="transformer,resnet": bench/bench_models.py
    left=$(( ${TOTAL_S:-600} - (SECONDS - start) ))
    [ "$left" -gt 20 ] && timeout "$left" "$PY" bench/bench_models.py --device cuda \
        --quick --only "$MODELS" 2>&1 | tee -a "$OUT/models.txt"
fi
if [ -n "${PROFILE:-}" ]; then  # e.g. PROFILE="MLP 784": launches and us per step
    left=$(( ${TOTAL_S:-600} - (SECONDS - start) ))
    [ "$left" -gt 20 ] && timeout "$left" "$PY" bench/profile_step.py --device cuda \
        --only "$PROFILE" --repeats 3 2>&1 | grep -v USDT | tee -a "$OUT/profile.txt"
fi
echo "done after $((SECONDS - start)) s"
