"""Verdict rules at and around their thresholds (lib.attention.verdicts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lib.attention import verdicts
from lib.attention.multiplicity import holm
from lib.attention.verdicts import (
    architecture_invariance,
    falcon40b_pattern,
    heritage,
    territorial_collapse,
)
from lib.claims import published


def metrics(si, corr, var):
    return {"specialization_index": si, "mean_head_correlation": corr, "mean_head_variance": var}


BASE = metrics(0.5, 0.5, 0.01)


@pytest.mark.parametrize(
    ("instruct", "code", "count"),
    [
        (metrics(0.4, 0.6, 0.005), "A_CONFIRMED", 3),
        (metrics(0.4, 0.6, 0.02), "A_CONFIRMED", 2),
        (metrics(0.4, 0.4, 0.02), "B_PARTIAL", 1),
        (metrics(0.6, 0.4, 0.02), "C_REFUTED", 0),
        (metrics(0.5, 0.5, 0.01), "C_REFUTED", 0),  # no change is not a decrease / increase
    ],
)
def test_seed_rule_as_executed_counts_three_point_signs(instruct, code, count):
    v = territorial_collapse(BASE, instruct)
    seed = v.as_executed
    assert seed["code"] == code and seed["values"] == {"criteria_met": count, "signs": 3}
    assert v.values["delta_specialization"] == pytest.approx(instruct["specialization_index"] - 0.5)
    assert set(seed["criteria"]) == {
        "specialization_decreased",
        "correlation_increased",
        "variance_decreased",
    }
    assert v.as_dict()["as_executed"]["code"] == code
    # without intervals no sign is resolved: the corrected verdict says so
    assert v.code == verdicts.NOT_RESOLVED and v.values["criteria_met"] == 0
    assert set(v.values["sign_status"].values()) == {verdicts.SIGN_UNRESOLVED}


SI_DOWN, SI_UP, SI_ZERO = (-0.08, -0.02), (0.02, 0.08), (-0.03, 0.05)
VAR_DOWN, VAR_UP, VAR_ZERO = (-2e-3, -1e-4), (1e-4, 2e-3), (-1e-3, 1e-3)
# a narrow seed null: the init seeds barely differ, so every delta below lies outside it
NARROW = {"specialization_index": {"values": [0.5, 0.501, 0.499, 0.5005], "scale": "identity"},
          "mean_head_variance": {"values": list(map(math.log, [0.01, 0.0101, 0.0099, 0.01005])),
                                 "scale": "log"}}
WIDE = {"specialization_index": {"values": [0.2, 0.5, 0.8, 0.6], "scale": "identity"},
        "mean_head_variance": {"values": list(map(math.log, [0.002, 0.01, 0.05, 0.02])),
                               "scale": "log"}}


@pytest.mark.parametrize(
    ("si_ci", "var_ci", "d_si", "var", "code", "met", "statuses"),
    [
        (SI_DOWN, VAR_DOWN, -0.05, 0.005, "A_CONFIRMED", 2, ("collapse", "collapse")),
        (SI_DOWN, VAR_ZERO, -0.05, 0.01, "B_PARTIAL", 1, ("collapse", "not resolved")),
        (SI_ZERO, VAR_DOWN, -0.05, 0.005, "B_PARTIAL", 1, ("not resolved", "collapse")),
        (SI_DOWN, VAR_UP, -0.05, 0.02, "B_PARTIAL", 1, ("collapse", "against collapse")),
        (SI_UP, VAR_ZERO, 0.05, 0.01, "C_REFUTED", 0, ("against collapse", "not resolved")),
        (SI_UP, VAR_UP, 0.05, 0.02, "C_REFUTED", 0, ("against collapse", "against collapse")),
        (SI_ZERO, VAR_ZERO, -0.05, 0.005, "NOT_RESOLVED", 0, ("not resolved", "not resolved")),
        ((0.0, 0.05), VAR_ZERO, 0.05, 0.01, "NOT_RESOLVED", 0,
         ("not resolved", "not resolved")),  # 0 is in
        ((math.nan, 0.01), None, -0.05, 0.005, "NOT_RESOLVED", 0,
         ("not resolved", "not resolved")),
    ],
)
def test_corrected_rule_counts_a_sign_only_when_its_interval_excludes_zero(
        si_ci, var_ci, d_si, var, code, met, statuses):
    # every delta lies outside the narrow seed null: the intervals decide
    v = territorial_collapse(BASE, metrics(0.5 + d_si, 0.5 - d_si, var), intervals={
        "specialization_index": si_ci, "mean_head_variance": var_ci}, seed_null=NARROW)
    assert all(v.values["seed_null"][m]["outside"] for m in ("specialization_index",
                                                              "mean_head_variance")
               if v.values["seed_null"][m]["delta"] != 0)
    assert v.as_executed["values"]["signs"] == 3
    assert (v.code, v.values["criteria_met"], v.values["signs"]) == (code, met, 2)
    assert tuple(v.values["sign_status"].values()) == statuses
    assert list(v.values["sign_status"]) == ["SI down / correlation up", "head variance down"]
    assert v.criteria == {"specialization_decreased": statuses[0] == "collapse",
                          "variance_decreased": statuses[1] == "collapse"}


def test_a_delta_inside_its_seed_null_is_not_resolved_whatever_the_bootstrap() -> None:
    # two checkpoints 'differ' by the prompt bootstrap; the init seeds differ more
    instruct = metrics(0.45, 0.55, 0.005)
    intervals = {"specialization_index": SI_DOWN, "mean_head_variance": VAR_DOWN}
    wide = territorial_collapse(BASE, instruct, intervals=intervals, seed_null=WIDE)
    assert wide.code == verdicts.NOT_RESOLVED and wide.values["bootstrap_only"] == "A_CONFIRMED"
    assert not wide.values["seed_null"]["specialization_index"]["outside"]
    narrow = territorial_collapse(BASE, instruct, intervals=intervals, seed_null=NARROW)
    assert narrow.code == "A_CONFIRMED"
    assert wide.as_executed == narrow.as_executed  # the seed rule as executed never changes


def test_dsi_and_d_correlation_count_once() -> None:
    # SI down and correlation up are one fact: a clear dSI < 0 alone is 1 of 2 signs (corrected),
    # while the seed rule counts it twice and says A_CONFIRMED
    v = territorial_collapse(BASE, metrics(0.4, 0.6, 0.02), intervals={
        "specialization_index": SI_DOWN, "mean_head_variance": VAR_UP}, seed_null=NARROW)
    assert v.as_executed["code"] == "A_CONFIRMED" and v.as_executed["values"]["criteria_met"] == 2
    assert v.code == "B_PARTIAL" and v.values["criteria_met"] == 1
    assert "correlation_increased" not in v.criteria


def test_describe_collapse_says_which_sign_is_not_resolved() -> None:
    from lib.attention.tables import describe_collapse

    v = territorial_collapse(BASE, metrics(0.45, 0.55, 0.005), intervals={
        "specialization_index": SI_ZERO, "mean_head_variance": VAR_DOWN}, seed_null=NARROW)
    corrected, bootstrap, seed = describe_collapse(v).splitlines()
    assert corrected.startswith(
        "B_PARTIAL (corrected: 1/2 independent signs resolved toward collapse; SI down / "
        "correlation up: not resolved (dSI 95% CI [-0.0300, +0.0500] includes 0; dSI -0.0500 "
        "outside its seed null 99.0% [")
    assert "head variance down: collapse (d variance 95% CI [-2.000e-03, -1.000e-04] " \
           "excludes 0; d log variance -0.693 outside its seed null" in corrected
    assert bootstrap.startswith("the prompt bootstrap alone would read B_PARTIAL")
    assert seed.startswith("seed rule as executed: A_CONFIRMED (3/3 point signs, dSI and "
                           "d correlation counted as two: specialization decreased True")


def test_mistral_reference_is_refuted():
    v = territorial_collapse(
        metrics(published("mistral7b.base_si"), published("mistral7b.base_corr"), 0.01),
        metrics(published("mistral7b.instruct_si"), published("mistral7b.instruct_corr"), 0.012))
    assert v.as_executed["code"] == published("mistral7b.verdict")


@pytest.mark.parametrize(
    ("args", "code", "same_si", "same_corr"),
    [
        ((0.03, -0.03, 0.01, -0.02), "ARCHITECTURE_INVARIANT", True, True),
        ((0.03, -0.03, -0.01, -0.02), "ARCHITECTURE_DEPENDENT", False, True),
        ((0.03, -0.03, 0.01, 0.02), "ARCHITECTURE_DEPENDENT", True, False),
        ((-0.03, 0.03, -0.01, 0.02), "ARCHITECTURE_INVARIANT", True, True),
        ((0.0, 0.0, -0.01, -0.02), "ARCHITECTURE_INVARIANT", True, True),  # 0 counts as not > 0
        ((0.0, 0.0, 0.01, 0.0), "ARCHITECTURE_DEPENDENT", False, True),
    ],
)
def test_architecture_invariance_seed_rule_as_executed(args, code, same_si, same_corr):
    v = architecture_invariance(*args)
    assert v.as_executed["code"] == code
    assert v.as_executed["criteria"] == {
        "same_direction_specialization": same_si,
        "same_direction_correlation": same_corr,
    }
    assert v.code == verdicts.NOT_RESOLVED  # no resolved direction given


@pytest.mark.parametrize(
    ("mha", "gqa", "code"),
    [
        ("against collapse", "against collapse", "ARCHITECTURE_INVARIANT"),
        ("collapse", "against collapse", "ARCHITECTURE_DEPENDENT"),
        ("against collapse", "not resolved", "NOT_RESOLVED"),  # E11-T tiny-gqa: CI straddles 0
        (None, "collapse", "NOT_RESOLVED"),  # a published reference: no resolved direction
    ],
)
def test_architecture_invariance_counts_the_resolved_direction_once(mha, gqa, code):
    v = architecture_invariance(0.03, -0.03, 0.037, -0.037, mha, gqa)
    assert v.code == code
    assert set(v.criteria) == {"same_direction_specialization"}  # d correlation not counted
    assert v.as_executed["code"] == "ARCHITECTURE_INVARIANT"  # the point signs agree


REF_SI, REF_DSI = 0.125, 0.0  # exactly representable references


@pytest.mark.parametrize(
    ("base_si", "base_corr", "delta_si", "code", "met"),
    [
        (0.125, 0.875, 0.0, "MQA_PATTERN_CONFIRMED", 3),
        (0.20, 0.875, 0.0, "MQA_PATTERN_CONFIRMED", 2),  # SI exactly 0.20 is not < 0.20
        (0.125, 0.80, 0.0, "MQA_PATTERN_CONFIRMED", 2),  # corr exactly 0.80 is not > 0.80
        (0.125, 0.875, 0.05, "MQA_PATTERN_CONFIRMED", 2),  # |dSI| 0.05 not stable, si consistent
        (0.20, 0.80, 0.0, "MQA_PATTERN_REFUTED", 1),
        (0.5, 0.875, 0.0, "MQA_PATTERN_CONFIRMED", 2),  # delta consistent although SI far
        (0.5, 0.875, 0.04, "MQA_PATTERN_CONFIRMED", 2),
    ],
)
def test_falcon40b_pattern_seed_rule_as_executed(base_si, base_corr, delta_si, code, met):
    v = falcon40b_pattern(base_si, base_corr, delta_si, REF_SI, REF_DSI)
    assert v.as_executed["code"] == code
    assert v.as_executed["values"]["criteria_met"] == met
    assert v.code == verdicts.NOT_RESOLVED  # without intervals nothing is resolved


def test_falcon40b_partial_and_consistency_thresholds():
    # criteria met (low SI, high corr) but neither consistency holds
    v = falcon40b_pattern(0.0, 0.9, 0.5, ref_base_si=0.25, ref_delta_si=0.0).as_executed
    assert v["code"] == "MQA_PATTERN_PARTIAL"
    criteria = v["criteria"]
    assert criteria["low_si"] and criteria["high_corr"] and not criteria["stable_delta"]

    def seed(*args):
        return falcon40b_pattern(*args).as_executed["criteria"]

    # |base - ref| exactly 0.10 is not < 0.10; just below is
    assert not seed(0.1, 0.9, 0.5, 0.0, 0.0)["si_consistent"]
    assert seed(0.0999, 0.9, 0.5, 0.0, 0.0)["si_consistent"]
    assert not seed(0.1, 0.9, 0.05, 0.0, 0.0)["delta_consistent"]
    assert seed(0.1, 0.9, 0.0499, 0.0, 0.0)["delta_consistent"]
    assert seed(0.1, 0.9, -0.0499, 0.0, 0.0)["stable_delta"]


@pytest.mark.parametrize(
    ("intervals", "code"),
    [
        ({"base_si": (0.10, 0.15), "delta_si": (-0.02, 0.03), "ref_base_si": (0.11, 0.13),
          "ref_delta_si": (0.0, 0.02)}, "MQA_PATTERN_CONFIRMED"),
        ({"base_si": (0.10, 0.15), "delta_si": (-0.02, 0.03), "ref_base_si": (0.40, 0.45),
          "ref_delta_si": (0.2, 0.3)}, "MQA_PATTERN_PARTIAL"),  # resolved inconsistent
        ({"base_si": (0.15, 0.25), "delta_si": (-0.02, 0.03), "ref_base_si": (0.11, 0.13),
          "ref_delta_si": (0.0, 0.02)}, "NOT_RESOLVED"),  # the SI interval straddles 0.20
        ({"base_si": (0.25, 0.35), "delta_si": (-0.02, 0.03), "ref_base_si": (0.11, 0.13),
          "ref_delta_si": (0.0, 0.02)}, "MQA_PATTERN_REFUTED"),
    ],
)
def test_falcon40b_pattern_corrected_reads_each_fact_on_its_interval(intervals, code):
    v = falcon40b_pattern(0.125, 0.875, 0.0, 0.12, 0.01, intervals=intervals)
    assert v.code == code
    assert "high_corr" not in v.criteria  # the correlation is the SI's mirror: not counted


def test_falcon7b_reference_values_confirm():
    si, corr, dsi = (published(f"falcon7b.{k}") for k in ("base_si", "base_corr", "delta_si"))
    v = falcon40b_pattern(si, corr, dsi, si, dsi)
    assert v.as_executed["code"] == "MQA_PATTERN_CONFIRMED"
    assert v.as_executed["values"]["criteria_met"] == 3


def test_heritage():
    phi3 = {"Phi-3-mini": published("phi3mini.si"), "Phi-3-medium": published("phi3medium.si")}
    confirmed = heritage({**phi3, "phi-1_5": 0.31, "phi-2": 0.35})
    assert confirmed.code == "HERITAGE_CONFIRMED" and confirmed.values["models_within"] == 4
    assert heritage({**phi3, "phi-1_5": 0.31}).code == "INCONCLUSIVE"  # 3 models only
    confound = heritage({**phi3, "phi-1_5": 0.5, "phi-2": 0.33})
    assert confound.code == "SIZE_CONFOUND_DETECTED" and not confound.criteria["phi-1_5"]
    failed = heritage({**phi3, "phi-1_5": None, "x": 0.33})  # None: a failed measurement
    assert failed.code == "INCONCLUSIVE" and failed.values["models_failed"] == 1
    assert heritage({}).code == "INCONCLUSIVE"


def test_heritage_band_is_inclusive():
    at = {f"m{i}": v for i, v in enumerate([0.25, 0.375, 0.125, 0.25])}
    assert heritage(at, target=0.25, tolerance=0.125).code == "HERITAGE_CONFIRMED"
    out = {**at, "m9": 0.375 + 2**-20}
    assert heritage(out, target=0.25, tolerance=0.125).code == "SIZE_CONFOUND_DETECTED"


def test_thresholds_are_module_constants():
    assert (verdicts.MQA_LOW_SI, verdicts.MQA_HIGH_CORR, verdicts.MQA_STABLE_DELTA) == (
        0.20,
        0.80,
        0.05,
    )
    assert (verdicts.HERITAGE_TARGET, verdicts.HERITAGE_TOLERANCE) == (0.33, 0.05)
    assert verdicts.HERITAGE_MIN_MODELS == 4 and verdicts.COLLAPSE_CONFIRMED_MIN == 2


def test_pre_collapsed_needs_two_of_three_criteria() -> None:
    from lib.attention.verdicts import pre_collapsed
    from lib.claims import CLAIMS_BY_ID

    def published(pair: str) -> tuple[float, float, float]:
        keys = ("base_si", "base_corr", "delta_si")
        return tuple(CLAIMS_BY_ID[f"{pair}.{k}"].value for k in keys)

    def seed(*args):
        return pre_collapsed(*args).as_executed

    assert seed(*published("falcon7b"))["code"] == CLAIMS_BY_ID["falcon7b.pattern"].value
    assert seed(*published("mistral7b"))["code"] == "NOT_PRE-COLLAPSED"
    one = seed(0.19, 0.79, 0.06)
    assert one["code"] == "NOT_PRE-COLLAPSED" and one["values"]["criteria_met"] == 1
    assert seed(0.20, 0.81, 0.049)["code"] == "PRE-COLLAPSED"  # 0.20 is not < 0.20
    assert seed(0.20, 0.80, 0.049)["values"]["criteria_met"] == 1


@pytest.mark.parametrize(
    ("si_ci", "dsi_ci", "code"),
    [
        ((0.10, 0.15), (-0.02, 0.03), "PRE-COLLAPSED"),
        ((0.15, 0.25), (-0.02, 0.03), "NOT_RESOLVED"),  # straddles 0.20
        ((0.25, 0.35), (-0.02, 0.03), "NOT_PRE-COLLAPSED"),
        ((0.10, 0.15), (-0.02, 0.08), "NOT_RESOLVED"),  # straddles +0.05
        ((0.10, 0.15), (0.06, 0.08), "NOT_PRE-COLLAPSED"),  # resolved unstable
        (None, None, "NOT_RESOLVED"),
    ],
)
def test_pre_collapsed_corrected_counts_two_facts_on_their_intervals(si_ci, dsi_ci, code):
    from lib.attention.verdicts import pre_collapsed

    v = pre_collapsed(0.12, 0.88, 0.0, si_ci, dsi_ci)
    assert v.code == code
    assert set(v.criteria) == {"low_si", "stable_delta"}  # correlation > 0.80 is SI < 0.20
    assert v.as_executed["code"] == "PRE-COLLAPSED"


def test_heritage_is_decided_within_one_family() -> None:
    from lib.attention.verdicts import NOT_TESTABLE, heritage_family

    ladder = {"MiniLM": {"si": 0.47, "si_ci": (0.44, 0.50), "family": "bert", "size_b": 0.02},
              "SmolLM2": {"si": 0.2, "si_ci": (0.18, 0.22), "family": "llama", "size_b": 0.13},
              "Gemma": {"si": 0.6, "si_ci": (0.5, 0.7), "family": "gemma3", "size_b": 0.27}}
    v = heritage_family(ladder)
    assert v.code == NOT_TESTABLE and "size within one family is not testable here" in \
        v.values["note"]
    assert heritage({k: m["si"] for k, m in ladder.items()}).code == "SIZE_CONFOUND_DETECTED"
    phi = {f"phi{k}": {"si": 0.33, "si_ci": ci, "family": "phi", "size_b": size}
           for k, (ci, size) in enumerate([((0.31, 0.35), 1.3), ((0.30, 0.36), 2.7),
                                           ((0.32, 0.34), 3.8), ((0.31, 0.35), 14.0)])}
    assert heritage_family(phi).code == "HERITAGE_CONFIRMED"
    outside = {**phi, "phi0": {**phi["phi0"], "si": 0.5, "si_ci": (0.45, 0.55)}}
    assert heritage_family(outside).code == "SIZE_CONFOUND_DETECTED"
    straddles = {**phi, "phi0": {**phi["phi0"], "si_ci": (0.25, 0.35)}}
    assert heritage_family(straddles).code == verdicts.NOT_RESOLVED
    published_only = {**phi, "phi3": {**phi["phi3"], "si_ci": None}}
    assert heritage_family(published_only).code == verdicts.NOT_RESOLVED


# --------------------------------------------------------------------------- undefined numbers

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("base", "instruct", "reason"),
    [
        # NaN correlation compares false both ways: the seeds' rule would say C_REFUTED (0 signs)
        (metrics(0.5, NAN, 0.01), metrics(0.6, 0.4, 0.02),
         "not finite: mean_head_correlation of base tiny/a is nan"),
        (BASE, metrics(NAN, 0.4, INF),
         "not finite: specialization_index of instruct tiny/b is nan; mean_head_variance of "
         "instruct tiny/b is inf"),
        (BASE, {"specialization_index": 0.4, "mean_head_correlation": 0.6},
         "not finite: mean_head_variance of instruct tiny/b is missing"),
    ],
)
def test_territorial_collapse_on_non_finite_metric_is_undefined(base, instruct, reason):
    v = territorial_collapse(base, instruct, ("base tiny/a", "instruct tiny/b"),
                             intervals={"specialization_index": SI_DOWN,
                                        "mean_head_variance": VAR_DOWN})
    assert v.code == verdicts.UNDEFINED and v.reason == reason and v.criteria == {}
    assert v.as_dict()["reason"] == reason
    assert v.as_executed["code"] == verdicts.UNDEFINED  # both rules: never a pattern verdict


def test_finite_verdicts_have_no_reason():
    assert territorial_collapse(BASE, metrics(0.6, 0.4, 0.02)).reason == ""


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("bad", [NAN, INF, -INF, None])
def test_architecture_invariance_on_non_finite_delta_is_undefined(position, bad):
    args = [0.03, -0.03, 0.01, -0.01]
    args[position] = bad
    v = architecture_invariance(*args)
    assert v.as_executed["code"] == "UNDEFINED"
    label = ["MHA reference dSI", "MHA reference d correlation", "GQA dSI",
             "GQA d correlation"][position]
    assert v.code == "UNDEFINED" and v.reason.startswith(f"not finite: {label} is ")


def test_pre_collapsed_and_falcon40b_pattern_on_non_finite_numbers():
    from lib.attention.verdicts import pre_collapsed

    # NaN base SI fails `< 0.20`, so the seed's rule would count only the other two criteria
    v = pre_collapsed(NAN, 0.9, 0.0)
    assert v.code == "UNDEFINED" and v.reason == "not finite: base SI is nan"
    assert v.as_executed["code"] == "UNDEFINED"
    v = falcon40b_pattern(0.1, 0.9, 0.0, 0.1, INF, reference="E11_tiny-mqa")
    assert v.code == "UNDEFINED" and v.reason == "not finite: dSI of E11_tiny-mqa is inf"
    v = falcon40b_pattern(0.1, 0.9, 0.0, None, 0.0, reference="E11_falcon-7b")
    assert v.reason == "not finite: base SI of E11_falcon-7b is missing"


def test_heritage_on_a_non_finite_si_is_undefined_naming_the_model():
    si = {"Phi-3-mini": published("phi3mini.si"), "Phi-3-medium": published("phi3medium.si"),
          "phi-1_5": 0.31, "phi-2": INF}
    v = heritage(si)  # Inf was counted as outside the band: SIZE_CONFOUND_DETECTED
    assert v.code == "UNDEFINED" and v.reason == "not finite: SI of phi-2 is inf"
    v = heritage({**si, "phi-2": NAN, "gone": None})
    assert v.code == "UNDEFINED" and "SI of phi-2 is nan" in v.reason
    assert "gone" not in v.reason and v.values["models_failed"] == 1


def test_is_finite():
    assert verdicts.is_finite(0.0) and verdicts.is_finite(3) and verdicts.is_finite(1e308)
    assert not any(verdicts.is_finite(x) for x in (NAN, INF, None, "nan", "0.5", [1.0]))


def test_seed_null_p_is_student_t_on_the_seeds_spread() -> None:
    values = [0.0, 1.0, 2.0]  # sd 1, 2 degrees of freedom
    half = stats.t.ppf(0.975, 2) * math.sqrt(2)
    assert verdicts.seed_null_p(half, values) == pytest.approx(0.05)
    assert verdicts.seed_null_interval(values, 0.95) == pytest.approx([-half, half])
    assert verdicts.seed_null_p(0.1, [1.0, 1.0]) is None  # two seeds: no null
    assert verdicts.seed_null_p(float("nan"), values) is None


def test_two_signs_are_one_holm_family() -> None:
    base = {"specialization_index": 0.5, "mean_head_correlation": 0.5,
            "mean_head_variance": 0.01}
    instruct = {"specialization_index": 0.3, "mean_head_correlation": 0.7,
                "mean_head_variance": 0.005}
    spread = {"specialization_index": {"values": [0.49, 0.5, 0.51, 0.5], "scale": "identity"},
              "mean_head_variance": {"values": list(np.log([0.01, 0.011, 0.009, 0.0101])),
                                     "scale": "log"}}
    v = verdicts.territorial_collapse(base, instruct, intervals={
        "specialization_index": (-0.3, -0.1), "mean_head_variance": (-0.008, -0.002)},
        seed_null=spread)
    null = v.values["seed_null"]
    assert v.code == "A_CONFIRMED"
    assert null["mean_head_variance"]["delta"] == pytest.approx(math.log(0.5))
    assert holm([null[m]["p"] for m in null]) == [null[m]["p_holm"] for m in null]
    assert sorted(null[m]["level"] for m in null) == pytest.approx(
        [1 - verdicts.SEED_NULL_ALPHA, 1 - verdicts.SEED_NULL_ALPHA / 2])
    # without a seed null no sign is resolved, whatever the bootstrap says
    alone = verdicts.territorial_collapse(base, instruct, intervals={
        "specialization_index": (-0.3, -0.1), "mean_head_variance": (-0.008, -0.002)})
    assert alone.code == verdicts.NOT_RESOLVED and alone.values["bootstrap_only"] == "A_CONFIRMED"

