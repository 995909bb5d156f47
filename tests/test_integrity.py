"""A result counts only when the workflow's parameter file and today's code made it
(`lib.integrity`): swapped, hand-edited, stale and foreign results are refused in one line, and
`make reproduce` makes them again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import HANG_S, fresh_environment, repository_copy
from payloads import fitted, pair_payload
from sealed import sealed, write_sealed

from lib import integrity, report, results
from lib.attention import summary
from lib.paths import ROOT
from lib.runner import run_notebook

TINY = "parameters/embedded/E11_tiny-mqa.yaml"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch) -> Path:
    """A private results folder for this process."""
    for module in (summary, report, results):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    return tmp_path / "results" / "embedded"


def _pair(run: str = "tiny-mqa") -> dict:
    return {"experiment": "E11", "run": run, "verdict": {"code": "NOT_RESOLVED"},
            "base": {"specialization_index": 0.5}}


def test_a_sealed_result_is_accepted(folder: Path) -> None:
    check = integrity.check_result(write_sealed(folder / "E11_tiny-mqa.json", _pair()))
    assert check.ok and check.problem is None


def test_a_hand_edited_result_is_refused(folder: Path) -> None:
    path = write_sealed(folder / "E11_tiny-mqa.json", _pair())
    payload = json.loads(path.read_text())
    payload["base"]["specialization_index"] = 0.215  # the audit's edit, of any number
    path.write_text(json.dumps(payload))
    check = integrity.check_result(path)
    assert check.problem == ("edited after it was written (its content does not match its "
                             "content_sha256)")
    assert integrity.refusal_line(check) == (
        f"embedded/E11_tiny-mqa.json: {check.problem}; rerun it with make reproduce")


def test_a_result_made_from_another_file_is_refused(folder: Path) -> None:
    swapped = sealed(_pair(), folder / "E11_tiny-mqa.json")
    swapped["provenance"]["parameter_file"] = "/tmp/x/embedded/E11_tiny-mqa.yaml"
    path = results.write_json(folder / "E11_tiny-mqa.json", swapped)
    assert integrity.check_result(path).problem == (
        "made from /tmp/x/embedded/E11_tiny-mqa.yaml, not parameters/embedded/E11_tiny-mqa.yaml")


def test_a_result_of_an_earlier_parameter_file_is_refused(folder: Path) -> None:
    stale = sealed(_pair(), folder / "E11_tiny-mqa.json")
    stale["provenance"]["parameter_sha256"] = "510e" + "0" * 60  # the file changed since
    path = results.write_json(folder / "E11_tiny-mqa.json", stale)
    assert integrity.check_result(path).problem == (
        "made from an earlier version of parameters/embedded/E11_tiny-mqa.yaml (edited since)")


def test_a_result_of_other_code_is_refused(folder: Path) -> None:
    old = sealed(_pair(), folder / "E11_tiny-mqa.json")
    old["provenance"]["code"]["files"]["lib/attention/entropy.py"] = "0" * 64
    path = results.write_json(folder / "E11_tiny-mqa.json", old)
    assert integrity.check_result(path).problem == (
        "made by other code (lib/attention/entropy.py changed since)")


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"experiment": "E11"}'])
def test_unreadable_or_unsealed_results_are_refused_in_one_line(folder: Path, text: str) -> None:
    folder.mkdir(parents=True)
    path = folder / "E11_tiny-mqa.json"
    path.write_text(text)
    problem = integrity.check_result(path).problem
    assert problem and "\n" not in problem


def test_the_report_and_the_summary_leave_a_refused_result_out_and_say_why(folder: Path) -> None:
    good = write_sealed(folder / "E11_tiny-mha.json", fitted(pair_payload("tiny-mha", 0.5, 0.05)))
    bad = write_sealed(folder / "E11_tiny-mqa.json", fitted(pair_payload("tiny-mqa", 0.5, 0.05)))
    bad.write_text(bad.read_text().replace("0.5", "0.215"))
    line = integrity.refusal_line(integrity.check_result(bad))
    written = summary.write_summary("embedded", [good, bad])
    assert [r["label"] for r in written["rows"]] == ["E11 tiny-mha"]
    assert written["refused"] == [line]
    assert f"- {line}" in (folder / "summary.md").read_text()
    report.write_report([good, bad])
    text = (folder.parent / "REPORT.md").read_text()
    assert "## Results left out" in text and f"- {line}" in text
    assert json.loads((folder.parent / "report.json").read_text())["refused"] == [line]


def test_the_commands_say_on_the_terminal_what_they_left_out(
        folder: Path, capsys: pytest.CaptureFixture) -> None:
    """Not only in summary.md and REPORT.md: the audit saw an empty table and exit 0."""
    bad = write_sealed(folder / "E11_tiny-mqa.json", fitted(pair_payload("tiny-mqa", 0.5, 0.05)))
    bad.write_text(bad.read_text().replace("0.5", "0.215"))
    line = integrity.refusal_line(integrity.check_result(bad))
    assert summary.main(["embedded", str(bad)]) == 0
    assert capsys.readouterr().err == f"left out: {line}\n"
    assert report.main([str(bad)]) == 0
    assert capsys.readouterr().err == f"left out: {line}\n"


def test_find_result_refuses_what_it_cannot_trust(folder: Path) -> None:
    path = write_sealed(folder / "E11_tiny-mqa.json", _pair())
    assert results.find_result("embedded", "E11_tiny-mqa")["run"] == "tiny-mqa"
    path.write_text(path.read_text().replace("0.5", "0.6"))
    with pytest.raises(results.ResultRefused, match="edited after it was written"):
        results.find_result("embedded", "E11_tiny-mqa")


# ------------------------------------------------------------------ runs (subprocesses)


@pytest.mark.integration
def test_a_foreign_parameter_file_never_writes_the_workflows_result(tmp_path: Path,
                                                                     monkeypatch) -> None:
    """The audit: `lib.runner notebooks/E11.py /tmp/x/embedded/E11_tiny-mqa.yaml` with another
    model wrote results/embedded/E11_tiny-mqa.json. Now it is a scratch run; as a workflow job,
    refused before any kernel starts."""
    for key, sub in (("BSD_RESULTS_DIR", "results"), ("BSD_FIGURES_DIR", "figures")):
        monkeypatch.setenv(key, str(tmp_path / sub))
    foreign = tmp_path / "x" / "embedded" / "E11_tiny-mqa.yaml"
    foreign.parent.mkdir(parents=True)
    foreign.write_text((ROOT / TINY).read_text().replace("tiny/falcon-mqa", "tiny/llama-gqa"))
    from test_runner import _notebook

    with pytest.raises(ValueError, match="is not parameters/embedded/E11_tiny-mqa.yaml"):
        run_notebook(_notebook(tmp_path), foreign, tmp_path / "out.ipynb", workflow=True)
    run_notebook(_notebook(tmp_path), foreign, tmp_path / "out.ipynb")
    assert not (tmp_path / "results" / "embedded").exists()
    scratch = json.loads((tmp_path / "results/scratch/embedded/E11_tiny-mqa.json").read_text())
    assert scratch["provenance"]["scratch"] is True


@pytest.mark.integration
def test_make_reproduce_makes_a_stale_result_again(tmp_path: Path) -> None:
    """The audit appended `seeds: [7]` to a parameter file while its job ran: the result kept
    the old sha and Snakemake said "Nothing to be done". Now the Snakefile dates a result that
    fails the check back to the epoch, and the job is planned again."""
    repo = repository_copy(tmp_path / "repo")
    name = "E11_tiny-gqa"
    out = repo / "results" / "embedded"
    result = write_sealed(out / f"{name}.json", _pair("tiny-gqa"))
    for made in (repo / f"figures/embedded/{name}.png", out / f"executed/{name}.ipynb"):
        made.parent.mkdir(parents=True, exist_ok=True)
        made.write_text("made")
    environ = {k: v for k, v in os.environ.items()
               if k not in ("BSD_RESULTS_DIR", "BSD_FIGURES_DIR", "BSD_WORKFLOW_RUN")}
    command = [str(ROOT / ".venv/bin/snakemake"), "--profile", "profiles/embedded", "-n",
               f"results/embedded/{name}.json"]

    def plan() -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=repo, env=environ, capture_output=True, text=True,
                              timeout=HANG_S)

    assert "Nothing to be done" in plan().stdout  # sealed by this checkout's file and code
    params = repo / "parameters" / "embedded" / f"{name}.yaml"
    params.write_text(params.read_text() + "seeds: [7]\n")
    before = result.stat().st_mtime - 60  # edited while the job ran: older than its result
    os.utime(params, (before, before))
    planned = plan()
    assert planned.returncode == 0, planned.stderr[-2000:]
    assert f"making again results/embedded/{name}.json: made from an earlier version of " \
           f"parameters/embedded/{name}.yaml (edited since)" in planned.stderr
    assert "Nothing to be done" not in planned.stdout and "rule notebook" in planned.stdout


@pytest.mark.integration
def test_the_thread_count_of_the_machine_changes_no_result(tmp_path: Path) -> None:
    """The audit: terrain_tiny-t5 gave global_mean -8.47947946e-05 from lib.runner (every core)
    and -8.479479977e-05 from Snakemake (OMP_NUM_THREADS=1). Each run now fixes its threads
    from the parameter file: the same bytes either way. Both run as a new user would, under an
    empty HOME and none of lib.env's variables, and leave that HOME empty."""
    home = tmp_path / "home"
    home.mkdir()
    written = []
    for threads in ("1", "2"):
        environ = fresh_environment(home) | {
            "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
            "BSD_RESULTS_DIR": str(tmp_path / threads / "results"),
            "BSD_FIGURES_DIR": str(tmp_path / threads / "figures")}
        environ.pop("BSD_WORKFLOW_RUN", None)  # the runner decides
        done = subprocess.run(
            [sys.executable, "-m", "lib.runner", "notebooks/terrain.py",
             "parameters/embedded/terrain_tiny-t5.yaml", "--output",
             str(tmp_path / threads / "terrain_tiny-t5.ipynb")],
            cwd=ROOT, env=environ, capture_output=True, text=True, timeout=HANG_S)
        assert done.returncode == 0, done.stderr[-3000:]
        written.append((tmp_path / threads / "results/embedded/terrain_tiny-t5.json").read_bytes())
    assert written[0] == written[1]
    assert sorted(home.rglob("*")) == []
    shutil.rmtree(tmp_path, ignore_errors=True)
