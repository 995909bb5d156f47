"""REPORT.md with undefined numbers (JSON null) and comparisons across entropy modes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from payloads import claims_payload, fitted, fitted_block
from sealed import write_sealed

from lib import checks, claims, report, results
from lib.attention import summary
from lib.attention.layout import LadderModelBlock


def claim_payload(claim: claims.Claim, value) -> dict:
    """A results payload that fits its layout, holding `value` at the field `claim` names and
    the published value of every other claim of the same results file."""
    return claims_payload(claim.result, {claim.id: value})


@pytest.fixture
def folders(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("BSD_WORKFLOW_RUN", "1")
    for module in (summary, report, results):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    return tmp_path


NUMERIC = next(c for c in claims.CLAIMS if c.result and not isinstance(c.value, str))


def test_a_null_regenerated_value_is_undefined_and_prints_na(folders: Path) -> None:
    path = write_sealed(folders / "results" / f"{NUMERIC.result}.json",
                        claim_payload(NUMERIC, math.nan))
    rows = report.write_report([path])
    row = next(r for r in rows if r["id"] == NUMERIC.id)
    assert row["status"] == checks.UNDEFINED and row["difference"] is None
    text = (folders / "results" / "REPORT.md").read_text()
    line = next(x for x in text.splitlines() if f"`{NUMERIC.id}`" in x)
    cells = [c.strip() for c in line.split("|")]
    assert cells[3:7] == ["n/a", "-", checks.fmt(NUMERIC.tolerance), "**undefined**"]
    assert "1 undefined (n/a)" in text


def test_a_number_stored_as_a_word_is_refused_not_read(folders: Path) -> None:
    """"nan" as a string (older results wrote it): the file does not fit its layout."""
    path = write_sealed(folders / "results" / f"{NUMERIC.result}.json",
                        claim_payload(NUMERIC, "nan"))
    rows = report.write_report([path])
    assert next(r for r in rows if r["id"] == NUMERIC.id)["status"] == checks.NOT_RUN
    [line] = json.loads((folders / "results" / "report.json").read_text())["refused"]
    assert line.startswith(f"{NUMERIC.result}.json: {'.'.join(NUMERIC.field)}") or \
        NUMERIC.field[-1] in line, line


def test_report_states_the_mistral_resolution() -> None:
    relative = claims.CLAIMS_BY_ID["mistral7b.delta_si_relative"]
    absolute = claims.CLAIMS_BY_ID["mistral7b.delta_si"]
    base = claims.CLAIMS_BY_ID["mistral7b.base_si"]
    assert relative.field == ("delta", "specialization_index_relative")
    # the published "+4.2%" is the relative change, not an absolute dSI
    assert abs(absolute.value / base.value - relative.value) <= relative.tolerance
    assert claims.CLAIMS_BY_ID["mistral7b.verdict"].field == ("verdict", "as_executed", "code")
    mistral = next(r for r in claims.RESOLUTIONS if r["topic"] == "Mistral dSI")
    assert "mistral7b.delta_si_relative" in mistral["taken"] and "+4.2%" in mistral["values"]
    assert "| Mistral dSI | " in report.render([])


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
    (0.25, checks.IN_BAND, 0.0), (0.2, checks.IN_BAND, 0.0), (0.35, checks.OUTSIDE, 0.05),
    (0.15, checks.OUTSIDE, -0.05), (0.305, checks.IN_BAND, 0.005)])
def test_a_band_claim_is_in_or_outside_its_band(value, status, difference) -> None:
    claim = _claim(band=(0.2, 0.3), tolerance=0.01)
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(value)})
    assert row["status"] == status and row["published"] == [0.2, 0.3]
    assert row["difference"] == pytest.approx(difference)
    strict = checks.check_claim(_claim(band=(0.2, 0.3), tolerance=0.0),
                                {"embedded/terrain_x": _at(0.305)})
    assert strict["status"] == checks.OUTSIDE


def test_an_untestable_claim_is_shown_never_reproduced() -> None:
    claim = _claim(value=0.3, tolerance=0.01, testable=False)
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.3)})
    assert row["status"] == checks.NOT_TESTABLE and row["regenerated"] == 0.3
    assert report.counts_line([row]).startswith("0 reproduced, 0 differ, 1 asserted, not testable")
    phase = claims.CLAIMS_BY_ID["modulator.phase_boundary"]
    real = checks.check_claim(phase, {phase.result: claim_payload(phase, phase.value)})
    assert real["status"] == checks.NOT_TESTABLE
    # before its run too: nothing the run could show would test it
    unrun = checks.check_claim(phase, {})
    assert unrun["status"] == checks.NOT_TESTABLE and "echoes an input" in unrun["needs"]


def test_a_bool_claim_matches_exactly() -> None:
    claim = _claim(value=True)
    assert checks.check_claim(claim, {"embedded/terrain_x": _at(True)})["status"] == \
        checks.REPRODUCED
    assert checks.check_claim(claim, {"embedded/terrain_x": _at(False)})["status"] == \
        checks.DIFFERS
    # a run too short to test it stores null: undefined, not a contradiction
    assert checks.check_claim(claim, {"embedded/terrain_x": _at(None)})["status"] == \
        checks.UNDEFINED


def _baseline(kind: str, field=("init", "b"), **kw) -> dict:
    return {"result": "embedded/terrain_x", "field": field, "label": "at init", "kind": kind} | kw


def _spread(values: list[float], resolution: float = 0.0) -> dict:
    from lib.terrain.nulls import seed_spread

    return seed_spread(values, list(range(len(values))), resolution)


def test_a_point_baseline_decides_nothing_whatever_the_tolerance() -> None:
    # one initialization has no spread: 0.5003 beside 0.5 is neither, at any claim tolerance
    for tolerance in (0.001, 0.5):
        claim = _claim(value=0.5, tolerance=tolerance, baseline=_baseline("initialization"))
        row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.5, extra={
            "init": {"b": 0.5003}})})
        assert row["baseline"]["status"] == checks.UNDEFINED
        assert row["baseline"]["reason"] == checks.NO_SPREAD
        assert row["baseline"]["value"] == 0.5003 and row["baseline"]["compared"] == "regenerated"
        # what the check does with the one value random weights gave: it passes it too
        assert row["baseline"]["gives_claim"] is True
        assert row["status"] == "random weights give it too"


@pytest.mark.parametrize("tolerance", [0.0001, 0.1])
def test_indistinguishable_is_decided_by_the_seeds_spread_never_by_the_tolerance(
        tolerance) -> None:
    # T5-small's cross-attention QK min over layers at initialization, 5 seeds on the 1/512 grid
    seeds = _spread([255 / 512, 255 / 512, 256 / 512, 254 / 512, 255 / 512], 1 / 512)
    claim = _claim(value=0.5, tolerance=tolerance, baseline=_baseline("initialization"))
    for measured, status in ((0.5, "indistinguishable from random weights"),
                             (257 / 512, "indistinguishable from random weights"),
                             (0.52, checks.DISTINGUISHABLE), (0.47, checks.DISTINGUISHABLE)):
        row = checks.check_claim(claim, {"embedded/terrain_x": _at(measured, extra={
            "init": {"b": seeds}})})
        assert row["baseline"]["status"] == status, (measured, tolerance)
        assert "over 5 seeds; 99% interval [" in row["baseline"]["shown"]


def test_a_claim_random_weights_also_give_is_never_reproduced() -> None:
    # cross_layer.gemma3's case: the trained max |mean| (0.0036) is well outside what random
    # weights give (0.0003-0.0010), yet random weights pass the claim "~0 within 0.005" too
    seeds = _spread([0.00082, 0.00037, 0.00095, 0.00052, 0.00061])
    claim = _claim(value=0.0, tolerance=0.005, baseline=_baseline("initialization"))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.0036, extra={
        "init": {"b": seeds}})})
    assert row["baseline"]["status"] == checks.DISTINGUISHABLE
    assert row["baseline"]["gives_claim"] is True and row["check"] == checks.REPRODUCED
    assert row["status"] == "random weights give it too"
    # a claim random weights cannot pass stays reproduced: a Q sparsity of 87.1% beside its
    # initialization's 1.000 at every seed (T5's)
    ones = _spread([1.0] * 5, 1 / 1_572_864)
    claim = _claim(value=0.871, tolerance=0.001, baseline=_baseline("initialization"))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.8712, extra={
        "init": {"b": ones}})})
    assert row["status"] == checks.REPRODUCED and row["baseline"]["gives_claim"] is False
    assert row["baseline"]["status"] == checks.DISTINGUISHABLE
    # T5-v1.1-XXL's "Q sparsity 100.0%": every T5 initialization gives it
    claim = _claim(value=1.0, tolerance=0.001, baseline=_baseline("initialization"))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.99998, extra={
        "init": {"b": ones}})})
    assert row["status"] == "random weights give it too"
    # a band whose range random weights reach: in band, but no evidence
    claim = _claim(band=(0.2, 0.23), tolerance=0.005, baseline=_baseline("initialization"))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.21, extra={
        "init": {"b": _spread([0.22, 0.23, 0.21, 0.225, 0.215])}})})
    assert row["check"] == checks.IN_BAND and row["status"] == "random weights give it too"
    # counted apart, never with the reproduced ones
    rows = [row, {"id": "y", "status": checks.REPRODUCED}]
    assert report.counts_line(rows).startswith(
        "1 reproduced, 0 differ, 1 that random weights (or their null, or their reference) "
        "give too, not counted as reproduced")
    assert "random weights pass the claim's check too" in report._baseline_cell(row)


def test_an_analytic_baseline_reads_its_interval() -> None:
    from lib.terrain.nulls import position_bias_null

    block = position_bias_null(32, 8)  # T5-small's decoder bias: 8 heads, 32 buckets
    claim = _claim(value=0.0, tolerance=0.0, baseline=_baseline("initialization"))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.0, extra={
        "init": {"b": block}})})
    assert row["baseline"]["status"] == checks.DISTINGUISHABLE
    assert row["baseline"]["gives_claim"] is False and row["status"] == checks.REPRODUCED
    assert row["baseline"]["shown"].startswith("analytic 99% interval [")


@pytest.mark.parametrize("si, status", [(0.47, "indistinguishable from its null"),
                                        (0.9, checks.DISTINGUISHABLE)])
def test_an_interval_baseline_reads_the_null_interval(si, status) -> None:
    null = {"null_mean": 0.45, "low": 0.4, "high": 0.5, "p": 0.667}
    claim = _claim(value=si, tolerance=0.005, baseline=_baseline("permutation", ("null",)))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(si, extra={"null": null})})
    assert row["baseline"]["status"] == status
    assert row["baseline"]["shown"] == "[0.4000, 0.5000], p = 0.667"
    text = report.render([row], {})
    line = next(x for x in text.splitlines() if x.startswith("| a synthetic claim"))
    inside = status != checks.DISTINGUISHABLE
    # inside its null, the null passes the claim too: its own status, not reproduced
    assert row["status"] == ("its null gives it too" if inside else checks.REPRODUCED)
    assert line.endswith(f"at init: [0.4000, 0.5000], p = 0.667 — **{status}**"
                         + ("; its null passes the claim's check too |" if inside else " |"))
    said = "Indistinguishable from random weights or from their null: `x.claim`"
    assert (said in text) == inside


@pytest.mark.parametrize("flag, status", [(False, "indistinguishable from its reference"),
                                          (True, checks.DISTINGUISHABLE), (None, checks.UNDEFINED)])
def test_a_reference_baseline_follows_its_interval_flag(flag, status) -> None:
    ref = {"reference_cv": 0.21, "difference_ci": [-0.01, 0.02], "distinguishable": flag,
           "n_boot": 1000, "level": 0.95}
    claim = _claim(band=(0.2, 0.23), tolerance=0.005, baseline=_baseline("reference", ("ref",)))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.215, extra={"ref": ref})})
    assert row["baseline"]["status"] == status
    assert "0.21; difference [-0.01, +0.02] (1000 resamples, 95%)" == row["baseline"]["shown"]


def test_a_baseline_without_its_run_or_field_says_so() -> None:
    claim = _claim(value=0.5, tolerance=0.001, baseline=_baseline(
        "initialization", result="embedded/terrain_init"))
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.5)})
    assert row["baseline"]["status"] == checks.NOT_RUN
    row = checks.check_claim(claim, {"embedded/terrain_x": _at(0.5),
                                     "embedded/terrain_init": {"init": {}}})
    assert row["baseline"]["status"] == checks.MISSING
    # the claim's own run not made: the published value is compared, and labelled
    spread = _spread([0.5004, 0.4998, 0.5001, 0.5003, 0.4999])
    row = checks.check_claim(claim, {"embedded/terrain_init": {"init": {"b": spread}}})
    assert row["status"] == checks.NOT_RUN
    assert row["baseline"]["compared"] == "published"
    assert row["baseline"]["status"] == "indistinguishable from random weights"
    assert "(published value)" in report._baseline_cell(row)


def test_an_ordered_claim_reads_the_claims_it_names() -> None:
    claim = _claim(ordered=("x.a", "x.b"), result=None, field=None)
    rows = {"x.a": {"status": checks.REPRODUCED, "regenerated": 0.9},
            "x.b": {"status": checks.DIFFERS, "regenerated": 0.95}}
    assert checks.check_claim(claim, None, rows)["status"] == checks.REPRODUCED
    rows["x.b"]["regenerated"] = 0.85
    assert checks.check_claim(claim, None, rows)["status"] == checks.DIFFERS
    rows["x.b"] = {"status": checks.NOT_RUN, "regenerated": None}
    row = checks.check_claim(claim, None, rows)
    assert row["status"] == checks.NOT_RUN and "x.b" in row["needs"]
    ladder = claims.CLAIMS_BY_ID["t5.q_ladder"]
    assert checks.check_claims({})[claims.CLAIMS.index(ladder)]["status"] == checks.NOT_RUN


def test_a_fact_stated_twice_is_counted_once() -> None:
    si = {"id": "m.si", "status": checks.REPRODUCED}
    corr = {"id": "m.corr", "status": checks.REPRODUCED, "same_as": "m.si"}
    line = report.counts_line([si, corr])
    assert line.startswith("1 reproduced, 0 differ, 0 not yet run.")
    assert "1 claims restate another's fact" in line
    stated = [c for c in claims.CLAIMS if c.same_as]
    assert {c.same_as for c in stated} >= {"mistral7b.delta_si"}


def test_a_resolution_effect_reads_its_result() -> None:
    effect = {"result": "embedded/terrain_x", "field": ("wordnet", "effects", "fake_root")}
    assert report.effect_text(effect, {}).startswith(checks.NOT_RUN)
    assert report.effect_text(effect, {"embedded/terrain_x": {"wordnet": {}}}).startswith(
        checks.MISSING)
    block = {"number": "fake-root share of pairs", "as_executed": 0.4, "taken": 0.4,
             "difference": 0.0, "what": "what the defect does"}
    text = report.effect_text(effect, {"embedded/terrain_x": _at(block, effect["field"])})
    assert text == "fake-root share of pairs: as executed 0.4, taken 0.4, difference +0"
    anchors = {"number": "D10 Pearson", "as_executed": {"pearson": 0.3, "relative_lift": 0.5},
               "corrected": {"pearson": 0.1}, "difference": {"pearson": 0.2},
               "taken": "corrected", "what": "anchors vs held out"}
    text = report.effect_text({"result": "embedded/m", "field": ("effects", "anchor_evaluation")},
                              {"embedded/m": {"effects": {"anchor_evaluation": anchors}}})
    assert text == ("D10 Pearson: as executed 0.3 (pearson), corrected 0.1 (pearson), "
                    "difference +0.2 (pearson) (this run takes: corrected)")
    assert "| effect on the number |" in report.render([], {})


def test_the_report_opens_with_what_the_runs_show_and_cannot_show() -> None:
    def model(name: str, source: str, si: float) -> dict:
        return {"display": name, "size_b": 0.1, "specialization_index": si,
                "si_ci": [si - 0.05, si + 0.05],
                "model": {"name": name, "source": source,
                          "architecture": {"attention_kind": "GQA"}},
                "controls": {"head_permutation": {
                    "n_permutations": 1000, "seed": 0, "ci": 0.95,
                    "si": {"point": si, "null_mean": 0.45, "excess": si - 0.45, "null_std": 0.03,
                           "low": 0.4, "high": 0.5, "p": 0.5}}}}

    payload = fitted({"experiment": "E08", "methodology": {"num_prompts": 12,
                                                           "bootstrap": {"n": 500, "ci": 0.95}},
                      "models": {"a": fitted_block(LadderModelBlock,
                                                 model("SmolLM2", "embedded", 0.47))}})
    text = report.render(checks.check_claims({}), {"embedded/E08_x": payload})
    heads = [x for x in text.splitlines() if x.startswith("## ")]
    assert heads[:5] == ["## What the embedded runs show", "## What they cannot show",
                         "## E08 ladder (embedded)", "## What the attention tests can decide",
                         "## Claims"]
    assert "SI lies in [0, 2] and exceeds 1 when the profiles are anti-correlated" in text
    assert ("| SmolLM2 | 0.1 B | GQA | 0.4700 [0.4200, 0.5200] | [0.4000, 0.5000], p = 0.500 | "
            "12 prompts, 500 resamples |") in text
    assert ("- SmolLM2: SI 0.470, null mean 0.450 (excess +0.020, null sd 0.030, p = 0.500): a "
            "typical draw of its null.") in text


def test_a_run_says_which_claims_random_weights_pass_too() -> None:
    # issue 24's case: Gemma-3's largest cross-layer |mean| is ~0, as random weights give too
    from lib.findings import findings, findings_for

    cid = "cross_layer.gemma3"
    claim = claims.CLAIMS_BY_ID[cid]
    spread = _spread([0.00082, 0.00037, 0.00095, 0.00052, 0.00061])
    payload = {"experiment": "terrain", "profile": "embedded", "run": "gemma3",
               "weights": {"trained": {"cross_layer_summary": {"max_abs_mean": 0.0036}},
                           "init_spread": {"quantities": {
                               "cross_layer_summary/max_abs_mean": spread}}}}
    assert claim.result == "embedded/terrain_gemma3"
    lines = findings_for(payload, "terrain")
    assert any(line.startswith("- " + claim.statement) and "random weights give it too" in line
               and "no evidence" in line for line in lines)
    given = findings({claim.result: payload})["given_by_baseline"]
    assert [x["id"] for x in given] == [cid]
    row = next(r for r in checks.check_claims({claim.result: payload}) if r["id"] == cid)
    assert row["status"] == "random weights give it too" and row["check"] == checks.REPRODUCED
