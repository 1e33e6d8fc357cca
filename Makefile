# Two commands for a fresh machine: `make demo` and `make test`. Each makes its own virtual
# environment (.venv) and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test test-explore lint bench install clean screenshots

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/aimpay demo

lint: install
	$(BIN)/lint-imports --no-logo import-linter.ini
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The property tests randomized, with ten times the examples; failures are kept in .hypothesis/
# and replayed first on the next run.
test-explore: install
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest tests/property $(PYTEST_ARGS)

# docs/playground.png: a desktop screenshot of a finished journey in the playground, taken by the
# browser test itself (needs /usr/bin/chromium: apt-get install -y chromium).
screenshots: install
	PLAYGROUND_SCREENSHOT=docs/playground.png $(BIN)/python -m pytest tests/browser -q -k desktop -p tests.plugins.require_services

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis *.egg-info
