"""The attention line's sections of REPORT.md and keys of report.json (lib.attention.report):
comparisons across entropy modes, each pair's controls and verdicts, each E08 SI against its
null, the calibration of the collapse rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from payloads import fitted, fitted_block
from sealed import write_sealed

from lib.attention import calibration, report
from lib.attention.layout import LadderModelBlock
from lib.attention.verdicts import COLLAPSE_RULES

MISMATCH = {"this_run": "padded", "reference": "masked", "reference_run": "E11_tiny-mha"}


def pair_row(label: str, kind: str, **keys) -> dict:
    """A row of summary.json (`lib.attention.summary.summary_rows`' keys)."""
    return {"label": label, "result": f"results/embedded/{label.replace(' ', '_')}.json",
            "kind": kind, "base_si": 0.9, "base_ci": [0.8, 1.0], "instruct_si": 0.9,
            "instruct_ci": [0.8, 1.0], "delta_si": 0.0, "delta_ci": [-0.1, 0.1],
            "delta_ci_excludes_zero": False, "verdict": "C_REFUTED", "verdict_reason": "",
            "mode_mismatch": [], **keys}


def details(rows: list[dict], results: dict | None = None) -> str:
    return "\n".join(report.details(results or {}, {"summary": {"rows": rows}}))


def test_comparisons_across_entropy_modes_in_the_report_and_its_json() -> None:
    row = pair_row("E11-T tiny-gqa", "GQA", instruct_si=None, instruct_ci=None, delta_si=None,
                   delta_ci=[None, None], mode_mismatch=[MISMATCH])
    line = ("- E11-T tiny-gqa (results/embedded/E11-T_tiny-gqa.json): entropy modes differ: "
            "padded vs masked (E11_tiny-mha)")
    text = details([row])
    assert "## Comparisons across entropy modes" in text and line in text
    assert "| E11-T tiny-gqa | GQA | 0.9000 [0.8000, 1.0000] | n/a [n/a, n/a] |" in text
    assert report.report_json({}, {"summary": {"rows": [row]}})["mode_mismatches"] == [line]
    assert "across entropy modes" not in details([{**row, "mode_mismatch": []}])


def test_each_pairs_controls() -> None:
    sink = {"point": 0.25, "low": 0.2, "high": 0.3, "reason": None}
    undefined = {"point": None, "low": None, "high": None, "reason": "one KV group (MQA)"}
    row = pair_row("E11 tiny-mqa", "MQA", controls={"num_kv_heads": 1, "figures": [
        {"control": "Group SI (among KV groups)", "base": undefined, "instruct": undefined,
         "delta": undefined},
        {"control": "Attention-sink share (first token)", "base": sink, "instruct": sink,
         "delta": {**sink, "point": 0.0, "low": -0.01, "high": 0.01},
         "null": {**sink, "point": 0.125, "low": 0.1, "high": 0.15}}]})
    text = details([row])
    assert "### Architecture controls of each pair" in text
    assert ("| E11 tiny-mqa | MQA | 1 | Group SI (among KV groups) | n/a | n/a | n/a | n/a | "
            "one KV group (MQA) |") in text  # a figure without a null side: n/a there
    assert ("| E11 tiny-mqa | MQA | 1 | Attention-sink share (first token) | "
            "0.2500 [0.2000, 0.3000] | 0.2500 [0.2000, 0.3000] | +0.0000 [-0.0100, +0.0100] | "
            "0.1250 [0.1000, 0.1500] |" in text)
    # a summary written before the controls: no section
    assert "Architecture controls" not in details([{**row, "controls": None}])


def test_both_collapse_rules_and_how_the_intervals_were_made() -> None:
    row = pair_row("E11 tiny-mha", "MHA", verdict="NOT_RESOLVED", verdict_seed_rule="C_REFUTED",
                   stand_in=True, bootstrap={"n_prompts": 10, "n_boot": 1000, "seed": 0,
                                             "ci": 0.95})
    text = details([row])
    assert "| no | n/a | NOT_RESOLVED | - | C_REFUTED | 10 prompts, 1000 resamples |" in text
    assert "Intervals: percentile bootstrap over prompts" in text
    assert COLLAPSE_RULES in text and COLLAPSE_RULES.startswith(
        "Verdict (corrected): two independent signs")
    assert details([]) == ""  # no pairs: no section


def test_each_e08_si_against_the_permutation_null() -> None:
    def model(name: str, source: str, si: float, p: float | None) -> dict:
        null = {"point": si, "null_mean": 0.45, "low": 0.4, "high": 0.5, "p": p, "reason": None}
        return fitted_block(LadderModelBlock, {
                "display": name, "specialization_index": si, "si_ci": [si - 0.05, si + 0.05],
                "model": {"name": name, "source": source,
                          "architecture": {"attention_kind": "MHA"}},
                "controls": {"head_permutation": {"n_permutations": 1000, "seed": 0, "ci": 0.95,
                                                  "si": null}}})

    payload = fitted({"experiment": "E08", "methodology": {"num_prompts": 10,
                                                           "bootstrap": {"n": 1000, "ci": 0.95}},
                      "models": {"a": model("MiniLM", "embedded", 0.47, 0.667),
                                 "b": model("tiny Phi", "tiny", 0.87, None)}})  # fits E08Result
    text = details([], {"embedded/E08_x": payload})
    assert "## E08: each model's SI against the head-permutation null" in text
    assert ("| embedded/E08_x | MiniLM | MHA | 0.4700 [0.4200, 0.5200] | "
            "0.4500 [0.4000, 0.5000] | 0.667 | 10 prompts, 1000 resamples, percentile 95% | "
            "real |") in text
    assert ("| embedded/E08_x | tiny Phi | MHA | 0.8700 [0.8200, 0.9200] | n/a | n/a | "
            "10 prompts, 1000 resamples, percentile 95% | random-init stand-in (tests the "
            "pipeline) |") in text
    assert "shuffled independently for a delta" not in text  # E08 has no pair
    assert "1000 permutations, seed 0, 95% interval." in text
    assert "E08: each model" not in details([])
    overview = "\n".join(report.overview({"embedded/E08_x": payload}, {}))
    assert "## E08 ladder (embedded)" in overview
    assert ("| MiniLM | - | MHA | 0.4700 [0.4200, 0.5200] | [0.4000, 0.5000], p = 0.667 | "
            "10 prompts, 1000 resamples |") in overview


def test_the_calibration_of_the_collapse_rules(tmp_path: Path) -> None:
    """calibration.json (rule -> null pairs, false-positive rate, power) as a table in the
    report, with its figure, and its rules in report.json."""
    rng = np.random.default_rng(0)
    per_prompt = 0.5 + rng.normal(0, 0.05, (6, 1, 4, 6)) + rng.normal(0, 0.01, (6, 5, 4, 6))
    block = calibration.calibrate(per_prompt, 100, 0, 0.95, fractions=(0.9,))
    seed_null = write_sealed(tmp_path / "embedded/seed_null/E11_tiny-mha.json",
                             {"run": "E11_tiny-mha", "architecture": "random/tiny/mistral-mha",
                              "protocol": {"entropy_mode": "masked"}, "n_models": 6,
                              "reduction": "none", "calibration": block})
    merged = calibration.merge("embedded", [seed_null])
    text = "\n".join(report.overview({}, {"calibration": merged}))
    assert "## Calibration of the collapse rules on null pairs" in text
    assert "![calibration](../figures/embedded/calibration.png)" in text
    for rule, r in merged["rules"].items():
        assert f"- `{rule}` ({r['what']}): {r['n_null_pairs']} null pairs" in text
    assert report.report_json({}, {"calibration": merged})["calibration"] == merged["rules"]
    assert report.report_json({}, {}) == {"mode_mismatches": [], "calibration": None}
