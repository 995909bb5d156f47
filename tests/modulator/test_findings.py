"""lib.modulator.findings: what the modulator runs show, from synthetic results payloads."""

from __future__ import annotations

import pytest
from payloads import modulator_payload

from lib import findings
from lib.modulator import findings as modulator_findings_module


@pytest.mark.parametrize("ci, verdict", [([-0.02, 0.12], "gains nothing"),
                                         ([0.01, 0.12], "gains"), ([-0.2, -0.01], "loses"),
                                         (None, "undefined")])
def test_the_modulator_gain_needs_an_interval_that_excludes_zero(ci, verdict) -> None:
    m = modulator_findings_module.modulator_findings(modulator_payload(ci))
    assert m["verdict"] == verdict and m["lift_ci"] == ci
    assert (m["alpha_test"], m["alpha_steps"]) == ("not testable", 40)
    lines = findings.findings_for(modulator_payload(ci), "modulator")
    assert "trained (§9) +5.0%" in lines[0] and lines[0].count(f": {verdict}") == 1
    assert "held-out pairs" in lines[0]
    if ci is not None:
        assert f"[{ci[0]:+.1%}, {ci[1]:+.1%}]: {verdict}" in lines[0]
        assert "1000 resamples over the evaluation lemmas, 95%" in lines[0]
    assert lines[1] == ("- minilm: alpha with depth is not testable in 40 steps (alphas moved "
                        "less than their noise).")


def test_every_modulator_and_the_anchor_effect_have_their_interval() -> None:
    payload = modulator_payload([-0.3, -0.03])
    payload["procrustes"] = {"evaluation": {"relational": {"sets": {"Procrustes": {
        "relative_lift_pearson": 0.0, "relative_lift_pearson_ci": [-0.004, 0.004],
        "n_boot": 200, "level": 0.95}}}}}
    arm = {"relative_lift_pearson": -0.003, "relative_lift_pearson_ci": [-0.007, 0.001]}
    payload["effects"] = {"anchor_evaluation": {"as_executed": arm, "corrected": arm | {
        "relative_lift_pearson_ci": [0.001, 0.01]}}}
    m = modulator_findings_module.modulator_findings(payload)
    assert [(x["label"], x["verdict"]) for x in m["modulators"]] == [
        ("Procrustes (§8, alpha 0.01)", "gains nothing"), ("trained (§9)", "loses")]
    effect = m["anchor_effect"]
    assert (effect["as_executed"]["verdict"], effect["corrected"]["verdict"]) == (
        "gains nothing", "gains")
    lines = findings.findings_for(payload, "modulator")
    assert "Procrustes (§8, alpha 0.01) +0.0% [-0.4%, +0.4%]: gains nothing" in lines[0]
    assert lines[1].startswith("- minilm: B8, the §8 modulator scored on its own anchors")


def test_the_findings_attribute_the_anchor_effect_and_mark_a_lift_at_the_edge() -> None:
    """The notebook's findings: B8's Pearson effect as token sets + modulator, and a lift
    interval whose bound is within rounding of 0 called "at the edge", not "loses"."""
    def arm(r: float, orig: float, ci: list[float]) -> dict:
        return {"pearson": r, "original_pearson": orig, "relative_lift_pearson": r / orig - 1,
                "relative_lift_pearson_ci": ci, "n_boot": 200, "level": 0.95}

    payload = {"run": "minilm", "effects": {"anchor_evaluation": {
        "as_executed": arm(0.2370, 0.2380, [-0.0073, -4e-6]),
        "corrected": arm(0.2228, 0.2234, [-0.0081, 0.0017])}}}
    lines = findings.findings_for(payload, "modulator")
    b8 = next(x for x in lines if "B8" in x)  # the line names the seed's defect
    assert ("Pearson 0.2370 vs 0.2228 (+0.0142) = the token sets +0.0146 (the unmodulated "
            "encoder's 0.2380 vs 0.2234) + the modulator's lift -0.0004") in b8
    assert "[-0.7%, -0.0%]: at the edge: a bound within the processors' rounding of 0" in b8
    assert "loses" not in b8 and b8.endswith("gains nothing.")
    assert any(x.startswith('- minilm: "at the edge": an interval bound within 0.0001 of 0')
               for x in lines)
