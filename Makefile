# aqbot: every target bootstraps .venv when it is missing, so a fresh clone needs only `make run` / `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.aqbot-installed
ARGS   ?=

.PHONY: run test lint typecheck pytest fuzz bench venv clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

EXTRAS := $(VENV)/.aqbot-extras-installed
$(EXTRAS): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,fuzz,bench]'
	@touch $(EXTRAS)

venv: $(STAMP)

## Paper-trade against the embedded simulator with a live terminal view (Ctrl-C stops cleanly).
run: $(STAMP)
	$(BIN)/aqbot paper --speed realtime $(ARGS)

## Lint, strict types, then the whole test suite (what CI runs).
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check aqbot tests fuzz bench
	$(BIN)/ruff format --check aqbot tests fuzz bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict aqbot

pytest: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest $(PYTEST_ARGS)

## Long campaigns: state machines with many examples, fuzz targets, paper-run seed sweeps.
# No faulthandler watchdog here (make test keeps its 120 s one): the core machine alone runs ~3 min at
# 5000 examples, and the watchdog's traceback dump of the running interpreter crashed it (SIGSEGV).
fuzz: $(EXTRAS)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -o faulthandler_timeout=0 -m "not e2e" tests/property tests/auth tests/sim $(PYTEST_ARGS)
	$(BIN)/python -m fuzz $(ARGS)

## Benchmarks: ratios measured in one run, written to bench/results.json.
bench: $(EXTRAS)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
