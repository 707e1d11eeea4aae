# The two set-up commands of the README: `make demo` and `make test`. Each creates the
# virtualenv on first use; the embedded Neo4j is built by Maven on first start.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements-dev.lock | sha1sum | cut -c1-12)

# The explorer (explorer/ -> src/dibx/app/explorer_static/) is rebuilt only when its sources
# or its locked dependencies change; npm ci runs only when the lock file does.
EXPLORER_BUILT := src/dibx/app/explorer_static/BUILT
EXPLORER_DEPS := explorer/node_modules/.package-lock.json
EXPLORER_SRC := $(wildcard explorer/src/*.* explorer/src/*/*.*) explorer/build.mjs explorer/tsconfig.json

.PHONY: demo test lint bench soak vegeta clean-data lock explorer chromium

$(STAMP): pyproject.toml requirements-dev.lock
	@command -v java >/dev/null || { echo "dibx needs Java 17+: apt-get install openjdk-17-jre-headless maven"; exit 1; }
	@command -v mvn >/dev/null || { echo "dibx needs Maven: apt-get install maven"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	# Every dependency, transitive ones included, at the locked version and hash.
	$(VENV)/bin/pip install -q --require-hashes -r requirements-dev.lock
	$(VENV)/bin/pip install -q --no-deps -e .
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

# pytest runs in TEST_WORKERS processes (pytest-xdist), each with its own embedded Neo4j; a
# test file stays on one worker, and files go out in collection order, the slowest first
# (`HEAVY_FIRST` in tests/conftest.py). No test asserts a timing (speed is measured in bench/).
TEST_WORKERS ?= 2
test: $(STAMP) $(EXPLORER_BUILT) chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python -m bench.run

# The load generator of `make soak`: vegeta (MIT), pinned, built by `go install` into bench/.bin.
VEGETA_VERSION := v12.13.0
bench/.bin/vegeta:
	@command -v go >/dev/null || { echo "make soak needs Go to install vegeta: apt-get install golang"; exit 1; }
	GOBIN=$(CURDIR)/bench/.bin go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION)

vegeta: bench/.bin/vegeta

# Loopback load and soak run (bench/README.md, "Soak"); e.g. SOAK_ARGS="--suppliers 50000 --duration 60"
soak: $(STAMP) bench/.bin/vegeta
	$(VENV)/bin/python -m bench.soak $(SOAK_ARGS)

clean-data:
	-$(VENV)/bin/dibx neo4j stop
	rm -rf var

# After changing a pin in pyproject.toml: rewrite both locks (a test checks they agree).
# requirements.lock: what the service runs on; requirements-dev.lock: that plus the dev tools.
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -q
lock: $(STAMP)
	test -x $(VENV)/bin/uv || $(VENV)/bin/pip install -q uv==0.9.30
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --group dev -o requirements-dev.lock
