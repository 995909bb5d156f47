"""Test isolation: plain `pytest` behaves as `make test`, whatever `results/` holds.

Before `lib.paths` is imported, the results and figures folders are pointed at an empty folder
private to this session (removed at its end), and the session counts as a workflow run, so the
notebooks nbval executes (in `lib.workflow.NOTEBOOK_ORDER`, references first) write there and
read each other's results from there; their kernels inherit these variables. The home-directory
locations come from `import lib` (lib/env.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_OUTPUTS = Path(tempfile.mkdtemp(prefix="bsd-test-outputs-"))
os.environ["BSD_RESULTS_DIR"] = str(_OUTPUTS / "results")
os.environ["BSD_FIGURES_DIR"] = str(_OUTPUTS / "figures")
os.environ["BSD_WORKFLOW_RUN"] = "1"

import lib  # noqa: E402,F401  (after the variables above: lib.paths reads them once)


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(_OUTPUTS, ignore_errors=True)


def pytest_collection_modifyitems(config: object, items: list) -> None:
    """nbval's notebooks in NOTEBOOK_ORDER (a reference run before its reader), cells in order."""
    from lib.workflow import notebook_rank

    def key(item: object) -> tuple[int, int]:
        path = str(getattr(item, "path", ""))
        return (notebook_rank(path), 0) if path.endswith(".ipynb") else (-1, 0)

    items.sort(key=key)  # stable: the cells of one notebook keep their order
