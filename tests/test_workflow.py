"""The regeneration machinery: papermill runner errors, the Snakemake graph, summary, report."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hang import HANG_S
from payloads import claims_payload
from sealed import write_sealed

from lib import checks, claims, results
from lib.dependencies import imported_names, lib_dependencies
from lib.paths import ROOT
from lib.runner import NotebookFailed, run_notebook
from lib.workflow import clean_snakemake_tmp, snakemake_pids


@pytest.mark.integration
def test_failing_notebook_names_cell_and_parameter_file(tmp_path: Path) -> None:
    notebook = tmp_path / "E11.py"
    notebook.write_text(
        "# %% tags=[\"parameters\"]\nPARAMETERS = 'x'\n\n"
        "# %%\nprint(PARAMETERS)\n\n# %%\nraise ValueError('deliberate failure')\n"
    )
    output = tmp_path / "out" / "E11.ipynb"
    with pytest.raises(NotebookFailed) as err:
        run_notebook(notebook, "parameters/embedded/E11_tiny-mqa.yaml", output)
    message = str(err.value)
    assert "parameters/embedded/E11_tiny-mqa.yaml" in message
    assert "cell" in message and "deliberate failure" in message
    assert not output.exists()  # no half-finished executed notebook under the real name
    assert output.with_name("E11.ipynb.failed").exists()


@pytest.mark.integration
def test_runner_refuses_a_parameter_file_for_another_notebook(tmp_path: Path) -> None:
    from lib.params import ParameterError

    with pytest.raises(ParameterError, match="not E08"):
        run_notebook(ROOT / "notebooks" / "E08.py", "parameters/embedded/E11_tiny-mqa.yaml",
                     tmp_path / "x.ipynb")


def _snakemake(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=HANG_S)


@functools.cache
def _dry_run(profile: str) -> str:
    out = _snakemake("--profile", f"profiles/{profile}", "--dry-run", "--forceall",
                     "--printshellcmds")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout + out.stderr


def _job(profile: str, rule: str, name: str | None = None) -> str:
    """The dry-run block of one job (its inputs, outputs and shell command)."""
    parts = re.split(r"^(?:local)?rule (\w+):", _dry_run(profile), flags=re.MULTILINE)
    blocks = [block for kind, block in zip(parts[1::2], parts[2::2], strict=True)
              if kind == rule]
    return next(b for b in blocks if name is None or f"wildcards: name={name}\n" in b)


def _inputs(block: str) -> list[str]:
    line = next(x for x in block.splitlines() if x.strip().startswith("input:"))
    return line.split("input:", 1)[1].strip().split(", ")


@pytest.mark.integration
def test_paper_dry_run_lists_the_whole_graph() -> None:
    text = _dry_run("paper")
    for path in sorted((ROOT / "parameters" / "paper").glob("*.yaml")):
        assert f"results/paper/{path.stem}.json" in text
    assert "rule summary" in text and "rule report" in text


@pytest.mark.integration
@pytest.mark.parametrize("run, reads", [
    ("E11-T_llama-3.1-8b", "E11_mistral-7b"),
    ("E11_falcon-40b", "E11_falcon-7b"),
    ("E08_phi-ladder", "E08_phi3-references"),
])
def test_reference_runs_are_edges_of_the_graph(run: str, reads: str) -> None:
    assert f"results/paper/{reads}.json" in _inputs(_job("paper", "notebook", run))


@pytest.mark.integration
def test_slurm_profile_asks_a_gpu_sized_for_each_paper_run() -> None:
    # each job's block ends where the next rule's begins (`rule all`, last in any order, has gpu=1)
    parts = re.split(r"^rule (\w+):$", _dry_run("slurm"), flags=re.M)
    blocks = [""] + [body for rule, body in zip(parts[1::2], parts[2::2], strict=True)
                     if rule == "notebook"]
    falcon40b = next(b for b in blocks if "wildcards: name=E11_falcon-40b\n" in b)
    assert "gpu=1" in falcon40b and "gpu_memory_gb=80, constraint=gpu80gb" in falcon40b
    from lib.params import load_parameters

    gpu_runs = [p for p in (ROOT / "parameters" / "paper").glob("*.yaml")
                if load_parameters(p).resources.gpu >= 1]
    assert len(gpu_runs) >= 6  # the six attention runs at least
    assert sum("gpu=1" in b for b in blocks[1:]) == len(gpu_runs)


# --------------------------------------------------------------------------- inputs of each job


@pytest.mark.integration
def test_notebook_jobs_depend_on_the_lib_files_their_notebook_imports() -> None:
    """Editing bench.py re-plans no notebook job; editing entropy.py re-plans every one."""
    for name in ("E11_tiny-mqa", "E11-T_tiny-gqa", "E08_embedded-ladder"):
        inputs = _inputs(_job("embedded", "notebook", name))
        assert "lib/attention/entropy.py" in inputs and "lib/params.py" in inputs
        assert "lib/attention/bench.py" not in inputs and "lib/runner.py" not in inputs
    for notebook in sorted((ROOT / "notebooks").glob("*.py")):
        deps = lib_dependencies(notebook.relative_to(ROOT))
        assert Path("lib/attention/entropy.py") in deps, notebook.name
        assert Path("lib/attention/bench.py") not in deps, notebook.name


@pytest.mark.integration
def test_dependencies_cover_what_the_notebook_imports_at_run_time() -> None:
    """Cross-check with Python itself: the lib modules a fresh interpreter loads for the
    notebook's import statements are all among the ast-computed dependencies."""
    notebook = ROOT / "notebooks" / "E11.py"
    imports = [ast.unparse(n) for n in ast.walk(ast.parse(notebook.read_text()))
               if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("lib")]
    code = "\n".join([*imports, "import sys",
                      "print('\\n'.join(m.__file__ for n, m in sys.modules.items()"
                      " if n.split('.')[0] == 'lib' and getattr(m, '__file__', None)))"])
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = {Path(f).resolve().relative_to(ROOT) for f in out.stdout.split()}
    deps = set(lib_dependencies("notebooks/E11.py"))
    assert loaded and loaded <= deps, sorted(loaded - deps)
    assert Path("lib/claims.yaml") in deps  # a data file lib/claims.py reads


def test_relative_imports_and_packages_are_resolved(tmp_path: Path) -> None:
    files = {
        "lib/__init__.py": "",
        "lib/a/__init__.py": "from .x import f\n",
        "lib/a/x.py": "from . import y\nfrom ..b import z\nimport numpy\n",
        "lib/a/y.py": "def g():\n    from lib.c import h\n",  # lazy imports count
        "lib/b/__init__.py": "",
        "lib/b/z.py": "",
        "lib/c.py": "DATA = 'c.yaml'\n",
        "lib/c.yaml": "",
        "lib/unused.py": "",
        "nb.py": "from lib.a.x import f\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    deps = {str(p) for p in lib_dependencies("nb.py", root=tmp_path)}
    assert deps == {"lib/__init__.py", "lib/a/__init__.py", "lib/a/x.py", "lib/a/y.py",
                    "lib/b/__init__.py", "lib/b/z.py", "lib/c.py", "lib/c.yaml"}
    assert imported_names("from .. import q", "lib.a.x") == {"lib", "lib.q"}
    with pytest.raises(ValueError, match="relative import"):
        imported_names("from . import q")


@pytest.mark.integration
def test_snakefile_validates_every_parameter_file_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "parameters" / "embedded"
    folder.mkdir(parents=True)
    text = (ROOT / "parameters/embedded/E11_tiny-mqa.yaml").read_text()
    (folder / "E11_tiny-mqa.yaml").write_text(text + "resources: {gpus: 1}\n")
    out = _snakemake("--snakefile", str(ROOT / "Snakefile"), "--cores", "1", "--dry-run",
                     cwd=tmp_path)
    assert out.returncode != 0
    lines = [x for x in (out.stdout + out.stderr).splitlines() if x.strip()]
    assert lines[-1].startswith("error: ") and "E11_tiny-mqa.yaml" in lines[-1]
    assert "gpus" in lines[-1] and "Traceback" not in out.stderr


@pytest.mark.integration
def test_summary_and_report_read_exactly_their_input_files() -> None:
    summary = _job("embedded", "summary")
    attention = sorted(f"results/embedded/{p.stem}.json"
                       for p in (ROOT / "parameters/embedded").glob("E11*.yaml"))
    assert sorted(_inputs(summary)[: len(attention)]) == attention
    assert f"-m lib.attention.summary embedded {' '.join(attention)}" in summary
    shell = next(x for x in _job("embedded", "report").splitlines() if "-m lib.report" in x)
    assert shell.split("-m lib.report ")[1].split() == [
        *(f"results/embedded/{p.stem}.json"
          for p in sorted((ROOT / "parameters/embedded").glob("*.yaml"))),
        "results/embedded/summary.json", "results/embedded/calibration.json"]
    # each pair run's seed null is its own job, read by the notebook job and the calibration
    calibration = _inputs(_job("embedded", "calibration"))
    assert calibration[: len(attention)] == [
        path.replace("embedded/", "embedded/seed_null/") for path in attention]
    notebook = _inputs(_job("embedded", "notebook", "E11_tiny-mqa"))
    assert "results/embedded/seed_null/E11_tiny-mqa.json" in notebook


# --------------------------------------------------------------------------- summary and report


def _pair_payload(run: str, kind: str, dsi: float) -> dict:
    def side(si: float) -> dict:
        return {"specialization_index": si, "si_ci": [si - 0.01, si + 0.01],
                "model": {"name": f"m-{si}", "architecture": {"attention_kind": kind}}}

    return {"experiment": "E11", "run": run, "base": side(0.5), "instruct": side(0.5 + dsi),
            "delta": {"specialization_index": dsi, "si_ci": [dsi - 0.02, dsi + 0.02],
                      "si_ci_excludes_zero": abs(dsi) > 0.02},
            "verdict": {"code": "C_REFUTED"}}


@pytest.fixture
def folders(tmp_path: Path, monkeypatch) -> Path:
    from lib import report
    from lib.attention import summary

    for module in (summary, report, results):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    monkeypatch.setattr(results, "PARAMETERS", tmp_path / "parameters")
    return tmp_path


def test_summary_reads_every_pair_result_it_is_given(folders: Path) -> None:
    from lib.attention import summary

    out = folders / "results" / "embedded"
    write_sealed(out / "E11_tiny-mqa.json", _pair_payload("a", "MQA", 0.05))
    write_sealed(out / "E11_tiny-mha.json", _pair_payload("b", "MHA", -0.01))
    write_sealed(out / "E08_tiny-phi-references.json", {"experiment": "E08"})
    payload = summary.write_summary("embedded", sorted(out.glob("*.json")))
    assert [r["label"] for r in payload["rows"]] == ["E11 b", "E11 a"]  # MHA before MQA
    table = (out / "summary.md").read_text()
    assert "| E11 a | MQA | 0.5000 [0.4900, 0.5100] |" in table and "| yes |" in table
    assert "+0.0500 [+0.0300, +0.0700]" in table
    assert (folders / "figures" / "embedded" / "summary.png").stat().st_size > 10_000


def test_a_deleted_parameter_file_leaves_no_stale_row(folders: Path, monkeypatch) -> None:
    from lib.attention import summary

    monkeypatch.undo()  # the repository's parameter files: E11_gone has none
    for module in (summary, results):
        monkeypatch.setattr(module, "RESULTS", folders / "results")
    monkeypatch.setattr(results, "FIGURES", folders / "figures")
    out = folders / "results" / "embedded"
    write_sealed(out / "E11_tiny-mqa.json", _pair_payload("a", "MQA", 0.05))
    write_sealed(out / "E11_gone.json", _pair_payload("gone", "MHA", -0.01))
    assert results.run_results("embedded") == [out / "E11_tiny-mqa.json"]
    assert [r["label"] for r in summary.write_summary("embedded")["rows"]] == ["E11 a"]
    given = summary.write_summary("embedded", [out / "E11_gone.json"])  # named: still refused
    assert given["rows"] == [] and given["refused"] == [
        "embedded/E11_gone.json: parameters/embedded/E11_gone.yaml no longer exists; rerun it "
        "with make reproduce"]


def test_report_checks_claims_against_its_input_files_only(folders: Path) -> None:
    from lib import report

    claim = next(c for c in claims.CLAIMS if c.result and isinstance(c.value, float))
    # a results file holding the published value of every claim it reproduces
    path = write_sealed(folders / "results" / f"{claim.result}.json",
                        claims_payload(claim.result))

    def status(files: list[Path]) -> str:
        rows = report.write_report(files)
        return next(r["status"] for r in rows if r["id"] == claim.id)

    assert status([]) == checks.NOT_RUN  # the file exists on disk but is not an input
    assert status([path]) == checks.REPRODUCED
    machine = json.loads((folders / "results" / "report.json").read_text())
    assert next(r for r in machine["claims"] if r["id"] == claim.id)["regenerated"] == claim.value


# --------------------------------------------------------------------------- the lock


@pytest.mark.integration
def test_lock_release_looks_only_at_this_folders_snakemake(tmp_path: Path) -> None:
    """A Snakemake working elsewhere on the machine does not block (or count for) this folder."""
    fake = tmp_path / "bin" / "snakemake"
    fake.parent.mkdir()
    # A Python script, as the real Snakemake is: one process, no forked child that could
    # briefly share the script's command line (a shell's `sleep` did, seen once in CI). It says
    # when it runs, then waits for its standard input to close.
    fake.write_text(f"#!{sys.executable}\nimport sys\nprint('running', flush=True)\n"
                    "sys.stdin.read()\n")
    fake.chmod(0o755)
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    assert snakemake_pids(here) == []
    process = subprocess.Popen([str(fake)], cwd=elsewhere, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "running\n"  # the event: it has started
        assert snakemake_pids(elsewhere) == [process.pid]
        assert snakemake_pids(here) == []
    finally:
        process.stdin.close()
        process.wait()


@pytest.mark.integration
def test_a_killed_snakemakes_temporary_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """Snakemake makes its temporary folder (`snakemake*`) in TMPDIR when it starts; killed
    (SIGKILL) it leaves it. `make reproduce` points TMPDIR at .cache/tmp/ and, with no
    Snakemake working here, removes what a killed one left."""
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    (work / "Snakefile").write_text(f'rule all:\n    shell: "echo up > {fifo}; sleep 600"\n')
    process = subprocess.Popen([str(ROOT / ".venv/bin/snakemake"), "--cores", "1", "--quiet"],
                               cwd=work, env=dict(os.environ, TMPDIR=str(tmp)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        assert fifo.read_text() == "up\n"  # the event: its job runs
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    left = sorted(p for p in tmp.iterdir() if p.name.startswith("snakemake"))
    assert left  # what the audit found in /tmp
    (tmp / "not-snakemakes").mkdir()
    assert clean_snakemake_tmp(tmp) == left
    assert [p.name for p in tmp.iterdir()] == ["not-snakemakes"]
    dry = subprocess.run(["make", "-n", "reproduce"], cwd=ROOT, capture_output=True, text=True)
    assert "TMPDIR=" in dry.stdout and "/.cache/tmp" in dry.stdout


def test_a_run_time_hook_string_counts_as_an_import(tmp_path: Path) -> None:
    """`lib.lines` imports a hook's module on first use: a job depends on a run-time hook's
    module as on an import, and not on a tool's (`lib/a/c.py`, the report's)."""
    (tmp_path / "lib" / "a").mkdir(parents=True)
    for name in ("lib/__init__.py", "lib/a/__init__.py", "lib/a/b.py", "lib/a/c.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "lib" / "a" / "line.py").write_text(
        'LINE = Line(layouts={"x": "lib.a.b:Result"}, details="lib.a.c:details")\n')
    (tmp_path / "nb.py").write_text("import lib.a.line\n")
    assert {str(p) for p in lib_dependencies("nb.py", root=tmp_path)} == {
        "lib/__init__.py", "lib/a/__init__.py", "lib/a/line.py", "lib/a/b.py"}
