# Two commands matter: `make demo` (run the pipeline on the local cloud) and `make test`.
# Both create .venv and install pinned dependencies (constraints.txt) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench lint fmt clean system-deps job-package deploy

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "missing prerequisite: Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[local,dev]'
	@touch $@

$(CHECKOV_STAMP): infra/checkov-requirements.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q -r infra/checkov-requirements.txt
	@touch $@

system-deps:
	@scripts/system-deps.sh

demo: $(STAMP) system-deps
	$(BIN)/obt demo --scale 1

test: $(STAMP) $(CHECKOV_STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP) system-deps
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/transform.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/history.py
	$(BIN)/python bench/e2e.py

# Deploy to Google Cloud: make deploy PROJECT=my-project [REGION=…] [NAME_PREFIX=…] (see infra/README.md).
# The venv: deploy.sh trains the review tagger with its obt.
deploy: $(STAMP)
	scripts/deploy.sh deploy $(if $(PROJECT),--project $(PROJECT)) $(if $(REGION),--region $(REGION)) $(if $(NAME_PREFIX),--name-prefix $(NAME_PREFIX))

# The Spark job's package for Dataproc --py-files, dist/spark_job.zip (obt_job + obt_contract), built by
# scripts/archives.py like every deployed archive (standard library only: no venv needed); the entry point
# spark_jobs/build_obt.py is uploaded as is.
job-package:
	$(PYTHON) scripts/archives.py job.package

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .obt .pytest_cache .ruff_cache dist
