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

# Front-end packages (the SPARQL editor YASQE, map geometry, d3-geo, topojson-client, axe-core), pinned in package-lock.json and
# served by the app from this host: never a CDN. npm comes from Debian when it is missing.
ASSETS := node_modules/.installed
$(ASSETS): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q npm; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $(ASSETS)

assets: $(ASSETS)

# Debian packages: a JRE for the HermiT reasoner, Chromium for the browser tests, Virtuoso 7 for the
# remote-engine tests and the peer benchmark, wrk (the benchmark's load generator).
system-deps:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v virtuoso-t >/dev/null 2>&1 || missing="$$missing virtuoso-opensource"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
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

# The peer benchmark (benchmarks/README.md): migkg serve against Virtuoso 7, the Oxigraph server, raw
# pyoxigraph, a static floor and rdflib, with wrk. BENCH_ARGS e.g. "--generated 1000000 --seconds 5".
bench: install system-deps build
	$(BIN)/python benchmarks/peers.py $(BENCH_ARGS)

clean:
	rm -rf var test-artifacts .pytest_cache node_modules
