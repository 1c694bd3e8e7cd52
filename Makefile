# One target per thing a person does. Each installs what it needs into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# npm's packages: the browser tests' accessibility checker (axe-core), and the Leaflet release
# that `make vendor` copies into the package (the server never reads node_modules)
NODE_STAMP := node_modules/.installed

.PHONY: demo serve test installed-check vendor lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(NODE_STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --data-dir var

serve: $(STAMP)
	FIELD_SERVER_DATA_DIR=var $(BIN)/field-server serve

test: $(STAMP) $(NODE_STAMP)
	bash scripts/install_test_tools.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

# The wheel as a museum installs it, outside the checkout: server, UI assets, register, exports.
installed-check: $(STAMP)
	bash scripts/check_installed.sh

# Refresh the vendored Leaflet (shipped inside the package) from the npm package pinned in
# package-lock.json; the LICENSE beside it is kept.
LEAFLET_VENDOR := field_server/web/static/vendor/leaflet
vendor: $(NODE_STAMP)
	rm -rf $(LEAFLET_VENDOR)/images $(LEAFLET_VENDOR)/leaflet.*
	mkdir -p $(LEAFLET_VENDOR)/images
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.js.map \
		node_modules/leaflet/dist/leaflet.css $(LEAFLET_VENDOR)/
	cp node_modules/leaflet/dist/images/*.png $(LEAFLET_VENDOR)/images/
	node -p "require('./node_modules/leaflet/package.json').version" > $(LEAFLET_VENDOR)/VERSION

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
