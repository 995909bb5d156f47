# Two commands for a newcomer: `make reproduce` (regenerate results) and `make test`.
# Each sets itself up on a fresh machine and is quick the second time.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/constraints.txt requirements/base.txt requirements/dev.txt \
                requirements/embedded.txt pyproject.toml

# Nothing goes to the home directory: pip's cache is set here for the install; everything else
# (Jupyter, IPython, matplotlib, hub, npm/yarn, XDG caches) is set by `import lib` (lib/env.py),
# and `$(PY) -m lib.workflow exec CMD` runs a command that does not import lib with them.
export BSD_CACHE_DIR ?= $(CURDIR)/.cache
export PIP_CACHE_DIR := $(BSD_CACHE_DIR)/pip
export PIP_CONSTRAINT := $(CURDIR)/requirements/constraints.txt
WITH_ENV := $(PY) -m lib.workflow exec

.PHONY: setup test test-notebooks preflight reproduce paper-dry-run notebooks lab bench lint site cluster-check clean-cache

setup: $(STAMP)
	@$(PY) -m lib.prepare

$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/base.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -r requirements/embedded.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

# The preflight of the paper runs comes first, then the unit tests over every core (pytest-xdist;
# a test file's tests share one worker, so its module fixtures load once). conftest.py points the
# results at an empty per-session folder, so what an earlier `make reproduce` left in results/
# never changes a test. `make test-notebooks` re-executes the five notebooks with nbval (in
# NOTEBOOK_ORDER, one kernel at a time); CI runs both. Plain `pytest` runs both in one process.
test: preflight
	$(PY) -m pytest tests -n auto --dist loadfile

test-notebooks: setup
	$(PY) -m pytest notebooks

# Every paper run checked offline in seconds: each model built from its architecture preset on
# the meta device (heads, hooks, quantization path, estimated GPU memory vs the file's resources).
preflight: setup
	$(PY) -m lib.preflight

# Re-sync each .ipynb twin from its .py source and execute it on its default parameters, in the
# same order and against an empty results folder as the nbval run of `make test`.
TEST_OUTPUTS := $(BSD_CACHE_DIR)/test-outputs
notebooks: setup
	rm -rf $(TEST_OUTPUTS)
	for nb in $$($(PY) -m lib.workflow notebooks); do \
	  BSD_RESULTS_DIR=$(TEST_OUTPUTS)/results BSD_FIGURES_DIR=$(TEST_OUTPUTS)/figures \
	  BSD_WORKFLOW_RUN=1 $(WITH_ENV) $(VENV)/bin/jupytext --to ipynb --execute $$nb \
	    || exit 1; \
	  $(PY) -m lib.workflow clean-twin $${nb%.py}.ipynb || exit 1; \
	done

# A run killed hard (SIGKILL, power loss) leaves Snakemake's lock behind: release it when no
# Snakemake is working in this folder (other folders' runs do not matter), then carry on where
# the killed run stopped.
reproduce: setup
	@$(PY) -m lib.workflow idle && \
	  $(VENV)/bin/snakemake --profile profiles/embedded --unlock >/dev/null 2>&1 || true
	$(VENV)/bin/snakemake --profile profiles/embedded

paper-dry-run: setup
	$(VENV)/bin/snakemake --profile profiles/paper --dry-run

lint: setup
	$(VENV)/bin/ruff check lib tests conftest.py notebooks/*.py

bench: setup
	$(PY) -m lib.bench

# containers run as root: the server refuses to start there without --allow-root. Rooted at the
# repository (results/, figures/, parameters/ browsable), opening at notebooks/.
lab: setup
	$(WITH_ENV) $(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks

# A static, offline site of one profile (executed notebooks, REPORT.md, figures, each result's
# provenance) in .cache/site/<profile>/; a second run rebuilds only what changed.
site: setup
	$(PY) -m lib.site build --profile $(or $(PROFILE),embedded)

# The cluster path on a real single-node SLURM: start slurmctld + slurmd + munged under
# .cache/slurm/, run three embedded notebook jobs, the summary and the report through
# `--executor slurm`, run the same graph locally, require identical results, stop the cluster
# (also on failure or Ctrl-C). Needs slurm-wlm and munge (installed here when missing, as root).
cluster-check: setup
	@command -v slurmctld >/dev/null && command -v munged >/dev/null || \
	  { test "$$(id -u)" = 0 && apt-get update -q && apt-get install -y -q slurm-wlm munge; } || \
	  { echo "error: make cluster-check needs slurm-wlm and munge: apt-get install -y slurm-wlm munge" >&2; exit 1; }
	$(PY) -m lib.cluster check

clean-cache:
	rm -rf $(BSD_CACHE_DIR)
