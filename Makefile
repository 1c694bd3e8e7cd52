# One target per thing a person does. Each installs what it needs into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the review UI's map library (Leaflet) and the browser tests' accessibility checker (axe-core)
NODE_STAMP := node_modules/.installed

.PHONY: demo serve test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(NODE_STAMP)

# The demo and the server run without npm (the survey page then shows its table and says the
# map library is missing); the tests need it for the map and the accessibility checks.
demo: $(STAMP)
	@command -v npm >/dev/null 2>&1 && $(MAKE) --no-print-directory $(NODE_STAMP) \
		|| echo "npm not found: the review UI will show tables without its map"
	$(BIN)/python scripts/demo.py --data-dir var

serve: $(STAMP)
	@command -v npm >/dev/null 2>&1 && $(MAKE) --no-print-directory $(NODE_STAMP) \
		|| echo "npm not found: the review UI will show tables without its map"
	FIELD_SERVER_DATA_DIR=var $(BIN)/field-server serve

test: $(STAMP) $(NODE_STAMP)
	bash scripts/install_test_tools.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/client_sync_bench.py
	$(BIN)/python bench/dedup_bench.py
	$(BIN)/python bench/export_bench.py

clean:
	rm -rf var test-artifacts .pytest_cache node_modules
