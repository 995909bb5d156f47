"""The cross-run summary with undefined numbers (JSON null) and comparisons across entropy modes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from payloads import pair_payload
from sealed import write_sealed

from lib import results
from lib.attention import summary
from lib.integrity import canonical_sha256

# results files the workflow makes (their parameter files exist): a payload written there as the
# workflow would (sealed) passes lib.integrity's check whatever run it names inside
SLOTS = ("E11_tiny-mha", "E11_tiny-mqa")


def slot(folders: Path, i: int) -> Path:
    return folders / "results" / "embedded" / f"{SLOTS[i]}.json"


@pytest.fixture
def folders(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("BSD_WORKFLOW_RUN", "1")
    for module in (summary, results):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    return tmp_path


def test_non_finite_numbers_are_stored_as_null(tmp_path: Path) -> None:
    payload = {"a": math.nan, "b": [np.float32("inf"), -math.inf, 0.5], "c": np.float64("nan"),
               "d": {"e": np.array([1.0, np.nan])}}
    path = results.write_json(tmp_path / "r.json", payload)
    written = json.loads(path.read_text())
    assert written.pop("content_sha256") == canonical_sha256(written)
    assert written == {"a": None, "b": [None, None, 0.5], "c": None, "d": {"e": [1.0, None]}}
    assert "NaN" not in path.read_text() and '"nan"' not in path.read_text()


def test_summary_prints_na_for_null_and_keeps_working(folders: Path) -> None:
    out = folders / "results" / "embedded"
    files = [write_sealed(out / "E11_tiny-mha.json", pair_payload("x", math.nan, math.nan)),
             write_sealed(out / "E11_tiny-mqa.json", pair_payload("y", 0.5, 0.05))]
    assert json.loads(files[0].read_text())["base"]["specialization_index"] is None
    payload = summary.write_summary("embedded", files)
    rows = {r["label"]: r for r in payload["rows"]}
    assert rows["E11 x"]["base_si"] is None and rows["E11 x"]["verdict"] == "UNDEFINED"
    table = summary.markdown_table(payload["rows"])
    assert ("| E11 x | GQA | n/a [n/a, n/a] | n/a [n/a, n/a] | n/a [n/a, n/a] | no | n/a | "
            "UNDEFINED | - | - | - | not finite: specialization_index of base tiny/x is nan |"
            ) in table
    assert "| E11 y | GQA | 0.5000 [0.4900, 0.5100] | 0.5500 [0.5400, 0.5600] | " \
           "+0.0500 [n/a, n/a] |" in table
    written = results.results_path("embedded", "summary").with_suffix(".md").read_text()
    assert "n/a [n/a, n/a]" in written
    assert results.figure_path("embedded", "summary").stat().st_size > 10_000


def test_legacy_nan_strings_read_as_na(folders: Path) -> None:
    """Results written before null: non-finite numbers were the strings "nan" / "inf"."""
    legacy = pair_payload("old", 0.5, 0.05)
    legacy["base"]["specialization_index"] = "nan"
    legacy["delta"]["si_ci"] = ["nan", "inf"]
    path = write_sealed(slot(folders, 0), legacy)
    rows = summary.summary_rows("embedded", [path])
    assert "| n/a [0.4900, 0.5100] |" in summary.markdown_table(rows)


def test_summary_rows_carry_the_mode_mismatch(folders: Path) -> None:
    mismatch = {"this_run": "padded", "reference": "masked", "reference_run": "E11_tiny-mha"}
    gqa = pair_payload("gqa", 0.5, 0.05)
    gqa["verdict"] = {"code": "C_REFUTED", "reason": ""}
    gqa["mha_comparison"] = {"reference": {"run": "E11_tiny-mha"}, "mode_mismatch": mismatch,
                             "code": "ARCHITECTURE_INVARIANT"}
    same = pair_payload("same", 0.5, 0.05, cross_scale={"mode_mismatch": None})
    files = [write_sealed(slot(folders, 0), gqa), write_sealed(slot(folders, 1), same)]
    rows = {r["label"]: r for r in summary.summary_rows("embedded", files)}
    assert rows["E11 gqa"]["mode_mismatch"] == [mismatch]
    assert rows["E11 same"]["mode_mismatch"] == []
    assert summary.markdown_table([rows["E11 gqa"]]).rstrip().endswith(
        "| n/a | C_REFUTED | - | - | - | entropy modes differ: padded vs masked (E11_tiny-mha) |")


def controls_block(group_si: float | None, within: float | None, sink: float,
                   si: float = 0.5) -> dict:
    """A model's (or a delta's, or a null model's) controls as the notebooks save them."""
    def est(point: float | None, reason: str) -> dict:
        if point is None:
            return {"point": None, "low": None, "high": None, "reason": reason}
        return {"point": point, "low": point - 0.1, "high": point + 0.1, "reason": None}

    return {"specialization": {"si": est(si, "")},
            "kv_groups": {"num_kv_heads": 1, "group_size": 8,
                          "group_si": est(group_si, "one KV group (MQA): no pair of groups"),
                          "within_group_correlation": est(within, "one head per group")},
            "attention_sink": {"mean": est(sink, ""), "per_layer": [sink]}}


def test_controls_beside_every_pair(folders: Path) -> None:
    with_controls = pair_payload("mqa", 0.5, 0.05)
    with_controls["base"]["controls"] = controls_block(None, 0.9, 0.25)
    with_controls["instruct"]["controls"] = controls_block(None, 0.8, 0.30)
    with_controls["delta"]["controls"] = controls_block(None, -0.1, 0.05)
    with_controls["null_model"] = {"model": {"name": "random/tiny/mqa"},
                                   **controls_block(None, 0.95, 0.125, si=0.05)}
    files = [write_sealed(slot(folders, 0), with_controls),
             write_sealed(slot(folders, 1), pair_payload("old", 0.5, 0.05))]
    payload = summary.write_summary("embedded", files)
    rows = {r["label"]: r for r in payload["rows"]}
    assert rows["E11 old"]["controls"] is None  # saved before the controls: no line
    controls = rows["E11 mqa"]["controls"]
    assert controls["num_kv_heads"] == 1 and controls["null_model"] == "random/tiny/mqa"
    assert [f["control"] for f in controls["figures"]] == [
        "SI (1 - mean head correlation)", "Group SI (among KV groups)",
        "Within-group head correlation", "Attention-sink share (first token)"]
    table = summary.controls_markdown(payload["rows"])
    lines = table.splitlines()
    assert len(lines) == 6 and "E11 old" not in table
    assert lines[2] == ("| E11 mqa | GQA | 1 | SI (1 - mean head correlation) | "
                        "0.5000 [0.4000, 0.6000] | 0.5000 [0.4000, 0.6000] | "
                        "+0.5000 [+0.4000, +0.6000] | 0.0500 [-0.0500, 0.1500] |  |")
    assert lines[3] == ("| E11 mqa | GQA | 1 | Group SI (among KV groups) | n/a | n/a | n/a | "
                        "n/a | one KV group (MQA): no pair of groups |")
    assert lines[5] == ("| E11 mqa | GQA | 1 | Attention-sink share (first token) | "
                        "0.2500 [0.1500, 0.3500] | 0.3000 [0.2000, 0.4000] | "
                        "+0.0500 [-0.0500, +0.1500] | 0.1250 [0.0250, 0.2250] |  |")
    written = results.results_path("embedded", "summary").with_suffix(".md").read_text()
    assert written.startswith("# Attention-specialization summary (embedded)\n\n"
                              + summary.markdown_table(payload["rows"]))
    assert "## Architecture controls" in written and lines[4] in written
    assert summary.controls_markdown([rows["E11 old"]]) == ""


def null_block(si: float, p: float, **groups) -> dict:
    """A `head_permutation` controls block as the notebooks save it."""
    def fig(point: float | None, p_value: float | None, reason: str | None = None) -> dict:
        if point is None:
            return {"point": None, "null_mean": None, "low": None, "high": None, "p": None,
                    "reason": reason}
        return {"point": point, "null_mean": point, "low": point - 0.05, "high": point + 0.05,
                "p": p_value, "reason": None}

    return {"n_permutations": 1000, "seed": 0, "ci": 0.95, "si": fig(si, p),
            **{k: fig(*v) for k, v in groups.items()}}


def test_verdicts_bootstrap_stand_ins_and_the_permutation_null(folders: Path) -> None:
    payload = pair_payload("mha", 0.5, 0.05)
    payload["verdict"] = {"code": "NOT_RESOLVED", "reason": "",
                          "as_executed": {"code": "B_PARTIAL"},
                          "values": {"sign_status": {"SI down / correlation up": "not resolved",
                                                     "head variance down": "not resolved"}}}
    payload["delta"]["bootstrap"] = {"n_prompts": 10, "n_boot": 1000, "seed": 0, "ci": 0.95}
    payload["delta"]["seed_null"] = {"specialization_index": {"interval": [-0.25, 0.125]}}
    payload["verdict"]["values"]["bootstrap_only"] = "A_CONFIRMED"
    payload["base"]["model"]["source"] = "tiny"  # random init: the pair is a stand-in
    for side, si in (("base", 0.5), ("instruct", 0.55), ("delta", 0.05)):
        payload[side]["controls"] = {**controls_block(0.5, None, 0.25, si=si),
                                     "head_permutation": null_block(
                                         si, 0.4, group_si=(si, 0.3),
                                         within_group_correlation=(None, None, "one head"))}
    payload["null_model"] = {"model": {"name": "random/tiny/mha"},
                             **controls_block(0.5, None, 0.1, si=0.9),
                             "head_permutation": null_block(0.9, 0.7)}
    written = summary.write_summary("embedded", [write_sealed(slot(folders, 0), payload)])
    row = written["rows"][0]
    assert (row["verdict"], row["verdict_seed_rule"], row["stand_in"]) == (
        "NOT_RESOLVED", "B_PARTIAL", True)
    line = summary.markdown_table([row]).splitlines()[2]
    # the dSI's seed null and the corrected rule before it, beside the verdict
    assert line.endswith("| no | [-0.2500, +0.1250] | NOT_RESOLVED | A_CONFIRMED | B_PARTIAL | "
                         "10 prompts, 1000 resamples | "
                         "random-init stand-in pair (tests the pipeline); SI down / correlation "
                         "up: not resolved, head variance down: not resolved |")
    assert summary.bootstrap_text([row]).endswith("paired, the same prompts for base and "
                                                  "instruct, for a delta): 10 prompts, 1000 "
                                                  "resamples, seed 0, 95%.")
    nulls = summary.permutation_markdown([row]).splitlines()
    assert nulls[2] == ("| E11 mha | GQA | SI (1 - mean head correlation) | "
                        "0.5000 (null [0.4500, 0.5500], p 0.400) | "
                        "0.5500 (null [0.5000, 0.6000], p 0.400) | "
                        "+0.0500 (null [+0.0000, +0.1000], p 0.400) | "
                        "0.9000 (null [0.8500, 0.9500], p 0.700) |  |")
    assert nulls[4] == ("| E11 mha | GQA | Within-group head correlation | n/a | n/a | n/a | n/a "
                        "| one head |")
    text = results.results_path("embedded", "summary").with_suffix(".md").read_text()
    assert "## SI against the head-permutation null" in text and nulls[2] in text
    assert "1000 permutations, seed 0, 95% interval." in text
    assert "Seed rule as executed: three point signs" in text
    assert summary.figure_title("embedded", [row]).startswith("Random-init stand-in pairs")
    assert summary.figure_title("embedded", [{**row, "stand_in": False}]).startswith(
        "Territorial collapse across pairs")
    old = pair_payload("old", 0.5, 0.05)  # saved before the null: no line, no failure
    old["base"]["controls"] = old["instruct"]["controls"] = old["delta"]["controls"] = (
        controls_block(0.5, None, 0.25))
    rows = summary.summary_rows("embedded", [write_sealed(slot(folders, 1), old)])
    assert rows[0]["controls"]["permutation"] == [] and summary.permutation_markdown(rows) == ""
