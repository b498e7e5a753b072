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
# Rooms (paths from the repository root) whose type errors are listed but do
# not fail `make typecheck` yet. A room leaves this list once it has none; the
# step fails while a clean room is still listed, so the list only shrinks.
TYPECHECK_PENDING := distributed/
space := $() $()

.PHONY: demo test lint typecheck fuzz bench install clean

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
	@$(MAKE) --no-print-directory typecheck
	$(BIN)/python -P -m pytest -q tests

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

# mypy with the settings in pyproject.toml ([tool.mypy]); its report, with
# paths from the repository root, is kept in $(MYPY_DIR)/report.txt.
typecheck: install
	@mkdir -p $(MYPY_DIR) && ln -sfn $(CURDIR) $(MYPY_DIR)/shoal
	@cd $(MYPY_DIR) && MYPYPATH=. $(CURDIR)/$(BIN)/python -P -m mypy \
		--config-file $(CURDIR)/pyproject.toml -p shoal > mypy.out 2>&1; \
	status=$$?; sed 's|^shoal/||' mypy.out > report.txt; cat report.txt; \
	if [ $$status -gt 1 ]; then echo "typecheck: mypy failed to run"; exit 1; fi; \
	failed=0; blocking=$$(grep ': error:' report.txt | grep -cv '^\($(subst $(space),\|,$(TYPECHECK_PENDING))\)'); \
	for room in $(TYPECHECK_PENDING); do \
		n=$$(grep -c "^$$room.*: error:" report.txt); \
		if [ $$n -eq 0 ]; then \
			echo "typecheck: $$room has no type errors: take it out of TYPECHECK_PENDING (Makefile)"; failed=1; \
		else echo "typecheck: $$n errors in $$room (pending: listed, not failing)"; fi; \
	done; \
	if [ $$blocking -gt 0 ]; then echo "typecheck: $$blocking errors outside the pending rooms"; failed=1; fi; \
	exit $$failed

# The protocol fuzz tests at length (make test runs a few dozen inputs each).
FUZZ_EXAMPLES ?= 20000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -P -m pytest -q tests/distributed/test_hostile_input.py -k fuzz

bench: install
	$(BIN)/python -P benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
