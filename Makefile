# The two set-up commands of the README: `make demo` and `make test`. Each creates the
# virtualenv on first use; the embedded Neo4j is built by Maven on first start.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

# The explorer (explorer/ -> src/dibx/app/explorer_static/) is rebuilt only when its sources
# or its locked dependencies change; npm ci runs only when the lock file does.
EXPLORER_BUILT := src/dibx/app/explorer_static/BUILT
EXPLORER_DEPS := explorer/node_modules/.package-lock.json
EXPLORER_SRC := $(wildcard explorer/src/*.* explorer/src/*/*.*) explorer/build.mjs explorer/tsconfig.json

.PHONY: demo test lint bench clean-data explorer chromium

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "dibx needs Java 17+: apt-get install openjdk-17-jre-headless maven"; exit 1; }
	@command -v mvn >/dev/null || { echo "dibx needs Maven: apt-get install maven"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	$(VENV)/bin/pip install -q -e . --group dev
	rm -f $(VENV)/.installed-*
	touch $@

$(EXPLORER_DEPS): explorer/package.json explorer/package-lock.json
	@command -v npm >/dev/null || { echo "the explorer needs Node 18+ and npm: apt-get install nodejs npm"; exit 1; }
	cd explorer && npm ci --no-audit --no-fund
	touch $@

$(EXPLORER_BUILT): $(EXPLORER_DEPS) $(EXPLORER_SRC)
	cd explorer && npm run -s build

explorer: $(EXPLORER_BUILT)

# The browser tests drive Debian's chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

demo: $(STAMP) $(EXPLORER_BUILT)
	$(VENV)/bin/dibx serve --demo

test: $(STAMP) $(EXPLORER_BUILT) chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python -m bench.run

clean-data:
	-$(VENV)/bin/dibx neo4j stop
	rm -rf var
