# The two commands: `make run` and `make test`. Each builds what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
PYTEST_ARGS ?=
# Test processes: most of the slow tests wait (Terraform's provider polling the emulator, a
# local stack's long polls), so 4 workers keep 2 cores busy; `make test WORKERS=2` to compare.
# --dist loadscope: a module's tests share one worker, so a module-scoped fixture (a local
# stack, three Terraform applies) is built once, not once per worker (xdist's loadgroup
# marks do not take effect with pytest 9: measured).
WORKERS ?= 4

.PHONY: run test unit functional e2e apps lint fmt venv checkov bench clean backup sysdeps dashboard

# The venv is rebuilt when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt ec2-runner/requirements.txt requirements-client.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# checkov pins an old boto3, so it gets a venv of its own (test-only, never packaged).
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	touch $@

venv: $(VENV)/.installed

# Debian packages (bubblewrap, PostgreSQL, Redis, Chromium): installed when missing and root.
sysdeps:
	bash scripts/system_deps.sh
checkov: $(CHECKOV_VENV)/.installed

# AUTORELOAD=1 restarts the API when its code changes (for people editing it); off by default.
AUTORELOAD ?= 0
# The runner ships generated apps with the local runtime (runner.shipping.local).
run: venv sysdeps dashboard
	AUTOSTACK_RELEASE_EXECUTOR=$${AUTOSTACK_RELEASE_EXECUTOR:-local} AUTOSTACK_AUTORELOAD=$(AUTORELOAD) $(BIN)/python devtools/local_stack.py

test: venv checkov sysdeps dashboard
	$(BIN)/ruff check .
	CHECKOV_BIN=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope $(PYTEST_ARGS)

# The tiers alone. e2e starts the real local stack as processes.
unit: venv
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadscope tests/unit $(PYTEST_ARGS)
functional: venv sysdeps
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadscope tests/functional $(PYTEST_ARGS)
e2e: venv sysdeps
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadscope tests/e2e $(PYTEST_ARGS)
# Fixture apps run from their plans (real PostgreSQL/Redis, pip/npm from the registries) and
# every generated Dockerfile/workflow linted. `make test` runs it too (it lives under tests/).
apps: venv sysdeps
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadscope -m apps tests/apps $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy app.py chalicelib scripts devtools
	cd ec2-runner && ../$(BIN)/python -m mypy --config-file ../pyproject.toml runner

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The daily backup now (table export + runner.db snapshot job), against `make run`'s stack.
backup: venv
	AUTOSTACK_STAGE=local AUTOSTACK_TABLE=autostack AUTOSTACK_BUCKET=autostack-local \
	AUTOSTACK_QUEUE_URL=http://127.0.0.1:5000/123456789012/autostack-jobs \
	AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_DEFAULT_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	$(BIN)/python scripts/backup_now.py

# The dashboard (dashboard/dist, served at / by `make run`): `npm ci` when the lockfile
# changes, `npm run build` when a source changes.
DASHBOARD_SOURCES := $(wildcard dashboard/src/* dashboard/*.json dashboard/*.ts dashboard/index.html)
dashboard/node_modules/.installed: dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund
	touch $@
dashboard/dist/.built: dashboard/node_modules/.installed $(DASHBOARD_SOURCES)
	cd dashboard && npm run build
	touch $@
dashboard: dashboard/dist/.built

bench: venv
	for f in bench/bench_*.py; do $(BIN)/python -m bench.$$(basename $$f .py); done

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache
