"""The attention results in words (lib.attention.readings), on hand-made payloads."""

from __future__ import annotations

from lib.attention import readings


def _test(point: float, p: float, adjusted: float | None = None) -> dict:
    return {"point": point, "null_mean": point - 0.01, "null_std": 0.02, "excess": 0.01,
            "low": point - 0.05, "high": point + 0.03, "p": p, "p_adjusted": adjusted}


def _model(name: str, source: str, si: float, wgc: dict | None = None) -> dict:
    return {"specialization_index": si,
            "model": {"name": name, "source": source},
            "controls": {"head_permutation": {"si": _test(si, 0.6, 1.0), "depth_share": 0.6,
                                              **({"within_group_correlation": wgc}
                                                 if wgc else {})}}}


def _null(values: list[float], point: float, wgc: float | None = None) -> dict:
    low, high = min(values), max(values)
    return {"init_seeds": {"architecture": "random/x", "reduction": "none",
                           "si_against_init": {"point": point, "n": len(values),
                                               "init_mean": sum(values) / len(values),
                                               "init_sd": 0.02, "low": low, "high": high,
                                               "outside": not low <= point <= high,
                                               "excess_sd": -20.0, "reason": None}},
            "head_permutation": ({"within_group_correlation": {"point": wgc}} if wgc else {})}


RESULTS = {
    "embedded/E08_ladder": {"experiment": "E08", "run": "ladder", "models": {
        "embedded/smollm2": {**_model("embedded/smollm2", "embedded", 0.44,
                                      _test(0.696, 0.001, 0.007)),
                             "display": "SmolLM2", "null_model": _null([0.95, 1.0], 0.44, 0.046)},
        "tiny/phi": {**_model("tiny/phi", "tiny", 0.9), "display": "tiny Phi",
                     "null_model": _null([0.9, 1.0], 0.9)}},
        "verdict": {"code": "NOT_TESTABLE", "values": {"note": "one size each",
                                                       "typical_null_draws": ["SmolLM2"]},
                    "as_executed": {"code": "SIZE_CONFOUND_DETECTED"}},
        "multiplicity": {"what": "every test", "size": 7, "method_name": "Holm", "alpha": 0.05,
                         "rejected": ["SmolLM2: within_group_correlation"]}},
    "embedded/E11_a": {"experiment": "E11", "run": "a",
                       "base": _model("embedded/smollm2", "embedded", 0.44),  # counted once
                       "instruct": _model("tiny/b", "tiny", 0.5), "delta": {
                           "entropy_modes": {
                               "masked": {"protocol": True, "specialization_index": -0.2,
                                          "si_ci": [-0.3, -0.1], "verdict": "NOT_RESOLVED"},
                               "padded": {"protocol": False, "specialization_index": 0.04,
                                          "si_ci": [-0.1, 0.15], "verdict": "NOT_RESOLVED"}},
                           "seed_null": {"reason": None, "alpha": 0.01}}},
}


def test_every_model_once_with_its_null_in_words() -> None:
    names = [block["model"]["name"] for _, block, _ in readings.models(RESULTS)]
    assert names == ["embedded/smollm2", "tiny/phi", "tiny/b"]
    lines = readings.null_lines(RESULTS)
    assert len(lines) == 3 and all("a typical draw" in line for line in lines)
    assert "(random-init stand-in)" in lines[1] and "(random-init stand-in)" not in lines[0]
    assert "layer means explain 60% of the entropy variance" in lines[0]


def test_init_pair_by_pair_without_stand_ins() -> None:
    lines = readings.init_lines(RESULTS)
    assert len(lines) == 1 and lines[0].startswith("- SmolLM2: SI 0.440 vs 2 init seeds")
    assert "outside the range" in lines[0]


def test_the_findings_beyond_their_null_after_holm() -> None:
    lines = readings.beyond_null_lines(RESULTS)
    assert len(lines) == 1 and "SmolLM2" in lines[0] and "0.696" in lines[0]
    assert "Holm 0.007" in lines[0] and "0.046 at initialization" in lines[0]
    assert readings.beyond_null_lines(RESULTS, alpha=0.005) == []


def test_modes_ladder_and_families_in_words() -> None:
    (mode,) = readings.mode_lines(RESULTS)
    assert "masked (the protocol): dSI -0.200 [-0.300, -0.100]" in mode
    assert "padded: dSI +0.040" in mode
    ladder = readings.ladder_lines(RESULTS["embedded/E08_ladder"])
    assert ladder[0] == ("- E08 ladder: NOT_TESTABLE (one size each); the seed rule as executed "
                         "reads SIZE_CONFOUND_DETECTED at point values.")
    families = readings.multiplicity_lines(RESULTS)
    assert families[0].startswith("- embedded/E08_ladder: every test: 7 tests, Holm, 5%")
    assert "Holm at 1% family-wise" in families[1]
    assert "[0, 2]" in readings.SI_RANGE
