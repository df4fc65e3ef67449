# The two commands a new user needs: `make run` and `make test`. Everything else is set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ARBITER := $(BIN)/arbiter
STAMP := $(VENV)/.installed
DEMO_BOOK := data/demo
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint bench clean lock

setup: $(STAMP)

# uv installs the pinned lock in seconds; pip would take minutes.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

$(DEMO_BOOK)/invoices.parquet: | $(STAMP)
	$(ARBITER) generate --customers 2000 --months 24 --seed 7 $(DEMO_BOOK)

run: $(STAMP) $(DEMO_BOOK)/invoices.parquet
	$(ARBITER) validate $(DEMO_BOOK)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check features training serving tests bench
	$(BIN)/ruff format --check features training serving tests bench

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Re-pin every dependency after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) data mlruns mlflow.db test-artifacts
