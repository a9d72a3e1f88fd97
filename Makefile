# Two commands on a fresh machine with python3 (>= 3.11) and make:
#   make run    set up .venv from the lock, migrate, load the demo data, serve with worker
#   make test   install the test tools from the lock and run the whole suite
#   (make test-fast: the same without the integration and browser tests)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test test-fast messages lint bench smoke install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.dev: requirements-dev.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# The interface languages' catalogues (locale/*/LC_MESSAGES/*.po), compiled in pure Python.
messages: install
	$(BIN)/python manage.py compile_catalogues

run: install messages
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python -m tracker.devstack

test: install-dev messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite without the tests that start real processes or drive a browser: the loop to
# run while changing code (`make test` before pushing).
test-fast: install-dev
	$(BIN)/python -m pytest -m "not integration and not browser" $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

# The first run checked from outside (fresh clone, runtime lock only): what CI runs.
smoke:
	scripts/smoke_run.sh

# make bench SIZE=10000: seed up to that many commitments first (default 100,000).
SIZE ?= 100000
bench: install-dev
	$(BIN)/python scripts/bench.py --commitments $(SIZE)

clean:
	rm -rf $(VENV) var .pytest_cache test-artifacts
