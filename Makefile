# Two commands do everything on a fresh machine (python3 >= 3.11 and make):
#   make run    create the environment from uv.lock, migrate, serve on http://127.0.0.1:8000
#   make test   create the environment from uv.lock, run the test suite
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced-from-lock
PYTEST_ARGS ?=
# Tests run in parallel (one process per core; `make test PYTEST_WORKERS=0` runs them in
# this process). worksteal keeps every worker busy to the end despite a few long tests.
PYTEST_WORKERS ?= auto

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install lint typecheck check-compose clean bench

# Readable log lines on a terminal; production keeps the JSON default (KRALIKI_LOG_FORMAT).
run: export KRALIKI_LOG_FORMAT ?= console
run: $(STAMP)
	@mkdir -p var
	$(VENV)/bin/kraliki migrate
	$(VENV)/bin/kraliki serve

test: $(STAMP)
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

install: $(STAMP)

# uv itself is pinned and installed into a private tools venv with pip, so the only
# prerequisite is python3; everything else comes from uv.lock.
$(UV):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r .ci/uv-requirements.txt

$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# `make bench`: the quick variant of every benchmark in benchmarks/, one after the other (a
# check that each still runs, seconds each; the figures come from full runs, see
# benchmarks/README.md). PostgreSQL with KRALIKI_BENCH_DATABASE_URL and
# KRALIKI_BENCH_MIGRATION_DATABASE_URL set, else SQLite. A new benchmark: its name in
# BENCHMARKS and its quick arguments in BENCH_QUICK_<name>.
BENCHMARKS := hooks request_overhead webhook_ingest ivr_step events events_rate rbac_decision \
	shared_limits load_users contacts_lookup contacts_import routing dialer_pacing wallboard_latency \
	sentiment_latency suggestion_latency
BENCH_QUICK_hooks := --rounds 500
BENCH_QUICK_request_overhead := --requests 200 --rounds 1 --warmup 20 --items 50 --concurrency 8
BENCH_QUICK_webhook_ingest := --calls 30 --rounds 1 --warmup 5 --concurrency 4
BENCH_QUICK_ivr_step := --calls 20 --rounds 1 --warmup 4 --concurrency 4 --turns 2
BENCH_QUICK_events := --events 200
BENCH_QUICK_events_rate := --rates 50 --seconds 2
BENCH_QUICK_rbac_decision := --tenants 20 --users 200 --decisions 2000
BENCH_QUICK_load_users := --users 60 --tenants 2 --calls 50 --think 1 --warmup 2 --seconds 8
BENCH_QUICK_shared_limits := --calls 500
BENCH_QUICK_contacts_lookup := --contacts 20000 --lookups 1000
BENCH_QUICK_contacts_import := --rows 2000 --invalid 100
BENCH_QUICK_routing := --agents 200 --queues 20 --rate 10 --seconds 4 --warmup 1
BENCH_QUICK_dialer_pacing := --agents 5,20 --days 2
BENCH_QUICK_wallboard_latency := --agents 60 --queues 6 --changes 30 --rate 10
BENCH_QUICK_sentiment_latency := --rate 50 --seconds 2 --calls 10 --warmup 0.5
BENCH_QUICK_suggestion_latency := --rate 4 --seconds 1 --warmup 0.5

bench: $(STAMP)
	@set -e; $(foreach name,$(BENCHMARKS),\
	echo "== benchmarks/$(name).py $(BENCH_QUICK_$(name))"; \
	$(VENV)/bin/python benchmarks/$(name).py $(BENCH_QUICK_$(name));)

check-compose: $(STAMP)
	$(VENV)/bin/docker-compose -f docker-compose.yml config -q

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
