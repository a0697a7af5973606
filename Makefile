# Everything goes through the project venv, (re)built from pyproject.toml when that changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: .venv test run bench clean

.venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

test: .venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

run: .venv
	$(BIN)/leanplan init
	$(BIN)/leanplan demo --if-empty
	$(BIN)/leanplan serve

bench: .venv
	$(BIN)/python -m bench

# Leaves var/ alone: it holds the default SQLite database.
clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
