"""The start of a notebook run (`lib.notebook.start`): which runs may write the workflow's
results, folders it cannot write, the CPU threads; and paths named as given."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from lib import notebook, paths, results
from lib.results import ScratchRunError

TINY = "parameters/embedded/E11_tiny-mqa.yaml"


@pytest.fixture
def outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    return tmp_path


def test_a_workflow_run_of_the_workflows_file_writes_the_workflows_folder(
        outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(results.WORKFLOW_RUN, "1")
    run = notebook.start(TINY, "E11")
    assert not run.scratch and run.name == "E11_tiny-mqa" and run.profile == "embedded"
    assert run.results_file == outputs / "results/embedded/E11_tiny-mqa.json"
    assert run.figure_file == outputs / "figures/embedded/E11_tiny-mqa.png"


@pytest.mark.parametrize("how", ["foreign file", "overrides"])
def test_a_workflow_run_refuses_anything_but_the_workflows_file_as_it_is(
        outputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setenv(results.WORKFLOW_RUN, "1")
    file, overrides = TINY, {"max_length": 64}
    if how == "foreign file":
        foreign = tmp_path / "x" / "embedded" / "E11_tiny-mqa.yaml"
        foreign.parent.mkdir(parents=True)
        shutil.copy(paths.ROOT / TINY, foreign)
        file, overrides = str(foreign), {}
    with pytest.raises(ScratchRunError) as raised:
        notebook.start(file, "E11", overrides)
    message = str(raised.value)
    assert "\n" not in message and "must run parameters/embedded/E11_tiny-mqa.yaml" in message
    assert not (outputs / "results").exists()


def test_any_other_run_is_a_scratch_run(outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(results.WORKFLOW_RUN, raising=False)
    run = notebook.start(TINY, "E11", {"max_length": 64})
    assert run.scratch and run.results_file == (
        outputs / "results/scratch/embedded/E11_tiny-mqa.json")


def test_a_folder_it_cannot_write_is_refused_before_anything_runs(
        outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() == 0:  # root writes anywhere: a file where the folder should be instead
        (outputs / "results").write_text("not a folder")
    else:
        (outputs / "results").mkdir()
        (outputs / "results").chmod(0o500)
    monkeypatch.setenv(results.WORKFLOW_RUN, "1")
    with pytest.raises(PermissionError, match="set BSD_RESULTS_DIR to a folder you can write"):
        notebook.start(TINY, "E11")
    assert not (outputs / "figures").exists()  # nothing written before the refusal


def test_the_run_fixes_its_threads_from_the_parameter_file(
        outputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(results.WORKFLOW_RUN, raising=False)  # overrides: a scratch run
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))  # restored afterwards
    before = torch.get_num_threads()
    try:
        run = notebook.start(TINY, "E11", {"threads": 2})
        assert run.threads == torch.get_num_threads() == 2
        assert os.environ["OMP_NUM_THREADS"] == "2"  # for libraries loaded later
        assert notebook.start(TINY, "E11").threads == 1  # the default
    finally:
        torch.set_num_threads(before)


def test_a_linked_results_folder_is_named_as_given(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit: a symlinked results folder put its target's name into summary.json and
    REPORT.md. Paths are absolute but keep the link's name."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = paths.ROOT / ".cache" / "tmp" / f"linked-results-{os.getpid()}"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    try:
        inside = link / "embedded" / "E11_x.json"
        assert paths.shown(inside) == str(inside.relative_to(paths.ROOT))
        assert "elsewhere" not in paths.shown(inside)
    finally:
        link.unlink()
