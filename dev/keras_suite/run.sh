#!/bin/bash
# Run Keras 3's own unit tests (shipped in the installed `keras` package) on
# lamina. Usage, from the repository root:
#   bash dev/keras_suite/run.sh OUT_DIR layers/core ops/math_test.py ... [-- PYTEST_ARGS]
# copies each keras/src/<path>'s *_test.py files into OUT_DIR/t/ (flattened
# names), links this folder's conftest and shim there, and runs pytest on them.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-$HERE/../../.venv/bin/python}
OUT=$1; shift
KSRC=$($PY -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("keras").origin), "src"))')
mkdir -p "$OUT/t"
ln -sf "$HERE/conftest.py" "$OUT/conftest.py"
printf '[pytest]\naddopts = -p no:cacheprovider\n' > "$OUT/pytest.ini"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  find "$KSRC/$1" -name "*_test.py" | while read -r f; do
    rel=${f#"$KSRC"/}
    cp "$f" "$OUT/t/$(echo "${rel%.py}" | sed 's#/#__#g').py"
  done
  shift
done
[ "$1" = "--" ] && shift
# One test file that cannot import (a Keras-internal base class) must not stop the rest.
cd "$OUT" && exec "$PY" -m pytest -q --continue-on-collection-errors t/ "$@"
