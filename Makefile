# citylake — two commands do all set-up: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ROWS   ?= 1000000
GB     ?= 2
REQUESTS    ?= 2000
CONCURRENCY ?= 16
BATCHES     ?= 200

.PHONY: demo test test-fast test-integration test-dags test-production bench bench-small bench-bigfile bench-dags bench-api bench-maintenance serve snapshots lint expectations clean-lake

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/citylake demo

# The S3 tests' server is built once per machine (minutes on a fresh one): start that build first, in the
# background, so it overlaps the checks below; the tests wait on its lock if it is still running.
test: $(STAMP)
	@mkdir -p .citylake && ($(BIN)/python -m tests.support.s3server > .citylake/s3server-build.log 2>&1 &)
	$(BIN)/ruff check jobs dags tests benchmarks
	$(BIN)/mypy
	$(BIN)/citylake expectations --check
	$(BIN)/python -m tests.support.suite

# the edit loop: pure logic, no Spark session
test-fast: $(STAMP)
	$(BIN)/pytest tests/unit

# one part of the suite at a time (each is also in `make test`)
test-integration: $(STAMP)
	$(BIN)/pytest tests/integration

test-dags: $(STAMP)
	$(BIN)/pytest tests/dags

test-production: $(STAMP)
	$(BIN)/pytest tests/production

bench: $(STAMP)
	$(BIN)/python -m benchmarks.pipeline --rows $(ROWS)

bench-small: $(STAMP)
	$(BIN)/python -m benchmarks.small

bench-bigfile: $(STAMP)
	$(BIN)/python -m benchmarks.bigfile --gb $(GB)

bench-dags: $(STAMP)
	$(BIN)/python -m benchmarks.dags

bench-maintenance: $(STAMP)
	$(BIN)/python -m benchmarks.maintenance --batches $(BATCHES)

bench-api: $(STAMP)
	$(BIN)/python -m benchmarks.api --requests $(REQUESTS) --concurrency $(CONCURRENCY)

# the CKAN-compatible API, downloads, catalog.jsonld and the portal of the open zone (after `make demo`)
serve: $(STAMP)
	$(BIN)/citylake serve

# refresh tests/dags/topology.json after an intended catalog or DAG factory change
snapshots: $(STAMP)
	CITYLAKE_UPDATE_SNAPSHOTS=1 $(BIN)/pytest -q tests/dags -k topology

lint: $(STAMP)
	$(BIN)/ruff check jobs dags tests benchmarks
	$(BIN)/mypy

expectations: $(STAMP)
	$(BIN)/citylake expectations

clean-lake:
	rm -rf .citylake
