"""lib.terrain.report: the embedded terrain runs' table in REPORT.md and the baseline rule, read
through the results layout."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from lib.checks import fmt
from lib.terrain import report
from lib.terrain.nulls import seed_spread

ISOTROPIC = "isotropic Gaussian, sigma = global std of E"
PER_DIMENSION = "per-dimension Gaussian, sigma_j = std of dimension j"


def _run(payload: dict[str, Any], name: str, reference: str, wordnet: bool) -> dict[str, Any]:
    """`payload` as run `name`: a known PR/dim and its seeds, a volume CV and its reference, and
    the WordNet section's confound (0.31 on 2,000 noun pairs, 60% through the fake root)."""
    out = copy.deepcopy(payload)
    out["run"] = name
    emb = out["embedding"]
    emb["spectrum"]["pr_over_dim"] = 0.5
    emb["init_spread"]["quantities"]["spectrum/pr_over_dim"] = seed_spread(
        [0.98, 0.99, 0.985, 0.987, 0.983], list(range(5)))
    emb["pentachora"] |= {"cv": 0.3, "reference_cv": 0.07, "reference": reference}
    if wordnet:
        out["wordnet"]["baselines"]["noun_only"] |= {"pearson": 0.31, "n_pairs": 2000}
        out["wordnet"]["effects"]["fake_root"]["fake_root_share"] = 0.6
    else:
        out["wordnet"] = None
        out["headline"] = {k: v for k, v in out["headline"].items()
                           if k not in ("matched", "static_pearson", "encoder_pearson",
                                        "static_spearman", "encoder_spearman", "lift_pearson",
                                        "lift_spearman", "gradient_static", "gradient_encoder",
                                        "stability_ci", "stability_bootstrap_ci",
                                        "baseline_tfidf_pearson")}
    return out


def test_the_table_shows_the_confound_and_names_each_reference(
        terrain_payload: dict[str, Any]) -> None:
    a = _run(terrain_payload, "a", ISOTROPIC, wordnet=True)
    lines = report.terrain_lines({
        "embedded/terrain_a": a,
        "embedded/terrain_b": _run(terrain_payload, "b", PER_DIMENSION, wordnet=False),
        "paper/terrain_c": _run(terrain_payload, "c", ISOTROPIC, wordnet=True)})
    head = next(x for x in lines if x.startswith("| run |"))
    assert "| encoder Pearson, noun pairs only | pairs through the fake root |" in head
    row_a = next(x for x in lines if x.startswith("| a |"))
    row_b = next(x for x in lines if x.startswith("| b |"))
    assert not any(x.startswith("| c |") for x in lines)  # the embedded runs only
    assert "| 0.31 (2,000 pairs) | 60% |" in row_a and "| - | - |" in row_b
    assert "0.3 (isotropic reference 0.07)" in row_a
    assert "0.3 (per-dimension reference 0.07)" in row_b
    assert "0.5 (init 0.985, 5 seeds)" in row_a
    assert row_a.count("|") == head.count("|") == row_b.count("|")
    h = a["headline"]
    assert (f"| {h['matched']} | {fmt(h['static_pearson'])} → {fmt(h['encoder_pearson'])} "
            f"({fmt(h['lift_pearson'], signed=True)}) |") in row_a
    lo, hi = a["wordnet"]["stability"]["synset_bootstrap"]["enc_pearson"]["ci"]
    assert f"| [{lo:.4f}, {hi:.4f}] (20 resamples, 95%) |" in row_a
    q = h["q_sparsity"]["self_attn_q"]
    assert row_a.endswith(f"| {q:.1%} (init {h['init_q_sparsity']['self_attn_q']:.1%}) |")
    assert row_b.startswith(f"| b | {a['model']['name']} | - | - | - | - | - | - | - | - |")


def test_an_initialization_run_sets_no_initialization_beside_itself(
        terrain_payload: dict[str, Any]) -> None:
    run = copy.deepcopy(terrain_payload)
    run["headline"]["weights_measured"] = "initialization"
    row = report.terrain_lines({"embedded/terrain_x": run})[-1]
    assert row.endswith(f"| {run['headline']['q_sparsity']['self_attn_q']:.1%} |")


def test_no_embedded_terrain_run_no_section(terrain_payload: dict[str, Any]) -> None:
    assert report.terrain_lines({}) == []
    assert report.terrain_lines({"paper/terrain_x": terrain_payload}) == []


def test_a_payload_that_does_not_fit_the_layout_is_refused(
        terrain_payload: dict[str, Any]) -> None:
    """The report refuses such a file before it renders (lib.report); read alone, it fails
    naming the key, never half-rendered."""
    bad = copy.deepcopy(terrain_payload)
    del bad["wordnet"]["effects"]["fake_root"]
    with pytest.raises(ValidationError, match=r"wordnet\.effects\.fake_root"):
        report.terrain_lines({"embedded/terrain_x": bad})


def test_the_baseline_rule_pools_the_false_positives_of_every_spread(
        terrain_payload: dict[str, Any]) -> None:
    fp = [terrain_payload[s]["init_spread"]["false_positive"] for s in ("weights", "embedding")]
    trials, outside = sum(f["trials"] for f in fp), sum(f["outside"] for f in fp)
    assert trials > 0
    other = {"experiment": "E11", "weights": {"init_spread": {"false_positive": {
        "trials": 1000, "outside": 1000}}}}  # another line's keys count for nothing
    line = report.baseline_rule_line({"embedded/terrain_x": terrain_payload,
                                      "embedded/E11_x": other})
    assert (f"over every spread of these runs: {outside} of {trials} "
            f"({outside / trials:.1%}).") in line
    assert "over every spread" not in report.baseline_rule_line({})
    assert report.claims_notes({}) == [report.baseline_rule_line({}), ""]
