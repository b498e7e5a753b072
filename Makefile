# Two commands set up everything on a machine with only Python and pip:
#   make demo   -> creates .venv, installs shoal with all extras, runs the demo
#   make test   -> creates .venv, installs shoal with all extras, runs the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ARGS ?=

.PHONY: demo test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -P -m pip install --quiet --upgrade pip
	$(BIN)/python -P -m pip install --quiet -e '.[complete]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python -P examples/demo.py $(DEMO_ARGS)

test: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -P -m pytest -q tests

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

bench: install
	$(BIN)/python -P benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
