# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv on first use. torch is pinned to the 2.13.0 CPU build that
# this machine's pip finds on disk; the package itself only asks for torch>=2.11
# (tested: 2.13 CPU here and in CI, 2.11 CUDA on a lent GPU).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench docs lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

# One pytest-xdist worker per core (TEST_WORKERS=0 runs in this process);
# each test file stays on one worker, so module fixtures are built once.
TEST_WORKERS ?= auto

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(PY) bench/run_all.py

docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(PY) -m pip install --quiet ruff
	$(PY) -m ruff check lamina tests bench examples docs dev

clean:
	rm -rf $(VENV) .pytest_cache site
