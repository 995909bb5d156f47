"""Test isolation: plain `pytest` behaves as `make test`, whatever `results/` holds.

Before `lib.paths` is imported, the results and figures folders are pointed at an empty folder
private to this session (removed at its end), and the session counts as a workflow run, so the
notebooks nbval executes (in that order: E08, E11-T, E11) write there and read each other's
results from there; their kernels inherit these variables. The home-directory locations come
from `import lib` (lib/env.py).
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
