# migkg: the two set-up commands (serve, test) and a few helpers. Every target installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: serve test install assets system-deps build validate stats bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) assets

# Front-end packages (the SPARQL editor, result views) from npm, pinned in package-lock.json and
# served by the app from node_modules/ under /vendor/: no CDN. Re-run only when the lock changes.
ASSETS_STAMP := node_modules/.installed
$(ASSETS_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(ASSETS_STAMP)

assets: $(ASSETS_STAMP)

# Debian packages: a JRE for the HermiT reasoner, Chromium for the browser tests, npm for the front-end packages.
system-deps:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

build: install
	$(BIN)/migkg build

validate: install
	$(BIN)/migkg validate

stats: install
	$(BIN)/migkg stats

# Set-up command 1: install, build the graph, serve explorer + SPARQL endpoint on the embedded store.
serve: install system-deps build
	$(BIN)/migkg serve --port $(PORT)

# Set-up command 2: install everything and run the whole test suite.
test: install system-deps
	$(BIN)/python -m pytest

bench: install build
	$(BIN)/python benchmarks/sparql_endpoint.py

clean:
	rm -rf var test-artifacts .pytest_cache
