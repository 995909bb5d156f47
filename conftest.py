"""Test isolation, and how nbval compares the numbers a notebook prints.

Before `lib.paths` is imported, the results and figures folders are pointed at an empty folder
private to this session (removed at its end, under `.cache/`), and the session counts as a
workflow run, so the notebooks nbval executes (in `lib.workflow.NOTEBOOK_ORDER`, references
first) write there and read each other's results from there; their kernels inherit these
variables. The home-directory locations come from `import lib` (lib/env.py).

nbval compares the numbers of the cells marked `# NBVAL_CHECK_OUTPUT` at the precision
`lib.nbcompare` states.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_CACHE = Path(os.environ.get("BSD_CACHE_DIR", Path(__file__).resolve().parent / ".cache"))
(_CACHE / "tmp").mkdir(parents=True, exist_ok=True)
_OUTPUTS = Path(tempfile.mkdtemp(prefix="test-outputs-", dir=_CACHE / "tmp"))
os.environ["BSD_RESULTS_DIR"] = str(_OUTPUTS / "results")
os.environ["BSD_FIGURES_DIR"] = str(_OUTPUTS / "figures")
os.environ["BSD_WORKFLOW_RUN"] = "1"

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


def pytest_collection_modifyitems(config: object, items: list) -> None:
    """nbval's notebooks in NOTEBOOK_ORDER (a reference run before its reader), cells in order."""
    from lib.workflow import notebook_rank

    def key(item: object) -> tuple[int, int]:
        path = str(getattr(item, "path", ""))
        return (notebook_rank(path), 0) if path.endswith(".ipynb") else (-1, 0)

    items.sort(key=key)  # stable: the cells of one notebook keep their order
