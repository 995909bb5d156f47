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

.PHONY: setup test test-unit test-integration test-portability test-deps preflight reproduce paper-dry-run notebooks lab bench lint site cluster-check clean-cache

setup: $(STAMP)
	@$(PY) -m lib.prepare

$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/base.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -r requirements/embedded.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

# `make test` is everything a newcomer needs to trust the checkout, in one pytest run on both
# cores: the preflight of the paper runs (one test), the unit tests, the browser tests and the
# five notebooks against their stored twins (nbval). Each line's notebooks run in order on one
# worker (conftest.py groups them, references first) while the other worker takes the test files
# one by one. conftest.py points the results at an empty per-session folder, so what an earlier `make
# reproduce` left in results/ never changes a test. `make test-unit` is the quick loop for
# development: the unit tests alone (no subprocess, browser or notebook), on every core.
PYTEST_WORKERS ?= 2
test: setup test-deps
	$(PY) -m pytest tests notebooks -n $(PYTEST_WORKERS)

test-unit: setup
	$(PY) -m pytest tests -n auto -m "not integration"

# the slow half alone: subprocess runs, the browser and the notebooks
test-integration: setup test-deps
	$(PY) -m pytest tests notebooks -n $(PYTEST_WORKERS) -m integration

# The notebook check under other CPU kernels and thread counts, one setting at a time: the twins
# made on one x86 CPU must hold on any other. torch picks its kernels by ATEN_CPU_CAPABILITY,
# MKL its matrix products by MKL_CBWR, numpy's OpenBLAS by OPENBLAS_CORETYPE (this machine:
# SkylakeX; Haswell is an AVX2 CPU, Sandybridge an AVX one); each changes floats in their last
# digits. About 4 minutes a setting on 2 cores.
PORTABILITY ?= ATEN_CPU_CAPABILITY=default ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE \
               MKL_CBWR=AVX2 OPENBLAS_CORETYPE=Haswell OPENBLAS_CORETYPE=Sandybridge \
               OMP_NUM_THREADS=1 OMP_NUM_THREADS=2
test-portability: setup
	@for setting in $(PORTABILITY); do echo "== $$setting"; \
	  env $$setting $(PY) -m pytest notebooks -q -p no:cacheprovider || exit 1; done

# Debian packages a target needs, installed when missing (as root), else one line saying how:
# $(call debian,COMMANDS,PACKAGES,WHAT NEEDS THEM)
define debian
	@missing=; for c in $(1); do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2) || exit 1; \
	  else echo "error: $(3) needs $(2): sudo apt-get install -y $(2)" >&2; exit 1; fi; \
	fi
endef

# the browser tests drive Debian's chromium through Selenium (tests/browser.py); the daemon tests
# start Debian's slurmctld, slurmd and munged (tests/test_cluster_daemons.py)
test-deps:
	$(call debian,chromium chromedriver slurmctld munged,chromium chromium-driver slurm-wlm munge,make test (browser and cluster tests))

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
# Snakemake's own temporary folders go to .cache/tmp/ (TMPDIR), where the next run removes
# those of a killed one, not to /tmp.
SNAKEMAKE := TMPDIR=$(BSD_CACHE_DIR)/tmp $(VENV)/bin/snakemake
reproduce: setup
	@mkdir -p $(BSD_CACHE_DIR)/tmp
	@$(PY) -m lib.workflow idle && { $(PY) -m lib.workflow clean-tmp; \
	  $(SNAKEMAKE) --profile profiles/embedded --unlock >/dev/null 2>&1; } || true
	$(SNAKEMAKE) --profile profiles/embedded

paper-dry-run: setup
	@mkdir -p $(BSD_CACHE_DIR)/tmp
	$(SNAKEMAKE) --profile profiles/paper --dry-run

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
	$(call debian,slurmctld munged,slurm-wlm munge,make cluster-check)
	$(PY) -m lib.cluster check

# Removes the cache folder only when it lies inside this repository, holds no tracked file and
# has no space in its path (BSD_CACHE_DIR=$$HOME or "a b" is refused, never removed).
clean-cache:
	@cache="$$BSD_CACHE_DIR"; \
	case "$$cache" in *[[:space:]]*) \
	  echo "error: BSD_CACHE_DIR '$$cache' has a space: give a folder path without spaces" >&2; \
	  exit 1;; esac; \
	cache="$$(realpath -m -- "$$cache")"; \
	case "$$cache/" in "$$PWD/"?*) ;; *) \
	  echo "error: refusing to remove $$cache: BSD_CACHE_DIR must be a folder inside $$PWD" >&2; \
	  exit 1;; esac; \
	if [ -n "$$(git ls-files -- "$$cache" | head -n 1)" ]; then \
	  echo "error: refusing to remove $$cache: it holds files tracked by git" >&2; exit 1; fi; \
	rm -rf -- "$$cache"
