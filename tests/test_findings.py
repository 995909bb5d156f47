"""lib.findings: what the embedded runs show, computed from synthetic results payloads."""

from __future__ import annotations

import pytest

from lib import findings
from lib.models.embedded import EMBEDDED


def _model(name: str, source: str, si: float, low: float = 0.4, high: float = 0.5,
           init: float | None = None, p: float = 0.4) -> dict:
    test = {"point": si, "null_mean": (low + high) / 2, "excess": si - (low + high) / 2,
            "null_std": (high - low) / 4, "low": low, "high": high, "p": p}
    return {"display": name, "specialization_index": si, "si_ci": [si - 0.02, si + 0.02],
            "model": {"name": name, "source": source,
                      "architecture": {"attention_kind": "MHA"}},
            "controls": {"head_permutation": {"si": test, "depth_share": 0.6}},
            "null_model": ({"init_seeds": {
                "architecture": f"random/{name}", "reduction": "none",
                "si_against_init": {"point": si, "n": 5, "init_mean": init, "init_sd": 0.02,
                                    "low": init - 0.03, "high": init + 0.03,
                                    "outside": True, "excess_sd": (si - init) / 0.02,
                                    "reason": None}}} if init is not None else None)}


def _ladder() -> dict:
    return {"experiment": "E08", "models": {
        "a": _model("MiniLM", "embedded", 0.47, init=0.91),
        "b": _model("SmolLM2", "embedded", 0.30, low=0.6, high=0.7, init=0.95, p=0.001),
        "c": _model("tiny Phi", "tiny", 0.88)}}


def test_each_si_against_its_null_and_its_own_initialization() -> None:
    """Every model's SI against its head-permutation null, in words; each real model against
    its own architecture's init seeds, model by model; stand-ins only against their null."""
    si = findings.si_findings({"embedded/E08_x": _ladder()})
    against_null = si["against_null"]
    assert len(against_null) == 3 and "tiny Phi (random-init stand-in)" in against_null[2]
    assert against_null[0].startswith("- MiniLM: SI 0.470, null mean 0.450 (excess +0.020")
    assert "a typical draw of its null" in against_null[0] and "not by which head" in \
        against_null[0]
    assert "outside its null" in against_null[1]  # SmolLM2, p = 0.001
    assert [line.split(":")[0] for line in si["against_init"]] == ["- MiniLM", "- SmolLM2"]
    assert "vs 5 init seeds of its own architecture (random/MiniLM" in si["against_init"][0]
    lines = findings.findings_for(_ladder(), "E08")
    assert lines == [*si["beyond_null"], *against_null, *si["against_init"]]


def test_a_model_measured_in_two_runs_is_counted_once() -> None:
    pair = {"experiment": "E11", "run": "tiny-mha",
            "base": _model("tiny base", "tiny", 0.9), "instruct": _model("tiny inst", "tiny", 0.8),
            "null_model": None}
    again = {**pair, "run": "tiny-mha-again"}
    si = findings.si_findings({"embedded/E11_a": pair, "embedded/E11_b": again})
    assert len(si["against_null"]) == 2 and si["against_init"] == []  # stand-ins: no init line


def _modulator(ci: list[float] | None, verdict: str = "not testable") -> dict:
    trained = {"relative_lift_pearson": 0.05, "n_boot": 1000, "level": 0.95}
    if ci is not None:
        trained["relative_lift_pearson_ci"] = ci
    return {"experiment": "modulator", "run": "minilm",
            "model": {"name": "embedded/all-minilm-l6-v2"},
            "section9": {"evaluation": {"relational": {
                "sets": {"Trained": trained}, "pairs": {"eval_disjoint_from_anchors": True}}},
                "train": {"alpha_test": {"verdict": verdict, "steps": 40,
                                         "reason": "alphas moved less than their noise"}}}}


@pytest.mark.parametrize("ci, verdict", [([-0.02, 0.12], "gains nothing"),
                                         ([0.01, 0.12], "gains"), ([-0.2, -0.01], "loses"),
                                         (None, "undefined")])
def test_the_modulator_gain_needs_an_interval_that_excludes_zero(ci, verdict) -> None:
    m = findings.modulator_findings(_modulator(ci))
    assert m["verdict"] == verdict and m["lift_ci"] == ci
    assert (m["alpha_test"], m["alpha_steps"]) == ("not testable", 40)
    lines = findings.findings_for(_modulator(ci), "modulator")
    assert "trained (§9) +5.0%" in lines[0] and lines[0].count(f": {verdict}") == 1
    assert "held-out pairs" in lines[0]
    if ci is not None:
        assert f"[{ci[0]:+.1%}, {ci[1]:+.1%}]: {verdict}" in lines[0]
        assert "1000 resamples over the evaluation lemmas, 95%" in lines[0]
    assert lines[1] == ("- minilm: alpha with depth is not testable in 40 steps (alphas moved "
                        "less than their noise).")


def test_findings_of_all_embedded_results() -> None:
    tiny = _modulator([0.1, 0.2]) | {"model": {"name": "tiny/t5"}}
    results = {"embedded/E08_x": _ladder(), "embedded/modulator_minilm": _modulator([-0.1, 0.2]),
               "embedded/modulator_tiny-t5": tiny, "paper/E08_y": _ladder()}
    f = findings.findings(results)
    assert list(f["modulator"]) == ["embedded/modulator_minilm"]  # the stand-in claims nothing
    assert f["modulator"]["embedded/modulator_minilm"]["verdict"] == "gains nothing"
    assert len(f["si"]["against_init"]) == 2  # the paper result is not an embedded run
    assert f["bands"] == [] and f["indistinguishable"] == []
    lines = findings.findings_lines(results)
    assert any("gains nothing" in x for x in lines)
    assert findings.findings_lines({}) == ["- No embedded run has been made yet "
                                           "(`make reproduce`)."]


def test_band_checks_and_indistinguishable_claims_of_a_terrain_result() -> None:
    from lib.claims import CLAIMS

    band = next(c for c in CLAIMS if c.band is not None and c.result.startswith("embedded/"))
    assert band.baseline is not None and band.baseline.kind == "reference"
    lo, hi = band.band
    payload: dict = {"profile": "embedded", "run": band.result.split("_", 1)[1]}
    node = payload
    for key in band.field[:-1]:
        node = node.setdefault(key, {})
    node[band.field[-1]] = (lo + hi) / 2
    base = payload
    for key in band.baseline.field[:-1]:
        base = base.setdefault(key, {})
    base[band.baseline.field[-1]] = {"reference_cv": (lo + hi) / 2, "distinguishable": False,
                                     "difference_ci": [-0.01, 0.01], "n_boot": 100,
                                     "level": 0.95}
    f = findings.findings({band.result: payload})
    hit = next(b for b in f["bands"] if b["id"] == band.id)
    assert hit["status"] == "in band"
    assert band.id in [x["id"] for x in f["indistinguishable"]]
    lines = findings.findings_for(payload, "terrain")
    assert any(x.startswith(f"- {band.statement}: ") and "(in band" in x for x in lines)
    assert any("indistinguishable from its reference" in x for x in lines)
    node[band.field[-1]] = hi + 1.0
    f = findings.findings({band.result: payload})
    assert next(b for b in f["bands"] if b["id"] == band.id)["status"] == "outside band"


def test_what_the_embedded_runs_cannot_show() -> None:
    lines = findings.cannot_show_lines()
    gguf = [n.split("/", 1)[1] for n, s in EMBEDDED.items() if s.kind == "gguf"]
    assert gguf and all(name in lines[1] for name in gguf)
    assert "dequantized 4-bit GGUF" in lines[1] and "quantization grid" in lines[1]
    assert "test the machinery only" in lines[0] and "GPU runs" in lines[2]


def test_every_modulator_and_the_b8_effect_have_their_interval() -> None:
    payload = _modulator([-0.3, -0.03])
    payload["section8"] = {"evaluation": {"relational": {"sets": {"Procrustes": {
        "relative_lift_pearson": 0.0, "relative_lift_pearson_ci": [-0.004, 0.004],
        "n_boot": 200, "level": 0.95}}}}}
    arm = {"relative_lift_pearson": -0.003, "relative_lift_pearson_ci": [-0.007, 0.001]}
    payload["effects"] = {"B8": {"as_executed": arm, "corrected": arm | {
        "relative_lift_pearson_ci": [0.001, 0.01]}}}
    m = findings.modulator_findings(payload)
    assert [(x["label"], x["verdict"]) for x in m["modulators"]] == [
        ("Procrustes (§8, alpha 0.01)", "gains nothing"), ("trained (§9)", "loses")]
    assert (m["b8"]["as_executed"]["verdict"], m["b8"]["corrected"]["verdict"]) == (
        "gains nothing", "gains")
    lines = findings.findings_for(payload, "modulator")
    assert "Procrustes (§8, alpha 0.01) +0.0% [-0.4%, +0.4%]: gains nothing" in lines[0]
    assert lines[1].startswith("- minilm: B8, the §8 modulator scored on its own anchors")
