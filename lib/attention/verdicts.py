"""Verdict rules of the E11, E11-T, Falcon-40B and E08 experiments (SPEC §1), as pure functions.

Each returns a `Verdict`: the code, the criteria booleans and the numbers they were decided on.
Comparisons are exactly the seeds' (strict < and >, except the E08 band, which is inclusive).
A number a rule needs that is not finite (NaN/Inf, or missing: None) gives the code `UNDEFINED`
and a `reason` naming it, never a pattern verdict: NaN compares false both ways, so the seeds'
rules would read it as "no collapse" (C_REFUTED).

Territorial collapse is decided twice, and both are kept (`Verdict.as_executed`):

- **the seed rule, as executed**: the count of three point signs (dSI < 0, d correlation > 0,
  d variance < 0), >= 2 `A_CONFIRMED`, 1 `B_PARTIAL`, 0 `C_REFUTED`; it reproduces the seeds'
  published verdicts. Since SI = 1 - mean correlation, dSI = -d correlation: its first two signs
  are one fact, so ">= 2 of 3" was reached by dSI < 0 alone.
- **corrected** (`Verdict.code`): two independent signs, (1) SI down / correlation up and (2) head
  variance down, each counted only when its bootstrap interval (paired, over prompts) excludes
  0; a sign whose interval includes 0 is "not resolved". Both resolved in the collapse
  direction: `A_CONFIRMED`; one: `B_PARTIAL`; none, with at least one resolved against collapse:
  `C_REFUTED`; none resolved at all: `NOT_RESOLVED`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

UNDEFINED = "UNDEFINED"  # a number the rule needs is not finite
NOT_RESOLVED = "NOT_RESOLVED"  # corrected collapse rule: no sign's interval excludes 0
COLLAPSE_METRICS = ("specialization_index", "mean_head_correlation", "mean_head_variance")

# E11 / E11-T territorial collapse, the seed rule as executed: count of (dSI < 0,
# d correlation > 0, d variance < 0)
COLLAPSE_CONFIRMED_MIN = 2  # >= 2 criteria -> A_CONFIRMED
COLLAPSE_PARTIAL_MIN = 1  # 1 criterion -> B_PARTIAL, 0 -> C_REFUTED
# corrected: the independent signs (label, metric, the collapse direction of its delta)
COLLAPSE_SIGNS = (("SI down / correlation up", "specialization_index", -1),
                  ("head variance down", "mean_head_variance", -1))
COLLAPSE_SIGNS_CONFIRMED = 2  # both resolved in the collapse direction -> A_CONFIRMED
COLLAPSE_SIGNS_PARTIAL = 1  # one -> B_PARTIAL
SIGN_COLLAPSE, SIGN_AGAINST, SIGN_UNRESOLVED = "collapse", "against collapse", "not resolved"
COLLAPSE_RULES = (  # the two collapse rules in words (summary, report)
    "Verdict (corrected): two independent signs, SI down / correlation up (one fact: SI = 1 - "
    "mean correlation, so dSI = -d correlation) and head variance down, each counted only when "
    "its paired bootstrap interval excludes 0, else 'not resolved': both A_CONFIRMED, one "
    "B_PARTIAL, none with one resolved against collapse C_REFUTED, none resolved NOT_RESOLVED. "
    "Seed rule as executed: three point signs (dSI < 0, d correlation > 0, d variance < 0), "
    ">= 2 A_CONFIRMED, 1 B_PARTIAL, 0 C_REFUTED (reached by dSI < 0 alone); it reproduces the "
    "published verdicts.")

# Falcon-40B "pre-collapsed" MQA pattern (seed 002)
MQA_LOW_SI = 0.20  # base SI < 0.20
MQA_HIGH_CORR = 0.80  # base mean head correlation > 0.80
MQA_STABLE_DELTA = 0.05  # |dSI| < 0.05
MQA_SI_CONSISTENT = 0.10  # |base SI - 7B base SI| < 0.10
MQA_DELTA_CONSISTENT = 0.05  # |dSI - 7B dSI| < 0.05
MQA_MIN_CRITERIA = 2

# E08 heritage (seed 003)
HERITAGE_TARGET = 0.33
HERITAGE_TOLERANCE = 0.05  # |SI - target| <= tolerance
HERITAGE_MIN_MODELS = 4


@dataclass(frozen=True)
class Verdict:
    """A verdict code with the criteria booleans and the values behind them."""

    code: str
    criteria: dict[str, bool] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # for UNDEFINED: which numbers are not finite
    # a rule corrected here: the seed's rule as executed, {code, criteria, values}
    as_executed: dict[str, Any] | None = None

    def as_dict(self) -> dict:
        """Plain dict (JSON-friendly)."""
        return asdict(self)


def is_finite(value: Any) -> bool:
    """True for a finite real number (None, NaN, Inf, strings: False)."""
    try:
        return value is not None and not isinstance(value, str) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def undefined(inputs: Mapping[str, Any], values: Mapping[str, Any] | None = None,
              ) -> Verdict | None:
    """An UNDEFINED verdict naming every non-finite entry of `inputs` (label -> number), or
    None when all are finite."""
    bad = [f"{label} is {'missing' if value is None else value}"
           for label, value in inputs.items() if not is_finite(value)]
    if not bad:
        return None
    return Verdict(UNDEFINED, {}, dict(values or {}), "not finite: " + "; ".join(bad))


def _number(value: Any) -> float:
    return float(value) if is_finite(value) else float("nan")


def sign_status(interval: Any, direction: int) -> str:
    """`SIGN_COLLAPSE` / `SIGN_AGAINST` when the interval (low, high) of a delta excludes 0 on the
    collapse side (`direction` -1: below 0, +1: above) or the other; else `SIGN_UNRESOLVED`
    (it includes 0, or is missing or not finite)."""
    if not interval or len(interval) != 2 or not all(is_finite(v) for v in interval):
        return SIGN_UNRESOLVED
    low, high = (float(v) for v in interval)
    if high < 0 or low > 0:
        return SIGN_COLLAPSE if (high < 0) == (direction < 0) else SIGN_AGAINST
    return SIGN_UNRESOLVED


def _seed_collapse_rule(d_si: float, d_corr: float, d_var: float) -> dict[str, Any]:
    criteria = {
        "specialization_decreased": d_si < 0,
        "correlation_increased": d_corr > 0,
        "variance_decreased": d_var < 0,
    }
    count = sum(criteria.values())
    if count >= COLLAPSE_CONFIRMED_MIN:
        code = "A_CONFIRMED"
    elif count >= COLLAPSE_PARTIAL_MIN:
        code = "B_PARTIAL"
    else:
        code = "C_REFUTED"
    return {"code": code, "criteria": criteria, "values": {"criteria_met": count, "signs": 3}}


def territorial_collapse(base_metrics: Mapping, instruct_metrics: Mapping,
                         names: tuple[str, str] = ("base", "instruct"),
                         intervals: Mapping[str, Any] | None = None) -> Verdict:
    """The collapse verdict from two `specialization_metrics` dicts: corrected (`code`) and the
    seed rule as executed (`as_executed`), see the module docstring.

    `intervals` maps `specialization_index` and `mean_head_variance` to the bootstrap interval
    (low, high) of their instruct - base delta; a sign without one is not resolved. UNDEFINED
    (both rules) if SI, correlation or variance of either model is not finite; `names` label the
    two models in its reason (e.g. "base tiny/falcon-mqa").
    """
    inputs = {f"{key} of {name}": metrics.get(key) for name, metrics in
              zip(names, (base_metrics, instruct_metrics), strict=True)
              for key in COLLAPSE_METRICS}
    deltas = {f"delta_{short}": _number(instruct_metrics.get(key)) - _number(base_metrics.get(key))
              for short, key in zip(("specialization", "correlation", "variance"),
                                    COLLAPSE_METRICS, strict=True)}
    if (verdict := undefined(inputs, deltas)) is not None:
        return replace(verdict, as_executed={"code": UNDEFINED, "criteria": {}, "values": {}})
    seed = _seed_collapse_rule(*deltas.values())
    intervals = intervals or {}
    signs = {label: sign_status(intervals.get(metric), direction)
             for label, metric, direction in COLLAPSE_SIGNS}
    met = sum(status == SIGN_COLLAPSE for status in signs.values())
    if met >= COLLAPSE_SIGNS_CONFIRMED:
        code = "A_CONFIRMED"
    elif met >= COLLAPSE_SIGNS_PARTIAL:
        code = "B_PARTIAL"
    elif SIGN_AGAINST in signs.values():
        code = "C_REFUTED"
    else:
        code = NOT_RESOLVED
    criteria = {"specialization_decreased": signs[COLLAPSE_SIGNS[0][0]] == SIGN_COLLAPSE,
                "variance_decreased": signs[COLLAPSE_SIGNS[1][0]] == SIGN_COLLAPSE}
    values = {**deltas, "criteria_met": met, "signs": len(COLLAPSE_SIGNS), "sign_status": signs,
              "intervals": {metric: (list(intervals[metric]) if intervals.get(metric) is not None
                                     else None) for _, metric, _ in COLLAPSE_SIGNS}}
    return Verdict(code, criteria, values, as_executed=seed)


def architecture_invariance(
    mha_delta_si: float, mha_delta_corr: float, gqa_delta_si: float, gqa_delta_corr: float
) -> Verdict:
    """ARCHITECTURE_INVARIANT when (a > 0) == (b > 0) for both dSI and d correlation (seed 001).

    UNDEFINED if any of the four deltas is not finite (or None: missing from the reference).
    """
    inputs = {"MHA reference dSI": mha_delta_si, "MHA reference d correlation": mha_delta_corr,
              "GQA dSI": gqa_delta_si, "GQA d correlation": gqa_delta_corr}
    if (verdict := undefined(inputs, {
            "mha_delta_specialization": _number(mha_delta_si),
            "mha_delta_correlation": _number(mha_delta_corr),
            "gqa_delta_specialization": _number(gqa_delta_si),
            "gqa_delta_correlation": _number(gqa_delta_corr)})) is not None:
        return verdict
    criteria = {
        "same_direction_specialization": (mha_delta_si > 0) == (gqa_delta_si > 0),
        "same_direction_correlation": (mha_delta_corr > 0) == (gqa_delta_corr > 0),
    }
    code = "ARCHITECTURE_INVARIANT" if all(criteria.values()) else "ARCHITECTURE_DEPENDENT"
    values = {
        "mha_delta_specialization": float(mha_delta_si),
        "mha_delta_correlation": float(mha_delta_corr),
        "gqa_delta_specialization": float(gqa_delta_si),
        "gqa_delta_correlation": float(gqa_delta_corr),
    }
    return Verdict(code, criteria, values)


def _pre_collapsed_criteria(base_si: float, base_corr: float, delta_si: float) -> dict[str, bool]:
    return {
        "low_si": base_si < MQA_LOW_SI,
        "high_corr": base_corr > MQA_HIGH_CORR,
        "stable_delta": abs(delta_si) < MQA_STABLE_DELTA,
    }


def _pattern_inputs(base_si: Any, base_corr: Any, delta_si: Any) -> dict[str, Any]:
    return {"base SI": base_si, "base mean head correlation": base_corr,
            "dSI (instruct - base)": delta_si}


def pre_collapsed(base_si: float, base_corr: float, delta_si: float) -> Verdict:
    """PRE-COLLAPSED when at least two of seed 002's criteria hold (no reference needed).

    UNDEFINED if base SI, base correlation or dSI is not finite.
    """
    values = {"base_si": _number(base_si), "base_corr": _number(base_corr),
              "delta_si": _number(delta_si)}
    if (verdict := undefined(_pattern_inputs(base_si, base_corr, delta_si), values)) is not None:
        return verdict
    criteria = _pre_collapsed_criteria(base_si, base_corr, delta_si)
    met = sum(criteria.values())
    code = "PRE-COLLAPSED" if met >= MQA_MIN_CRITERIA else "NOT_PRE-COLLAPSED"
    return Verdict(code, criteria, {"criteria_met": met, "base_si": float(base_si),
                                    "base_corr": float(base_corr), "delta_si": float(delta_si)})


def falcon40b_pattern(
    base_si: float, base_corr: float, delta_si: float, ref_base_si: float, ref_delta_si: float,
    reference: str = "reference",
) -> Verdict:
    """MQA_PATTERN_CONFIRMED / _PARTIAL / _REFUTED against the Falcon-7B reference (seed 002).

    UNDEFINED if any input is not finite (or None); `reference` labels the reference run in the
    reason.
    """
    inputs = {**_pattern_inputs(base_si, base_corr, delta_si),
              f"base SI of {reference}": ref_base_si, f"dSI of {reference}": ref_delta_si}
    if (verdict := undefined(inputs, {
            "base_si": _number(base_si), "base_corr": _number(base_corr),
            "delta_si": _number(delta_si),
            "si_difference": _number(base_si) - _number(ref_base_si),
            "delta_difference": _number(delta_si) - _number(ref_delta_si)})) is not None:
        return verdict
    criteria = {
        **_pre_collapsed_criteria(base_si, base_corr, delta_si),
        "si_consistent": abs(base_si - ref_base_si) < MQA_SI_CONSISTENT,
        "delta_consistent": abs(delta_si - ref_delta_si) < MQA_DELTA_CONSISTENT,
    }
    met = sum(criteria[k] for k in ("low_si", "high_corr", "stable_delta"))
    consistent = criteria["si_consistent"] or criteria["delta_consistent"]
    if met >= MQA_MIN_CRITERIA and consistent:
        code = "MQA_PATTERN_CONFIRMED"
    elif met >= MQA_MIN_CRITERIA:
        code = "MQA_PATTERN_PARTIAL"
    else:
        code = "MQA_PATTERN_REFUTED"
    values = {
        "criteria_met": met,
        "base_si": float(base_si),
        "base_corr": float(base_corr),
        "delta_si": float(delta_si),
        "si_difference": float(base_si - ref_base_si),
        "delta_difference": float(delta_si - ref_delta_si),
    }
    return Verdict(code, {**criteria, "pattern_consistent": consistent}, values)


def heritage(
    si_values: Mapping[str, float | None],
    target: float = HERITAGE_TARGET,
    tolerance: float = HERITAGE_TOLERANCE,
    min_models: int = HERITAGE_MIN_MODELS,
) -> Verdict:
    """E08: HERITAGE_CONFIRMED / SIZE_CONFOUND_DETECTED / INCONCLUSIVE (seed 003).

    `si_values` maps model names (new measurements and Phi-3 references) to SI; None marks a
    failed measurement, which is left out (seed 003). A measured SI that is not finite (NaN/Inf)
    makes the verdict UNDEFINED, naming the model. Criteria: per model, |SI - target| <=
    tolerance.
    """
    valid = {k: float(v) for k, v in si_values.items() if v is not None}
    values = {
        "models_valid": len(valid),
        "models_failed": len(si_values) - len(valid),
        "target": float(target),
        "tolerance": float(tolerance),
    }
    if (verdict := undefined({f"SI of {k}": v for k, v in valid.items()}, values)) is not None:
        return verdict
    criteria = {name: abs(si - target) <= tolerance for name, si in valid.items()}
    within = sum(criteria.values())
    if valid and within == len(valid) and len(valid) >= min_models:
        code = "HERITAGE_CONFIRMED"
    elif within < len(valid):
        code = "SIZE_CONFOUND_DETECTED"
    else:
        code = "INCONCLUSIVE"
    values = {
        "models_valid": len(valid),
        "models_within": within,
        "models_failed": len(si_values) - len(valid),
        "target": float(target),
        "tolerance": float(tolerance),
    }
    return Verdict(code, criteria, values)
