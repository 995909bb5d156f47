"""Test isolation, and how nbval compares the numbers a notebook prints.

Before `lib.paths` is imported, the results and figures folders are pointed at an empty folder
private to this session (removed at its end, under `.cache/`), and the session counts as a
workflow run, so the notebooks nbval executes (in `lib.workflow.NOTEBOOK_ORDER`, references
first) write there and read each other's results from there; their kernels inherit these
variables. The home-directory locations come from `import lib` (lib/env.py).

nbval compares the numbers of the cells marked `# NBVAL_CHECK_OUTPUT` at the precision
`lib.nbcompare` states. It waits for a cell's messages as long as for the cell itself
(`--nbval-cell-timeout`, an hour: a guard against a hung kernel that no slow or busy machine
reaches), not nbval's fixed 5 s.

Under pytest-xdist (`-n 2`, `make test`) every test file is one unit of work and each line's
notebooks are one, run first and in order on one worker while the other workers take the rest
(`pytest_xdist_make_scheduler`); each worker runs torch and BLAS on one thread. The notebooks
and the subprocess, browser and cluster tests are marked `integration`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_CACHE = Path(os.environ.get("BSD_CACHE_DIR", Path(__file__).resolve().parent / ".cache"))
(_CACHE / "tmp").mkdir(parents=True, exist_ok=True)
_OUTPUTS = Path(tempfile.mkdtemp(prefix="test-outputs-", dir=_CACHE / "tmp"))
os.environ["BSD_RESULTS_DIR"] = str(_OUTPUTS / "results")
os.environ["BSD_FIGURES_DIR"] = str(_OUTPUTS / "figures")
os.environ["BSD_WORKFLOW_RUN"] = "1"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one CPU thread a worker unless told otherwise: beside the other worker and the notebooks'
    # kernel, torch's default (every core) oversubscribes them, and its threads then wait on one
    # another (a 3 s test took 75 s); every test holds at any thread count
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import lib  # noqa: E402,F401  (after the variables above: lib.paths reads them once)


def pytest_configure(config: object) -> None:
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to compare
        return
    if getattr(IPyNbCell, "_bsd_tolerant", False):
        return
    from lib.nbcompare import cell_tolerance, reconcile, without_widgets

    original = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):  # type: ignore[no-untyped-def]
        test = without_widgets(test)  # as `make notebooks` stored the twin
        reconcile(test, ref, cell_tolerance(self.cell.source))
        return original(self, test, ref, skip_compare)

    IPyNbCell.compare_outputs = compare_outputs
    IPyNbCell._bsd_tolerant = True


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(_OUTPUTS, ignore_errors=True)


NOTEBOOKS = "notebooks"  # the xdist scopes of the notebook cells: notebooks/<line>


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under `-n N`: the notebooks of a line of research as one unit on one worker, in
    collection order (a reference run before its reader: no line reads another's results);
    every test file one unit (its module fixtures load once), taken by whichever worker is
    free."""
    from xdist.scheduler import LoadScopeScheduling

    from lib.lines import line_of

    class NotebooksTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if not path.endswith(".ipynb"):
                return path
            return f"{NOTEBOOKS}/{line_of(Path(path).stem).name}"  # a line's notebooks in order

    config.option.loadscopereorder = False  # the notebooks first: they take longest
    return NotebooksTogether(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """nbval's notebooks first, in NOTEBOOK_ORDER (a reference run before its reader), cells in
    order; then the test files."""
    from lib.workflow import notebook_rank

    def is_notebook(item: object) -> bool:
        return str(getattr(item, "path", "")).endswith(".ipynb")

    def key(item: object) -> tuple[int, int]:
        return (0, notebook_rank(str(item.path))) if is_notebook(item) else (1, 0)

    items.sort(key=key)  # stable: the cells of one notebook, and the tests of a file, keep order
    cell_timeout = float(config.getoption("nbval_cell_timeout", 3600) or 3600)
    for item in items:
        if is_notebook(item):
            item.add_marker(pytest.mark.integration)
            item.output_timeout = cell_timeout  # nbval's fixed 5 s fails a busy machine
