"""The regeneration machinery: papermill runner errors, the Snakemake graph, summary, report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lib import results
from lib.paths import ROOT
from lib.runner import NotebookFailed, run_notebook


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


def test_runner_refuses_a_parameter_file_for_another_notebook(tmp_path: Path) -> None:
    from lib.params import ParameterError

    with pytest.raises(ParameterError, match="not E08"):
        run_notebook(ROOT / "notebooks" / "E08.py", "parameters/embedded/E11_tiny-mqa.yaml",
                     tmp_path / "x.ipynb")


def _dry_run(profile: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", f"profiles/{profile}", "--dry-run",
         "--forceall"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout + out.stderr


def test_paper_dry_run_lists_the_whole_graph() -> None:
    text = _dry_run("paper")
    for path in sorted((ROOT / "parameters" / "paper").glob("*.yaml")):
        assert f"results/paper/{path.stem}.json" in text
    assert "rule summary" in text and "rule report" in text


@pytest.mark.parametrize("run, reads", [
    ("E11-T_llama-3.1-8b", "E11_mistral-7b"),
    ("E11_falcon-40b", "E11_falcon-7b"),
    ("E08_phi-ladder", "E08_phi3-references"),
])
def test_reference_runs_are_edges_of_the_graph(run: str, reads: str) -> None:
    blocks = _dry_run("paper").split("rule notebook:")
    block = next(b for b in blocks if f"wildcards: name={run}\n" in b)
    inputs = block.split("output:")[0]
    assert f"results/paper/{reads}.json" in inputs


def _pair_payload(run: str, kind: str, dsi: float) -> dict:
    def side(si: float) -> dict:
        return {"specialization_index": si, "si_ci": [si - 0.01, si + 0.01],
                "model": {"name": f"m-{si}", "architecture": {"attention_kind": kind}}}

    return {"experiment": "E11", "run": run, "base": side(0.5), "instruct": side(0.5 + dsi),
            "delta": {"specialization_index": dsi, "si_ci": [dsi - 0.02, dsi + 0.02],
                      "si_ci_excludes_zero": abs(dsi) > 0.02},
            "verdict": {"code": "C_REFUTED"}}


def test_summary_reads_every_pair_result(tmp_path: Path, monkeypatch) -> None:
    from lib import summary

    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    results.write_json(tmp_path / "embedded" / "E11_a.json", _pair_payload("a", "MQA", 0.05))
    results.write_json(tmp_path / "embedded" / "E11_b.json", _pair_payload("b", "MHA", -0.01))
    results.write_json(tmp_path / "embedded" / "E08_c.json", {"experiment": "E08"})
    payload = summary.write_summary("embedded")
    assert [r["label"] for r in payload["rows"]] == ["E11 b", "E11 a"]  # MHA before MQA
    table = (tmp_path / "embedded" / "summary.md").read_text()
    assert "| E11 a | MQA | 0.5000 [0.4900, 0.5100] |" in table and "| yes |" in table
    assert "+0.0500 [+0.0300, +0.0700]" in table
    assert (tmp_path / "figures" / "embedded" / "summary.png").stat().st_size > 10_000


def test_slurm_profile_asks_a_gpu_sized_for_each_paper_run() -> None:
    blocks = _dry_run("slurm").split("rule notebook:")
    falcon40b = next(b for b in blocks if "wildcards: name=E11_falcon-40b\n" in b)
    assert "gpu=1" in falcon40b and "gpu_memory_gb=80, constraint=gpu80gb" in falcon40b
    assert sum("gpu=1" in b for b in blocks[1:]) == 6
