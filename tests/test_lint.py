"""The code stays ruff-clean (the configuration lives in pyproject.toml); the notebook pairs are
in the form jupytext writes, and the stored twins hold no machine paths and no warning noise."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hang import HANG_S

from lib.paths import ROOT


@pytest.mark.integration
def test_ruff_check_is_clean() -> None:
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.py"))
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "lib", "tests", "conftest.py",
                          *notebooks],
                         cwd=ROOT, capture_output=True, text=True, timeout=HANG_S)
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


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_source_is_in_the_form_jupytext_sync_writes(py: Path, tmp_path: Path) -> None:
    """`jupytext --sync` (what JupyterLab does on save) leaves the committed .py unchanged, from
    either side of the pair: a sync rewrites no header and re-plans no job."""
    from jupytext.cli import jupytext

    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    copy, twin = tmp_path / py.name, tmp_path / py.with_suffix(".ipynb").name
    shutil.copy(py.with_suffix(".ipynb"), twin)
    shutil.copy(py, copy)
    for newer in (copy, twin):  # the .py edited last, then the .ipynb saved last
        latest = max(os.path.getmtime(copy), os.path.getmtime(twin))
        os.utime(newer, (latest + 10, latest + 10))
        jupytext(["--sync", "--quiet", str(newer)])
        assert copy.read_text() == py.read_text(), (
            f"{py.name} is not in jupytext's form: run `.venv/bin/jupytext --sync {py.name}`")


# machine paths and warnings that must not be stored in a notebook's outputs
FORBIDDEN = re.compile(r"/(work|root|home|tmp)/|Warning:|IProgress not found")


@pytest.mark.parametrize("twin", [p.with_suffix(".ipynb") for p in NOTEBOOKS],
                         ids=lambda p: p.name)
def test_stored_outputs_hold_no_machine_paths_or_warnings(twin: Path) -> None:
    """Re-execute the twins with `make notebooks` when this fails."""
    found = []
    for index, cell in enumerate(json.loads(twin.read_text())["cells"]):
        for output in cell.get("outputs", []):
            for match in FORBIDDEN.finditer(json.dumps(output)):
                found.append(f"cell {index}: {match.group()!r}")
    assert not found, f"{twin.name}: {found[:5]}"
