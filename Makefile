# TutorPulse — the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Two pytest-xdist workers, each test file on one worker (module fixtures stay shared);
# under xdist each worker gets a PostgreSQL database of its own (tests/conftest.py).
PYTEST_WORKERS ?= 2

.PHONY: install demo test check lint format typecheck imports browser-deps bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

## install: create or refresh .venv/ from the lock file (nothing else)
install: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet

## demo: set everything up, build the demo world and serve it on http://localhost:3000
demo: install
	$(BIN)/tutorpulse demo

## test: set everything up and run the test suite
test: install browser-deps
	mkdir -p artifacts
	$(BIN)/pytest --junitxml=artifacts/junit.xml -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

browser-deps:
	@scripts/ensure-chromium.sh

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format:
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

## check: everything a reviewer runs — lint, format, types, layers, tests
check: install lint typecheck imports test

bench: install
	$(BIN)/python benchmarks/bench_import.py

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache
