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


# ---- claim kinds, baselines, effects, and the report's opening (issue 16) ----------------

def _claim(**kw) -> claims.Claim:
    base = {"id": "x.claim", "statement": "a synthetic claim", "source": "test",
            "hardware": "none", "result": "embedded/terrain_x", "field": ("a", "b")}
    return claims.Claim.model_validate(base | kw)


def _at(value, field=("a", "b"), extra: dict | None = None) -> dict:
    node: dict = {}
    payload = node
    for key in field[:-1]:
        node = node.setdefault(key, {})
    node[field[-1]] = value
    return payload | (extra or {})


@pytest.mark.parametrize("value, status, difference", [
    (0.25, report.IN_BAND, 0.0), (0.2, report.IN_BAND, 0.0), (0.35, report.OUTSIDE, 0.05),
    (0.15, report.OUTSIDE, -0.05), (0.305, report.IN_BAND, 0.005)])
def test_a_band_claim_is_in_or_outside_its_band(value, status, difference) -> None:
    claim = _claim(band=(0.2, 0.3), tolerance=0.01)
    row = report.check_claim(claim, {"embedded/terrain_x": _at(value)})
    assert row["status"] == status and row["published"] == [0.2, 0.3]
    assert row["difference"] == pytest.approx(difference)
    strict = report.check_claim(_claim(band=(0.2, 0.3), tolerance=0.0),
                                {"embedded/terrain_x": _at(0.305)})
    assert strict["status"] == report.OUTSIDE


def test_an_untestable_claim_is_shown_never_reproduced() -> None:
    claim = _claim(value=0.3, tolerance=0.01, testable=False)
    row = report.check_claim(claim, {"embedded/terrain_x": _at(0.3)})
    assert row["status"] == report.NOT_TESTABLE and row["regenerated"] == 0.3
    assert report.counts_line([row]).startswith("0 reproduced, 0 differ, 1 asserted, not testable")
    phase = claims.CLAIMS_BY_ID["modulator.phase_boundary"]
    real = report.check_claim(phase, {phase.result: claim_payload(phase, phase.value)})
    assert real["status"] == report.NOT_TESTABLE
    # before its run too: nothing the run could show would test it
    unrun = report.check_claim(phase, {})
    assert unrun["status"] == report.NOT_TESTABLE and "echoes an input" in unrun["needs"]


def test_a_bool_claim_matches_exactly() -> None:
    claim = _claim(value=True)
    assert report.check_claim(claim, {"embedded/terrain_x": _at(True)})["status"] == \
        report.REPRODUCED
    assert report.check_claim(claim, {"embedded/terrain_x": _at(False)})["status"] == \
        report.DIFFERS
    # a run too short to test it stores null: undefined, not a contradiction
    assert report.check_claim(claim, {"embedded/terrain_x": _at(None)})["status"] == \
        report.UNDEFINED


def _baseline(kind: str, field=("init", "b"), **kw) -> dict:
    return {"result": "embedded/terrain_x", "field": field, "label": "at init", "kind": kind} | kw


@pytest.mark.parametrize("measured, init, status", [
    (0.5, 0.5003, "indistinguishable from random weights"),
    (0.9, 1.0, report.DISTINGUISHABLE)])
def test_a_point_baseline_within_tolerance_is_indistinguishable(measured, init, status) -> None:
    claim = _claim(value=0.5, tolerance=0.001, baseline=_baseline("initialization"))
    payload = _at(measured, extra={"init": {"b": init}})
    row = report.check_claim(claim, {"embedded/terrain_x": payload})
    assert row["baseline"]["status"] == status and row["baseline"]["compared"] == "regenerated"
    assert row["baseline"]["value"] == init


@pytest.mark.parametrize("si, status", [(0.47, "indistinguishable from its null"),
                                        (0.9, report.DISTINGUISHABLE)])
def test_an_interval_baseline_reads_the_null_interval(si, status) -> None:
    null = {"null_mean": 0.45, "low": 0.4, "high": 0.5, "p": 0.667}
    claim = _claim(value=si, tolerance=0.005, baseline=_baseline("permutation", ("null",)))
    row = report.check_claim(claim, {"embedded/terrain_x": _at(si, extra={"null": null})})
    assert row["baseline"]["status"] == status
    assert row["baseline"]["shown"] == "[0.4000, 0.5000], p = 0.667"
    text = report.render([row], None, {})
    line = next(x for x in text.splitlines() if x.startswith("| a synthetic claim"))
    assert line.endswith(f"at init: [0.4000, 0.5000], p = 0.667 — **{status}** |")
    said = "Indistinguishable from random weights or from their null: `x.claim`"
    assert (said in text) == (status != report.DISTINGUISHABLE)


@pytest.mark.parametrize("flag, status", [(False, "indistinguishable from its reference"),
                                          (True, report.DISTINGUISHABLE), (None, report.UNDEFINED)])
def test_a_reference_baseline_follows_its_interval_flag(flag, status) -> None:
    ref = {"reference_cv": 0.21, "difference_ci": [-0.01, 0.02], "distinguishable": flag,
           "n_boot": 1000, "level": 0.95}
    claim = _claim(band=(0.2, 0.23), tolerance=0.005, baseline=_baseline("reference", ("ref",)))
    row = report.check_claim(claim, {"embedded/terrain_x": _at(0.215, extra={"ref": ref})})
    assert row["baseline"]["status"] == status
    assert "0.21; difference [-0.01, +0.02] (1000 resamples, 95%)" == row["baseline"]["shown"]


def test_a_baseline_without_its_run_or_field_says_so() -> None:
    claim = _claim(value=0.5, tolerance=0.001, baseline=_baseline(
        "initialization", result="embedded/terrain_init"))
    row = report.check_claim(claim, {"embedded/terrain_x": _at(0.5)})
    assert row["baseline"]["status"] == report.NOT_RUN
    row = report.check_claim(claim, {"embedded/terrain_x": _at(0.5),
                                     "embedded/terrain_init": {"init": {}}})
    assert row["baseline"]["status"] == report.MISSING
    # the claim's own run not made: the published value is compared, and labelled
    row = report.check_claim(claim, {"embedded/terrain_init": {"init": {"b": 0.5004}}})
    assert row["status"] == report.NOT_RUN
    assert row["baseline"]["compared"] == "published"
    assert row["baseline"]["status"] == "indistinguishable from random weights"
    assert "(published value)" in report._baseline_cell(row)


def test_an_ordered_claim_reads_the_claims_it_names() -> None:
    claim = _claim(ordered=("x.a", "x.b"), result=None, field=None)
    rows = {"x.a": {"status": report.REPRODUCED, "regenerated": 0.9},
            "x.b": {"status": report.DIFFERS, "regenerated": 0.95}}
    assert report.check_claim(claim, None, rows)["status"] == report.REPRODUCED
    rows["x.b"]["regenerated"] = 0.85
    assert report.check_claim(claim, None, rows)["status"] == report.DIFFERS
    rows["x.b"] = {"status": report.NOT_RUN, "regenerated": None}
    row = report.check_claim(claim, None, rows)
    assert row["status"] == report.NOT_RUN and "x.b" in row["needs"]
    ladder = claims.CLAIMS_BY_ID["t5.q_ladder"]
    assert report.check_claims({})[claims.CLAIMS.index(ladder)]["status"] == report.NOT_RUN


def test_a_fact_stated_twice_is_counted_once() -> None:
    si = {"id": "m.si", "status": report.REPRODUCED}
    corr = {"id": "m.corr", "status": report.REPRODUCED, "same_as": "m.si"}
    line = report.counts_line([si, corr])
    assert line.startswith("1 reproduced, 0 differ, 0 not yet run.")
    assert "1 claims restate another's fact" in line
    stated = [c for c in claims.CLAIMS if c.same_as]
    assert {c.same_as for c in stated} >= {"mistral7b.delta_si"}


def test_a_resolution_effect_reads_its_result() -> None:
    effect = {"result": "embedded/terrain_x", "field": ("wordnet", "effects", "B10")}
    assert report.effect_text(effect, {}).startswith(report.NOT_RUN)
    assert report.effect_text(effect, {"embedded/terrain_x": {"wordnet": {}}}).startswith(
        report.MISSING)
    block = {"number": "fake-root share of pairs", "as_executed": 0.4, "taken": 0.4,
             "difference": 0.0, "what": "what the defect does"}
    text = report.effect_text(effect, {"embedded/terrain_x": _at(block, effect["field"])})
    assert text == "fake-root share of pairs: as executed 0.4, taken 0.4, difference +0"
    b8 = {"number": "D10 Pearson", "as_executed": {"pearson": 0.3, "relative_lift": 0.5},
          "corrected": {"pearson": 0.1}, "difference": {"pearson": 0.2}, "taken": "corrected",
          "what": "anchors vs held out"}
    text = report.effect_text({"result": "embedded/m", "field": ("effects", "B8")},
                              {"embedded/m": {"effects": {"B8": b8}}})
    assert text == ("D10 Pearson: as executed 0.3 (pearson), corrected 0.1 (pearson), "
                    "difference +0.2 (pearson) (this run takes: corrected)")
    assert "| effect on the number |" in report.render([], None, {})


def test_the_report_opens_with_what_the_runs_show_and_cannot_show() -> None:
    def model(name: str, source: str, si: float) -> dict:
        return {"display": name, "size_b": 0.1, "specialization_index": si,
                "si_ci": [si - 0.05, si + 0.05],
                "model": {"name": name, "source": source,
                          "architecture": {"attention_kind": "GQA"}},
                "controls": {"head_permutation": {
                    "n_permutations": 1000, "seed": 0, "ci": 0.95,
                    "si": {"null_mean": 0.45, "low": 0.4, "high": 0.5, "p": 0.5}}}}

    payload = {"experiment": "E08", "methodology": {"num_prompts": 12,
                                                    "bootstrap": {"n": 500, "ci": 0.95}},
               "models": {"a": model("SmolLM2", "embedded", 0.47)}}
    text = report.render(report.check_claims({}), None, {"embedded/E08_x": payload})
    heads = [x for x in text.splitlines() if x.startswith("## ")]
    assert heads[:4] == ["## What the embedded runs show", "## What they cannot show",
                         "## E08 ladder (embedded)", "## Claims"]
    assert ("| SmolLM2 | 0.1 B | GQA | 0.4700 [0.4200, 0.5200] | [0.4000, 0.5000], p = 0.500 | "
            "12 prompts, 500 resamples |") in text
    assert "SmolLM2: SI 0.470 lies inside its head-permutation null" in text
