"""REPORT.md with undefined numbers (JSON null) and comparisons across entropy modes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lib import claims, report, results, summary


def claim_payload(claim: claims.Claim, value) -> dict:
    """A results payload holding `value` at the field `claim` names and the published value of
    every other claim of the same results file."""
    payload: dict = {}
    for other in (c for c in claims.CLAIMS if c.result == claim.result):
        node = payload
        for key in other.field[:-1]:
            node = node.setdefault(key, {})
        node[other.field[-1]] = value if other.id == claim.id else other.value
    return payload


@pytest.fixture
def folders(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("BSD_WORKFLOW_RUN", "1")
    for module in (summary, report, results):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    return tmp_path


NUMERIC = next(c for c in claims.CLAIMS if c.result and not isinstance(c.value, str))


@pytest.mark.parametrize("stored", [math.nan, "nan"])  # null today, a string in older results
def test_a_null_regenerated_value_is_undefined_and_prints_na(folders: Path, stored) -> None:
    path = folders / "results" / f"{NUMERIC.result}.json"
    if isinstance(stored, str):
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(claim_payload(NUMERIC, stored)))
    else:
        results.write_json(path, claim_payload(NUMERIC, stored))
    rows = report.write_report([path])
    row = next(r for r in rows if r["id"] == NUMERIC.id)
    assert row["status"] == report.UNDEFINED and row["difference"] is None
    text = (folders / "results" / "REPORT.md").read_text()
    line = next(x for x in text.splitlines() if f"`{NUMERIC.id}`" in x)
    cells = [c.strip() for c in line.split("|")]
    assert cells[3:7] == ["n/a", "-", report._fmt(NUMERIC.tolerance), "**undefined**"]
    assert "1 undefined (n/a)" in text


def test_report_shows_the_comparisons_across_entropy_modes(folders: Path) -> None:
    mismatch = {"this_run": "padded", "reference": "masked", "reference_run": "E11_tiny-mha"}
    rows = [{"label": "E11-T tiny-gqa", "result": "results/embedded/E11-T_tiny-gqa.json",
             "kind": "GQA", "base_si": 0.9, "base_ci": [0.8, 1.0], "instruct_si": None,
             "instruct_ci": None, "delta_si": None, "delta_ci": [None, None],
             "delta_ci_excludes_zero": False, "verdict": "C_REFUTED", "verdict_reason": "",
             "mode_mismatch": [mismatch]}]
    path = results.write_json(results.results_path("embedded", "summary"),
                              {"profile": "embedded", "rows": rows})
    report.write_report([path])
    text = (folders / "results" / "REPORT.md").read_text()
    assert ("## Comparisons across entropy modes" in text
            and "- E11-T tiny-gqa (results/embedded/E11-T_tiny-gqa.json): entropy modes differ: "
                "padded vs masked (E11_tiny-mha)" in text)
    assert "| E11-T tiny-gqa | GQA | 0.9000 [0.8000, 1.0000] | n/a [n/a, n/a] |" in text
    machine = json.loads((folders / "results" / "report.json").read_text())
    assert machine["mode_mismatches"] == [
        "- E11-T tiny-gqa (results/embedded/E11-T_tiny-gqa.json): entropy modes differ: padded "
        "vs masked (E11_tiny-mha)"]
    rows[0]["mode_mismatch"] = []
    assert "across entropy modes" not in report.render([], {"rows": rows})


def test_report_shows_each_pairs_controls(folders: Path) -> None:
    sink = {"point": 0.25, "low": 0.2, "high": 0.3, "reason": None}
    undefined = {"point": None, "low": None, "high": None, "reason": "one KV group (MQA)"}
    row = {"label": "E11 tiny-mqa", "result": "results/embedded/E11_tiny-mqa.json",
           "kind": "MQA", "base_si": 0.9, "base_ci": [0.8, 1.0], "instruct_si": 0.9,
           "instruct_ci": [0.8, 1.0], "delta_si": 0.0, "delta_ci": [-0.1, 0.1],
           "delta_ci_excludes_zero": False, "verdict": "C_REFUTED", "verdict_reason": "",
           "mode_mismatch": [],
           "controls": {"num_kv_heads": 1, "figures": [
               {"control": "Group SI (among KV groups)", "base": undefined,
                "instruct": undefined, "delta": undefined},
               {"control": "Attention-sink share (first token)", "base": sink,
                "instruct": sink, "delta": {**sink, "point": 0.0, "low": -0.01,
                                            "high": 0.01},
                "null": {**sink, "point": 0.125, "low": 0.1, "high": 0.15}}]}}
    text = report.render([], {"rows": [row]})
    assert "### Architecture controls of each pair" in text
    assert ("| E11 tiny-mqa | MQA | 1 | Group SI (among KV groups) | n/a | n/a | n/a | n/a | "
            "one KV group (MQA) |") in text  # a figure without a null side: n/a there
    assert ("| E11 tiny-mqa | MQA | 1 | Attention-sink share (first token) | "
            "0.2500 [0.2000, 0.3000] | 0.2500 [0.2000, 0.3000] | +0.0000 [-0.0100, +0.0100] | "
            "0.1250 [0.1000, 0.1500] |" in text)
    row["controls"] = None  # a summary written before the controls: no section
    assert "Architecture controls" not in report.render([], {"rows": [row]})


def test_report_shows_each_e08_si_against_the_permutation_null(folders: Path) -> None:
    def model(name: str, source: str, si: float, p: float | None) -> dict:
        null = {"point": si, "null_mean": 0.45, "low": 0.4, "high": 0.5, "p": p, "reason": None}
        return {"display": name, "specialization_index": si, "si_ci": [si - 0.05, si + 0.05],
                "model": {"name": name, "source": source,
                          "architecture": {"attention_kind": "MHA"}},
                "controls": {"head_permutation": {"n_permutations": 1000, "seed": 0, "ci": 0.95,
                                                  "si": null}}}

    payload = {"experiment": "E08", "methodology": {"num_prompts": 10,
                                                    "bootstrap": {"n": 1000, "ci": 0.95}},
               "models": {"a": model("MiniLM", "embedded", 0.47, 0.667),
                          "b": model("tiny Phi", "tiny", 0.87, None)}}
    text = report.render([], None, {"embedded/E08_x": payload})
    assert "## E08: each model's SI against the head-permutation null" in text
    assert ("| embedded/E08_x | MiniLM | MHA | 0.4700 [0.4200, 0.5200] | "
            "0.4500 [0.4000, 0.5000] | 0.667 | 10 prompts, 1000 resamples, percentile 95% | "
            "real |") in text
    assert ("| embedded/E08_x | tiny Phi | MHA | 0.8700 [0.8200, 0.9200] | n/a | n/a | "
            "10 prompts, 1000 resamples, percentile 95% | random-init stand-in (tests the "
            "pipeline) |") in text
    assert "shuffled independently for a delta" not in text  # E08 has no pair
    assert "1000 permutations, seed 0, 95% interval." in text
    assert "E08: each model" not in report.render([], None, {})


def test_report_states_both_collapse_rules_and_the_mistral_resolution(folders: Path) -> None:
    row = {"label": "E11 tiny-mha", "result": "results/embedded/E11_tiny-mha.json",
           "kind": "MHA", "base_si": 0.9, "base_ci": [0.8, 1.0], "instruct_si": 0.9,
           "instruct_ci": [0.8, 1.0], "delta_si": 0.0, "delta_ci": [-0.1, 0.1],
           "delta_ci_excludes_zero": False, "verdict": "NOT_RESOLVED",
           "verdict_seed_rule": "C_REFUTED", "verdict_reason": "", "mode_mismatch": [],
           "stand_in": True,
           "bootstrap": {"n_prompts": 10, "n_boot": 1000, "seed": 0, "ci": 0.95}}
    text = report.render([], {"rows": [row]})
    assert "| no | NOT_RESOLVED | C_REFUTED | 10 prompts, 1000 resamples |" in text
    assert "Intervals: percentile bootstrap over prompts" in text
    assert "Verdict (corrected): two independent signs" in text
    relative = claims.CLAIMS_BY_ID["mistral7b.delta_si_relative"]
    absolute = claims.CLAIMS_BY_ID["mistral7b.delta_si"]
    base = claims.CLAIMS_BY_ID["mistral7b.base_si"]
    assert relative.field == ("delta", "specialization_index_relative")
    # the published "+4.2%" is the relative change, not an absolute dSI
    assert abs(absolute.value / base.value - relative.value) <= relative.tolerance
    assert claims.CLAIMS_BY_ID["mistral7b.verdict"].field == ("verdict", "as_executed", "code")
    mistral = next(r for r in claims.RESOLUTIONS if r["topic"] == "Mistral dSI")
    assert "mistral7b.delta_si_relative" in mistral["taken"] and "+4.2%" in mistral["values"]
    assert "| Mistral dSI | " in report.render([], None)
