"""Where things live: repository root, caches, results and figures.

Every path is relative to the repository root, so a checkout works wherever it is cloned.
`BSD_CACHE_DIR` overrides the cache location (default: `<repo>/.cache`, git-ignored);
`BSD_RESULTS_DIR` and `BSD_FIGURES_DIR` redirect outputs (the test suite runs the notebooks
against an empty results folder this way, so their checked outputs never depend on earlier runs).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent
# absolute, symbolic links kept: a results folder linked elsewhere is still named results/
CACHE: Path = Path(os.path.abspath(os.environ.get("BSD_CACHE_DIR", ROOT / ".cache")))
RESULTS: Path = Path(os.path.abspath(os.environ.get("BSD_RESULTS_DIR", ROOT / "results")))
FIGURES: Path = Path(os.path.abspath(os.environ.get("BSD_FIGURES_DIR", ROOT / "figures")))
PARAMETERS: Path = ROOT / "parameters"
NOTEBOOKS: Path = ROOT / "notebooks"
MODEL_CACHE: Path = CACHE / "models"
NLTK_DATA: Path = CACHE / "nltk_data"


def shown(path: str | Path) -> str:
    """A path for printing: relative to the repository when inside it, else absolute.

    Outputs under a redirected results or figures folder print as `$BSD_RESULTS_DIR/...` or
    `$BSD_FIGURES_DIR/...`, so what a notebook prints does not depend on where the folder is.
    """
    given = Path(os.path.abspath(path))  # as named (a linked folder keeps its name)
    for folder, variable in ((RESULTS, "BSD_RESULTS_DIR"), (FIGURES, "BSD_FIGURES_DIR")):
        if variable in os.environ and given.is_relative_to(folder):
            return f"${variable}/{given.relative_to(folder)}"
    for candidate in (given, Path(path).resolve()):
        if candidate.is_relative_to(ROOT):
            return str(candidate.relative_to(ROOT))
    return str(given)
