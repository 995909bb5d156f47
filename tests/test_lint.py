"""The code stays ruff-clean (the configuration lives in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from lib.paths import ROOT


def test_ruff_check_is_clean() -> None:
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.py"))
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "lib", "tests", *notebooks],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:]


def test_notebook_pairs_match() -> None:
    """Each notebooks/*.py has an .ipynb twin with the same code cells (jupytext pairing)."""
    import jupytext

    for py in sorted((ROOT / "notebooks").glob("*.py")):
        twin = py.with_suffix(".ipynb")
        assert twin.is_file(), f"{py.name} has no paired {twin.name}: run `make notebooks`"
        code = [c.source for c in jupytext.read(py).cells if c.cell_type == "code"]
        stored = [c.source for c in jupytext.read(twin).cells if c.cell_type == "code"]
        assert code == stored, f"{twin.name} is out of date with {py.name}: run `make notebooks`"
        assert jupytext.read(twin).metadata["kernelspec"]["name"] == "python3"
