# Each target makes its own virtualenv in .venv (override with VENV=...,
# and the Python that builds it with PYTHON=...). tools/venv.py locks the
# virtualenv, so targets started together wait for each other's install.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY = $(PYTHON) tools/venv.py $(VENV)

.PHONY: demo test lint typecheck verifytypes docs pytest bench soak clean test-env demo-env

demo-env:
	@$(READY) demo

test-env:
	@$(READY) test

demo: demo-env
	$(BIN)/python demo.py $(ARGS)

lint: test-env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: test-env
	$(BIN)/mypy

# How complete the types of the public API are, as pyright sees an installed
# tornsess (part of `make test`). The editable install is an import
# hook that pyright cannot follow, so the source tree goes on PYTHONPATH.
verifytypes: test-env
	$(BIN)/python tools/verifytypes.py

docs: test-env
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

pytest: test-env
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck verifytypes docs pytest

# The full soak: 20,000 requests from 32 concurrent clients per store
# (make test runs a short one).
soak: test-env
	SOAK_REQUESTS=$${SOAK_REQUESTS:-20000} $(BIN)/python -m pytest tests/test_soak.py -q -s -p no:cacheprovider

bench: test-env
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) $(VENV).lock .venv-* docs/_build .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist *.egg-info
