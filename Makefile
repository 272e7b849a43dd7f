# battrace developer commands. Everything installs into .venv; nothing else to install by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
DB     ?= sqlite:///var/battrace.sqlite
PORT   ?= 8000

.PHONY: help venv run demo test lint typecheck unit bench clean

help:
	@echo "make run    - install, create the embedded database with demo data, serve on :$(PORT)"
	@echo "make test   - install test tools, lint, type-check and run the whole test suite"
	@echo "make bench  - run the benchmarks in bench/ (ratios against a baseline measured in the same run)"

$(BIN)/battrace: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(BIN)/battrace

run: venv
	@mkdir -p var
	$(BIN)/battrace --db $(DB) init
	$(BIN)/battrace --db $(DB) demo --if-empty
	$(BIN)/battrace --db $(DB) serve --port $(PORT)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -m "not slow"

test: lint typecheck
	$(BIN)/python tests/announce_backends.py
	$(BIN)/pytest -q -n 2 --dist loadgroup

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

.PHONY: screenshots
screenshots: venv  ## pictures of the main pages (browser tests, system Chromium) into docs/screenshots/
	BATTRACE_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -n 0 tests/browser
