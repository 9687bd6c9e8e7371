# Kehu CRM.  `make run` starts the CRM with demo data; `make test` runs the checks and tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
export KEHU_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test setup dev assets messages lint bench clean

$(BIN)/kehu: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

assets: node_modules/.package-lock.json $(BIN)/kehu
	$(PY) scripts/copy_assets.py

messages: $(BIN)/kehu
	$(PY) scripts/compile_messages.py

setup: $(BIN)/kehu assets messages

## Start Kehu on the embedded database with the demo company: http://127.0.0.1:8000
run: setup
	$(BIN)/kehu run

$(BIN)/pytest: $(BIN)/kehu pyproject.toml
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

dev: setup $(BIN)/pytest

lint: $(BIN)/pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## ruff, then the whole suite on SQLite, then again on PostgreSQL when KEHU_TEST_DATABASE_URL is set
test: dev lint
	KEHU_TESTING=1 $(BIN)/pytest
	@if [ -n "$$KEHU_TEST_DATABASE_URL" ]; then \
	  echo "== the suite again on PostgreSQL ($$KEHU_TEST_DATABASE_URL) =="; \
	  KEHU_TESTING=1 DATABASE_URL="$$KEHU_TEST_DATABASE_URL" $(BIN)/pytest -p no:cacheprovider -m "not browser"; \
	fi

## Benchmarks (see bench/README.md)
bench: dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) node_modules kehu/static/vendor .pytest_cache
