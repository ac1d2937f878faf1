# Two commands on a fresh machine (python3 >= 3.11): `make demo`, `make test`.
# The virtualenv is reused; the project is reinstalled only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# runtime dependencies only: enough for the demo
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# plus test tools, the PostgreSQL driver and DuckDB (the tests' oracle)
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/cdp demo --workspace configs

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

# the fuzzers for longer than the suite's short runs: make fuzz SECONDS=600 SEED=7
# (tests/fuzz/README.md; the PostgreSQL runs use $$CDP_TEST_POSTGRES_URI or the local server)
SECONDS ?= 120
SEED ?= 1
fuzz: $(VENV)/.installed-dev
	$(BIN)/python -m tests.fuzz.metamorphic --seconds $(SECONDS) --seed $(SEED)
	$(BIN)/python -m tests.fuzz.sqlmutate --seconds $(SECONDS) --seed $(SEED)
	$(BIN)/python -m tests.fuzz.sqlmutate --seconds $(SECONDS) --seed $(SEED) --combo pg_sqlite_csv

# bench/ in its own virtualenv (DuckDB 1.5.5 with its offline postgres scanner)
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(BENCH_VENV)/.installed
	test -d bench/data/events || $(BENCH_VENV)/bin/python -m bench.generate
	$(BENCH_VENV)/bin/python -m bench.run

clean:
	rm -rf $(VENV) configs/data build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
