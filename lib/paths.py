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
CACHE: Path = Path(os.environ.get("BSD_CACHE_DIR", ROOT / ".cache")).resolve()
RESULTS: Path = Path(os.environ.get("BSD_RESULTS_DIR", ROOT / "results")).resolve()
FIGURES: Path = Path(os.environ.get("BSD_FIGURES_DIR", ROOT / "figures")).resolve()
PARAMETERS: Path = ROOT / "parameters"
NOTEBOOKS: Path = ROOT / "notebooks"
MODEL_CACHE: Path = CACHE / "models"
NLTK_DATA: Path = CACHE / "nltk_data"


def shown(path: str | Path) -> str:
    """A path for printing: relative to the repository when inside it, else absolute."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)
