# Everything goes through the project venv, (re)built from pyproject.toml when that changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
DEMO_USER := demo
DEMO_PASSWORD := leanplan-demo

.PHONY: .venv test run bench clean

.venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

# The browser tests drive Debian's chromium; .ci/install-browser installs it when it is missing.
test: .venv
	.ci/install-browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# A local demo: a known sign-in owns the demo plan. Not for production (deploy/ is).
run: .venv
	$(BIN)/leanplan init
	echo '$(DEMO_PASSWORD)' | $(BIN)/leanplan users add $(DEMO_USER) --email demo@leanplan.invalid \
		--password-stdin --if-missing
	$(BIN)/leanplan demo --if-empty --owner $(DEMO_USER)
	@echo "leanplan: open http://127.0.0.1:8000/ and sign in as $(DEMO_USER) / $(DEMO_PASSWORD)"
	$(BIN)/leanplan serve

# bench/load.py drives Debian's wrk; .ci/install-wrk installs it when it is missing.
bench: .venv
	.ci/install-wrk
	$(BIN)/python -m bench

# Leaves var/ alone: it holds the default SQLite database.
clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
