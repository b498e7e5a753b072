# Two commands set up everything on a machine with only Python and pip:
#   make demo   -> creates .venv, installs shoal with all extras, runs the demo
#   make test   -> creates .venv, installs shoal with all extras, runs the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ARGS ?=
# mypy maps modules to files by folder name, and this checkout's folder is not
# named shoal: it checks the package through a link named shoal in this folder.
MYPY_DIR := $(VENV)/mypy-path

.PHONY: demo test lint typecheck fuzz bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -P -m pip install --quiet --upgrade pip
	$(BIN)/python -P -m pip install --quiet -e '.[complete]'
	@# the dashboard's browser test drives Debian's headless chromium (skipped without it)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v chromium >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium || echo "could not install chromium"; fi
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python -P examples/demo.py $(DEMO_ARGS)

test: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	@$(MAKE) --no-print-directory typecheck
	$(BIN)/python -P -m pytest -q tests

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

# mypy with the settings in pyproject.toml ([tool.mypy]: strict on core and the
# scheduler's state machine, the default settings elsewhere).
typecheck: install
	@mkdir -p $(MYPY_DIR) && ln -sfn $(CURDIR) $(MYPY_DIR)/shoal
	cd $(MYPY_DIR) && MYPYPATH=. $(CURDIR)/$(BIN)/python -P -m mypy \
		--config-file $(CURDIR)/pyproject.toml -p shoal

# The protocol fuzz tests at length (make test runs a few dozen inputs each).
FUZZ_EXAMPLES ?= 20000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -P -m pytest -q tests/distributed/test_hostile_input.py -k fuzz

bench: install
	$(BIN)/python -P benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
