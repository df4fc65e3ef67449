# The two commands a new user needs: `make run` and `make test`. Everything else is set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ARBITER := $(BIN)/arbiter
STAMP := $(VENV)/.installed
DEMO_BOOK := data/demo
MODELS := models/champion
STORE_STAMP := data/.store-loaded
# The demo book covers the 24 months before this one, so that "as of today" means something.
DEMO_START := $(shell date -u -d "$$(date -u +%Y-%m-01) -24 months" +%Y-%m-%d)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint bench bench-tools clean lock chromium

setup: $(STAMP)

# uv installs the pinned lock in seconds; pip would take minutes. Bytecode is compiled at
# install because PYTHONDONTWRITEBYTECODE may be set, and every process would recompile mlflow.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# The demo: a simulated book, models trained on it, the store loaded from it. Each step runs
# only when its output is missing, so a second `make run` starts the service at once.
$(DEMO_BOOK)/book.json: | $(STAMP)
	$(ARBITER) generate --customers 2000 --months 24 --seed 7 --start $(DEMO_START) $(DEMO_BOOK)

$(MODELS)/manifest.json: $(DEMO_BOOK)/book.json
	$(ARBITER) train --book $(DEMO_BOOK)
	$(ARBITER) export --alias champion --out $(MODELS)

$(STORE_STAMP): $(DEMO_BOOK)/book.json
	$(ARBITER) load $(DEMO_BOOK)
	touch $@

run: $(STAMP) $(MODELS)/manifest.json $(STORE_STAMP)
	@echo "A demo admin key for this run (shown once; send it as 'Authorization: Bearer <key>'):"
	$(ARBITER) keys create --role admin --name demo
	@echo "Arbiter on http://$(HOST):$(PORT) (API docs at /docs)"
	$(ARBITER) serve --host $(HOST) --port $(PORT)

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# The browser tests drive Debian's Chromium (Playwright's own download does not work here).
# The package index is refreshed only when the install fails without it.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends chromium \
		|| { apt-get update && apt-get install -y --no-install-recommends chromium; }; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check features training serving tests bench
	$(BIN)/ruff format --check features training serving tests bench

bench: $(STAMP) bench-tools
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# wrk, a load generator in C, so the service benchmark measures the servers, not the client.
bench-tools:
	@command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk \
		|| (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk)

# Re-pin every dependency after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) data mlruns mlflow.db mlartifacts test-artifacts $(MODELS)
