# The two set-up commands of the README: `make demo` and `make test`. Each creates the
# virtualenv on first use; the embedded Neo4j is built by Maven on first start.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint bench clean-data

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "dibx needs Java 17+: apt-get install openjdk-17-jre-headless maven"; exit 1; }
	@command -v mvn >/dev/null || { echo "dibx needs Maven: apt-get install maven"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	$(VENV)/bin/pip install -q -e . --group dev
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(VENV)/bin/dibx serve --demo

test: $(STAMP)
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
