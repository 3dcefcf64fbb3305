# Everyday entry points. Every target installs what it needs into .venv first.
PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
DAYS       ?= 30
SEED       ?= 7
ROWS       ?= 1000000
# Empty: real AWS. Set it to LocalStack or any emulator URL to deploy there.
AWS_ENDPOINT_URL ?=
# The local AWS of `make up`: its port, and how much faster than the wall clock its schedules
# and alarm periods run.
LOCAL_AWS_PORT ?= 4566
LOCAL_AWS_URL  := http://127.0.0.1:$(LOCAL_AWS_PORT)
SPEED          ?= 1
PACKAGING  ?= layer
# OpenMP with 2 threads on this 2-core machine made a small HistGradientBoosting fit 14x
# slower (2.05 s vs 0.15 s); Lambda below 1,769 MB has less than one vCPU anyway.
export OMP_NUM_THREADS ?= 1

DEPS_STAMP := $(VENV)/.requirements

.PHONY: setup deps test lint demo deploy destroy package bench bench-detection clean \
	up down deploy-local env status logs

setup: $(STAMP)

# The pinned requirements alone (the Dockerfile caches this layer), then the project itself.
deps: $(DEPS_STAMP)

$(DEPS_STAMP): requirements/runtime.txt requirements/dev.txt
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	touch $(DEPS_STAMP)

$(STAMP): $(DEPS_STAMP) pyproject.toml
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# One worker per core (TEST_WORKERS=0: one process). A file's tests stay on one worker: its
# module fixtures (a Terraform apply, a demo) are set up once, not on every worker.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Style and types of the Python code, format and validity of the Terraform root module.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	terraform fmt -check -recursive deployment/terraform
	$(PY) -m deployment.deploy validate

# The scenario file decides days and seed (demo/scenarios/default.yml unless SCENARIO is set);
# DAYS and SEED override it only when given: make demo SEED=3.
demo: $(STAMP)
	$(PY) -m demo $(if $(SCENARIO),--scenario $(SCENARIO)) \
		$(if $(filter-out file,$(origin DAYS)),--days $(DAYS)) \
		$(if $(filter-out file,$(origin SEED)),--seed $(SEED))

package: $(STAMP)
	$(PY) -m layers.build --out build/packages

# The endpoint is checked before the packages are built: a mistyped or stopped emulator
# fails in seconds, not after the build.
deploy: $(STAMP)
	$(PY) -m deployment.deploy check --endpoint "$(AWS_ENDPOINT_URL)"
	@$(MAKE) --no-print-directory package
	$(PY) -m deployment.deploy apply --packaging $(PACKAGING) --endpoint "$(AWS_ENDPOINT_URL)"

destroy: $(STAMP)
	$(PY) -m deployment.deploy destroy --endpoint "$(AWS_ENDPOINT_URL)"

# A local AWS without Docker that stays up: moto_server behind $(LOCAL_AWS_URL), the deployed
# functions run on invoke, S3 uploads, schedules and alarms (local_aws/README.md).
up: $(STAMP)
	$(PY) -m local_aws.control up --port $(LOCAL_AWS_PORT) --speed $(SPEED)

down: $(STAMP)
	$(PY) -m local_aws.control down --port $(LOCAL_AWS_PORT)

deploy-local:
	@$(MAKE) --no-print-directory deploy AWS_ENDPOINT_URL=$(LOCAL_AWS_URL)

# `eval "$$(make -s env)"`: the endpoint, credentials and bucket names for the aws CLI, and
# the Terraform settings for running `terraform` by hand (README "Everyday commands").
env: $(STAMP)
	@$(PY) -m deployment.operate env --endpoint "$(or $(AWS_ENDPOINT_URL),$(LOCAL_AWS_URL))"

status: $(STAMP)
	@$(PY) -m deployment.operate status --endpoint "$(or $(AWS_ENDPOINT_URL),$(LOCAL_AWS_URL))"

logs: $(STAMP)
	@$(PY) -m deployment.operate logs --endpoint "$(or $(AWS_ENDPOINT_URL),$(LOCAL_AWS_URL))"

bench: $(STAMP)
	$(PY) bench/bench_scoring.py --rows $(ROWS)
	$(PY) bench/bench_monitoring.py --rows $(ROWS)

# False trips and detection power of the emergency rules on a simulated production: about
# 3 minutes, so not part of `make bench`. `bench/bench_detection.py --quick` is a smoke run.
bench-detection: $(STAMP)
	$(PY) bench/bench_detection.py

clean:
	rm -rf build .pytest_cache
