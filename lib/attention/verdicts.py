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
  variance down, each counted only when (a) its bootstrap interval (paired, over prompts)
  excludes 0 and (b) the delta lies outside its *seed null*: how far two independently seeded
  initializations of the architecture differ, with no alignment between them (`seed_null`: the
  metric over n init seeds, the head variance on the log scale; the delta of a pair that differs
  only in seed, over sd * sqrt(2), is Student t with n - 1 degrees of freedom, `seed_null_p`).
  The prompt bootstrap alone measures how the metric varies over
  prompts, not between two checkpoints: any two models "differ" by it. The two signs are one
  family, Holm-corrected at `SEED_NULL_ALPHA` family-wise: 1%, exact for a normal spread over
  seeds, chosen so that on the measured (partly skewed) spreads a null pair reads anything but
  `NOT_RESOLVED` at most 5% of the time (`lib.attention.calibration` measures it). Both resolved in
  the collapse direction: `A_CONFIRMED`; one: `B_PARTIAL`; none, with at least one resolved
  against collapse: `C_REFUTED`; none resolved at all: `NOT_RESOLVED`. The bootstrap-only reading
  (the rule before the seed null) is kept in `values["bootstrap_only"]`.

The other rules are corrected the same way, each fact counted once and read on its interval, the
seed's rule kept in `as_executed`: the pre-collapsed pattern (base SI < 0.20 and correlation >
0.80 are one fact, SI = 1 - correlation), the Falcon-40B cross-scale pattern, architecture
invariance (dSI and d correlation are one fact) and E08's heritage (decidable only within one
family, `heritage_family`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from lib.attention.multiplicity import holm
from lib.stats.values import is_finite

UNDEFINED = "UNDEFINED"  # a number the rule needs is not finite
NOT_RESOLVED = "NOT_RESOLVED"  # a corrected rule: no fact is resolved by its interval / null
NOT_TESTABLE = "NOT_TESTABLE"  # E08: the models cannot decide the question (one per family)
# family-wise error of the two collapse signs against their seed null (Holm): nominal 1%, the
# margin that keeps the measured false-positive rate on null pairs of skewed spreads under 5%
SEED_NULL_ALPHA = 0.01
SEED_NULL_MIN = 3  # init seeds a seed null needs (an sd with two degrees of freedom)
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
    "its paired bootstrap interval over prompts excludes 0 and the delta lies outside its seed "
    "null (how two independently seeded initializations of the architecture differ; the two "
    "signs Holm-corrected, 1% family-wise nominal, at most 5% measured on null pairs), else "
    "'not resolved': both A_CONFIRMED, one "
    "B_PARTIAL, none with one resolved against collapse C_REFUTED, none resolved NOT_RESOLVED. "
    "Seed rule as executed: three point signs (dSI < 0, d correlation > 0, d variance < 0), "
    ">= 2 A_CONFIRMED, 1 B_PARTIAL, 0 C_REFUTED (reached by dSI < 0 alone); it reproduces the "
    "published verdicts.")

# Falcon-40B "pre-collapsed" MQA pattern (seed 002); corrected: base SI < 0.20 (correlation >
# 0.80 is the same fact) and |dSI| < 0.05, each read on its interval
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
HERITAGE_MIN_SIZES = 2  # corrected: sizes of one family a size effect needs


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


def _seed_spread(values: Any) -> tuple[float, int] | None:
    """(sd, n) of the finite init-seed `values` (ddof 1); None below `SEED_NULL_MIN` seeds or
    without spread."""
    x = np.asarray([v for v in (values or []) if is_finite(v)], dtype=np.float64)
    if x.size < SEED_NULL_MIN or not float(x.std(ddof=1)) > 0:
        return None
    return float(x.std(ddof=1)), int(x.size)


def seed_null_p(delta: Any, values: Any) -> float | None:
    """Two-sided p of `delta` (instruct - base) against its seed null: with no alignment the
    pair is two more draws of the init seeds' distribution, and over the n seeds' sd the delta
    / (sd sqrt(2)) is Student t with n - 1 degrees of freedom (exact for a normal spread; the
    calibration measures what a skewed one does). `values`: the figure over the n init seeds,
    on the delta's scale. None with fewer than `SEED_NULL_MIN` seeds or a delta that is not
    finite."""
    found = _seed_spread(values)
    if found is None or not is_finite(delta):
        return None
    sd, n = found
    return float(2 * stats.t.sf(abs(float(delta)) / (sd * math.sqrt(2)), n - 1))


def seed_null_interval(values: Any, level: float = 0.95) -> list[float] | None:
    """The seed null's central `level` interval of a delta, 0 +/- t(n - 1) sd sqrt(2):
    `seed_null_p` <= 1 - level exactly outside it. None with too few seeds."""
    found = _seed_spread(values)
    if found is None:
        return None
    sd, n = found
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd * math.sqrt(2)
    return [-half, half]


def _collapse_code(signs: Sequence[str]) -> tuple[str, int]:
    met = sum(status == SIGN_COLLAPSE for status in signs)
    if met >= COLLAPSE_SIGNS_CONFIRMED:
        return "A_CONFIRMED", met
    if met >= COLLAPSE_SIGNS_PARTIAL:
        return "B_PARTIAL", met
    return ("C_REFUTED" if SIGN_AGAINST in signs else NOT_RESOLVED), met


def null_value(value: Any, scale: str | None) -> float:
    """A figure on its seed null's scale: `log` (a positive figure whose spread over seeds is
    skewed, the head variance; NaN when not positive) or as it is."""
    if scale == "log":
        return math.log(float(value)) if is_finite(value) and value > 0 else float("nan")
    return _number(value)


def _against_seed_null(base: Mapping[str, Any], instruct: Mapping[str, Any],
                       seed_null: Mapping[str, Any] | None, alpha: float,
                       ) -> dict[str, dict[str, Any]]:
    """Per collapse sign: the delta on its seed null's scale, p against that null, Holm-adjusted
    over the signs, the interval at the level Holm tested it (alpha / (m - rank + 1)), and
    whether the delta lies outside."""
    metrics = [metric for _, metric, _ in COLLAPSE_SIGNS]
    spreads = {m: (seed_null or {}).get(m) for m in metrics}
    scales = {m: (spreads[m] or {}).get("scale") for m in metrics}
    deltas = {m: null_value(instruct.get(m), scales[m]) - null_value(base.get(m), scales[m])
              for m in metrics}
    p = [seed_null_p(deltas[m], (spreads[m] or {}).get("values")) for m in metrics]
    adjusted = holm(p)
    tested = sorted((v, m) for v, m in zip(p, metrics, strict=True) if v is not None)
    level = {m: alpha / (len(tested) - rank) for rank, (_, m) in enumerate(tested)}
    out = {}
    for metric, value, holm_p in zip(metrics, p, adjusted, strict=True):
        spread = spreads[metric] or {}
        conf = 1 - level[metric] if metric in level else 1 - alpha
        out[metric] = {"delta": deltas[metric], "scale": spread.get("scale") or "identity",
                       "p": value, "p_holm": holm_p, "level": conf,
                       "interval": seed_null_interval(spread.get("values"), conf),
                       "n": len(spread.get("values") or []),
                       "outside": holm_p is not None and holm_p <= alpha}
    return out


def territorial_collapse(base_metrics: Mapping, instruct_metrics: Mapping,
                         names: tuple[str, str] = ("base", "instruct"),
                         intervals: Mapping[str, Any] | None = None,
                         seed_null: Mapping[str, Any] | None = None,
                         alpha: float = SEED_NULL_ALPHA) -> Verdict:
    """The collapse verdict from two `specialization_metrics` dicts: corrected (`code`) and the
    seed rule as executed (`as_executed`), see the module docstring.

    `intervals` maps `specialization_index` and `mean_head_variance` to the bootstrap interval
    (low, high) of their instruct - base delta; `seed_null` maps them to their spread over the
    init seeds ({values, scale}, `lib.attention.seednull`; the variance's on the log scale). A
    sign without both is not resolved.
    UNDEFINED (both rules) if SI, correlation or variance of either model is not finite; `names`
    label the two models in its reason (e.g. "base tiny/falcon-mqa").
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
    by_metric = dict(zip(COLLAPSE_METRICS, deltas.values(), strict=True))
    boot = {label: sign_status(intervals.get(metric), direction)
            for label, metric, direction in COLLAPSE_SIGNS}
    null = _against_seed_null(base_metrics, instruct_metrics, seed_null, alpha)
    signs = {}
    for label, metric, direction in COLLAPSE_SIGNS:
        side = SIGN_COLLAPSE if (by_metric[metric] < 0) == (direction < 0) else SIGN_AGAINST
        resolved = boot[label] == side and null[metric]["outside"]
        signs[label] = boot[label] if resolved else SIGN_UNRESOLVED
    code, met = _collapse_code(list(signs.values()))
    criteria = {"specialization_decreased": signs[COLLAPSE_SIGNS[0][0]] == SIGN_COLLAPSE,
                "variance_decreased": signs[COLLAPSE_SIGNS[1][0]] == SIGN_COLLAPSE}
    values = {**deltas, "criteria_met": met, "signs": len(COLLAPSE_SIGNS), "sign_status": signs,
              "intervals": {metric: (list(intervals[metric]) if intervals.get(metric) is not None
                                     else None) for _, metric, _ in COLLAPSE_SIGNS},
              "bootstrap_status": boot, "seed_null": null, "alpha": alpha,
              "family": "the two collapse signs against their seed null, Holm",
              "bootstrap_only": _collapse_code(list(boot.values()))[0]}
    return Verdict(code, criteria, values, as_executed=seed)


def architecture_invariance(
    mha_delta_si: float, mha_delta_corr: float, gqa_delta_si: float, gqa_delta_corr: float,
    mha_si_sign: str | None = None, gqa_si_sign: str | None = None,
) -> Verdict:
    """Does alignment move SI the same way for GQA as for MHA?

    Corrected (`code`): one fact, the direction of dSI (d correlation is its mirror), read on
    each pair's resolved collapse sign (`mha_si_sign`, `gqa_si_sign`: the "SI down /
    correlation up" status of `territorial_collapse`): both resolved the same way
    ARCHITECTURE_INVARIANT, opposite ways ARCHITECTURE_DEPENDENT, either not resolved (or
    missing) NOT_RESOLVED. The seed rule as executed (`as_executed`): ARCHITECTURE_INVARIANT
    when (a > 0) == (b > 0) for both dSI and d correlation at their point values. UNDEFINED if
    any of the four deltas is not finite (or None: missing from the reference).
    """
    inputs = {"MHA reference dSI": mha_delta_si, "MHA reference d correlation": mha_delta_corr,
              "GQA dSI": gqa_delta_si, "GQA d correlation": gqa_delta_corr}
    if (verdict := undefined(inputs, {
            "mha_delta_specialization": _number(mha_delta_si),
            "mha_delta_correlation": _number(mha_delta_corr),
            "gqa_delta_specialization": _number(gqa_delta_si),
            "gqa_delta_correlation": _number(gqa_delta_corr)})) is not None:
        return replace(verdict, as_executed={"code": UNDEFINED, "criteria": {}, "values": {}})
    seed_criteria = {
        "same_direction_specialization": (mha_delta_si > 0) == (gqa_delta_si > 0),
        "same_direction_correlation": (mha_delta_corr > 0) == (gqa_delta_corr > 0),
    }
    seed_code = ("ARCHITECTURE_INVARIANT" if all(seed_criteria.values())
                 else "ARCHITECTURE_DEPENDENT")
    values = {
        "mha_delta_specialization": float(mha_delta_si),
        "mha_delta_correlation": float(mha_delta_corr),
        "gqa_delta_specialization": float(gqa_delta_si),
        "gqa_delta_correlation": float(gqa_delta_corr),
    }
    signs = {"mha": mha_si_sign or SIGN_UNRESOLVED, "gqa": gqa_si_sign or SIGN_UNRESOLVED}
    resolved = SIGN_UNRESOLVED not in signs.values()
    same = resolved and signs["mha"] == signs["gqa"]
    code = (NOT_RESOLVED if not resolved else
            "ARCHITECTURE_INVARIANT" if same else "ARCHITECTURE_DEPENDENT")
    return Verdict(code, {"same_direction_specialization": same},
                   {**values, "si_sign": signs, "criteria_met": int(same)},
                   as_executed={"code": seed_code, "criteria": seed_criteria,
                                "values": dict(values)})


def within(interval: Any, low: float, high: float) -> bool | None:
    """True when the interval (lo, hi) lies strictly inside (low, high), False when it lies
    wholly outside it, None when it straddles a bound or is missing / not finite."""
    if not interval or len(interval) != 2 or not all(is_finite(v) for v in interval):
        return None
    lo, hi = (float(v) for v in interval)
    if low < lo and hi < high:
        return True
    if hi <= low or lo >= high:
        return False
    return None


def below(interval: Any, bound: float) -> bool | None:
    """True when the interval lies wholly below `bound`, False when wholly at or above it, None
    when it straddles it or is missing / not finite."""
    if not interval or len(interval) != 2 or not all(is_finite(v) for v in interval):
        return None
    lo, hi = (float(v) for v in interval)
    return True if hi < bound else False if lo >= bound else None


def difference_interval(a: Any, b: Any) -> list[float] | None:
    """The interval of a - b from the intervals of a and b (lo_a - hi_b, hi_a - lo_b): covers
    the difference whenever both cover their values (conservative); None if either is missing."""
    if not a or not b or not all(is_finite(v) for v in (*a, *b)):
        return None
    return [float(a[0]) - float(b[1]), float(a[1]) - float(b[0])]


def _pre_collapsed_criteria(base_si: float, base_corr: float, delta_si: float) -> dict[str, bool]:
    return {
        "low_si": base_si < MQA_LOW_SI,
        "high_corr": base_corr > MQA_HIGH_CORR,
        "stable_delta": abs(delta_si) < MQA_STABLE_DELTA,
    }


def _pattern_inputs(base_si: Any, base_corr: Any, delta_si: Any) -> dict[str, Any]:
    return {"base SI": base_si, "base mean head correlation": base_corr,
            "dSI (instruct - base)": delta_si}


def _facts(base_si_ci: Any, delta_si_ci: Any) -> dict[str, bool | None]:
    """The corrected pre-collapsed facts on intervals: base SI below 0.20 (correlation above
    0.80 is the same fact) and dSI within +/- 0.05; None: not resolved."""
    return {"low_si": below(base_si_ci, MQA_LOW_SI),
            "stable_delta": within(delta_si_ci, -MQA_STABLE_DELTA, MQA_STABLE_DELTA)}


def _pre_code(facts: Mapping[str, bool | None]) -> str:
    if all(v is True for v in facts.values()):
        return "PRE-COLLAPSED"
    if any(v is False for v in facts.values()):
        return "NOT_PRE-COLLAPSED"
    return NOT_RESOLVED


def pre_collapsed(base_si: float, base_corr: float, delta_si: float,
                  base_si_ci: Any = None, delta_si_ci: Any = None) -> Verdict:
    """Seed 002's pre-collapsed MQA pattern (no reference needed).

    Corrected (`code`): two facts on their intervals, base SI below 0.20 (`base_si_ci`; the
    correlation above 0.80 is the same fact) and dSI within +/- 0.05 (`delta_si_ci`, the whole
    interval): both PRE-COLLAPSED, either resolved false NOT_PRE-COLLAPSED, else NOT_RESOLVED.
    The seed rule as executed (`as_executed`): at least two of the three point criteria.
    UNDEFINED if base SI, base correlation or dSI is not finite.
    """
    values = {"base_si": _number(base_si), "base_corr": _number(base_corr),
              "delta_si": _number(delta_si)}
    if (verdict := undefined(_pattern_inputs(base_si, base_corr, delta_si), values)) is not None:
        return replace(verdict, as_executed={"code": UNDEFINED, "criteria": {}, "values": {}})
    criteria = _pre_collapsed_criteria(base_si, base_corr, delta_si)
    met = sum(criteria.values())
    seed_code = "PRE-COLLAPSED" if met >= MQA_MIN_CRITERIA else "NOT_PRE-COLLAPSED"
    seed_values = {"criteria_met": met, "base_si": float(base_si), "base_corr": float(base_corr),
                   "delta_si": float(delta_si)}
    facts = _facts(base_si_ci, delta_si_ci)
    return Verdict(_pre_code(facts), {k: v is True for k, v in facts.items()},
                   {**seed_values, "criteria_met": sum(v is True for v in facts.values()),
                    "facts": facts, "base_si_ci": base_si_ci, "delta_si_ci": delta_si_ci},
                   as_executed={"code": seed_code, "criteria": criteria, "values": seed_values})


def falcon40b_pattern(
    base_si: float, base_corr: float, delta_si: float, ref_base_si: float, ref_delta_si: float,
    reference: str = "reference", intervals: Mapping[str, Any] | None = None,
) -> Verdict:
    """MQA_PATTERN_CONFIRMED / _PARTIAL / _REFUTED against the Falcon-7B reference (seed 002).

    Corrected (`code`): the pre-collapsed facts on their intervals (`pre_collapsed`), and
    consistency with the reference on the intervals of the differences (`intervals`: base_si,
    delta_si, ref_base_si, ref_delta_si; `difference_interval`): base SI within +/- 0.10 of the
    reference's, or dSI within +/- 0.05 of its dSI. Pre-collapsed and consistent CONFIRMED,
    pre-collapsed and resolved inconsistent PARTIAL, not pre-collapsed REFUTED, anything not
    resolved NOT_RESOLVED. The seed rule as executed (`as_executed`): the point criteria.
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
        return replace(verdict, as_executed={"code": UNDEFINED, "criteria": {}, "values": {}})
    criteria = {
        **_pre_collapsed_criteria(base_si, base_corr, delta_si),
        "si_consistent": abs(base_si - ref_base_si) < MQA_SI_CONSISTENT,
        "delta_consistent": abs(delta_si - ref_delta_si) < MQA_DELTA_CONSISTENT,
    }
    met = sum(criteria[k] for k in ("low_si", "high_corr", "stable_delta"))
    consistent = criteria["si_consistent"] or criteria["delta_consistent"]
    if met >= MQA_MIN_CRITERIA and consistent:
        seed_code = "MQA_PATTERN_CONFIRMED"
    elif met >= MQA_MIN_CRITERIA:
        seed_code = "MQA_PATTERN_PARTIAL"
    else:
        seed_code = "MQA_PATTERN_REFUTED"
    values = {
        "criteria_met": met,
        "base_si": float(base_si),
        "base_corr": float(base_corr),
        "delta_si": float(delta_si),
        "si_difference": float(base_si - ref_base_si),
        "delta_difference": float(delta_si - ref_delta_si),
    }
    ci = intervals or {}
    facts = _facts(ci.get("base_si"), ci.get("delta_si"))
    si_diff = difference_interval(ci.get("base_si"), ci.get("ref_base_si"))
    delta_diff = difference_interval(ci.get("delta_si"), ci.get("ref_delta_si"))
    close = {"si_consistent": within(si_diff, -MQA_SI_CONSISTENT, MQA_SI_CONSISTENT),
             "delta_consistent": within(delta_diff, -MQA_DELTA_CONSISTENT, MQA_DELTA_CONSISTENT)}
    agree = (True if True in close.values() else
             False if all(v is False for v in close.values()) else None)
    pre = _pre_code(facts)
    code = ("MQA_PATTERN_REFUTED" if pre == "NOT_PRE-COLLAPSED" else
            NOT_RESOLVED if pre == NOT_RESOLVED or agree is None else
            "MQA_PATTERN_CONFIRMED" if agree else "MQA_PATTERN_PARTIAL")
    corrected = {**facts, **close, "pattern_consistent": agree}
    return Verdict(code, {k: v is True for k, v in corrected.items()},
                   {**values, "criteria_met": sum(v is True for v in facts.values()),
                    "facts": corrected, "si_difference_interval": si_diff,
                    "delta_difference_interval": delta_diff},
                   as_executed={"code": seed_code,
                                "criteria": {**criteria, "pattern_consistent": consistent},
                                "values": dict(values)})


def heritage(
    si_values: Mapping[str, float | None],
    target: float = HERITAGE_TARGET,
    tolerance: float = HERITAGE_TOLERANCE,
    min_models: int = HERITAGE_MIN_MODELS,
) -> Verdict:
    """E08, the seed rule as executed: HERITAGE_CONFIRMED / SIZE_CONFOUND_DETECTED /
    INCONCLUSIVE (seed 003).

    `si_values` maps model names (new measurements and Phi-3 references) to SI; None marks a
    failed measurement, which is left out (seed 003). A measured SI that is not finite (NaN/Inf)
    makes the verdict UNDEFINED, naming the model. Criteria: per model, |SI - target| <=
    tolerance. `heritage_family` is the corrected rule.
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
    within_band = sum(criteria.values())
    if valid and within_band == len(valid) and len(valid) >= min_models:
        code = "HERITAGE_CONFIRMED"
    elif within_band < len(valid):
        code = "SIZE_CONFOUND_DETECTED"
    else:
        code = "INCONCLUSIVE"
    values = {
        "models_valid": len(valid),
        "models_within": within_band,
        "models_failed": len(si_values) - len(valid),
        "target": float(target),
        "tolerance": float(tolerance),
    }
    return Verdict(code, criteria, values)


def heritage_family(
    models: Mapping[str, Mapping[str, Any]],
    target: float = HERITAGE_TARGET,
    tolerance: float = HERITAGE_TOLERANCE,
    min_models: int = HERITAGE_MIN_MODELS,
) -> Verdict:
    """E08 corrected: is SI a family trait or a size effect? Decidable only within one family.

    `models` maps a name to {si, si_ci, family, size_b}. A family with models of at least
    `HERITAGE_MIN_SIZES` sizes can test size; each of its models is within the band when its
    whole interval lies inside target +/- tolerance, outside when wholly outside, else not
    resolved (a published SI without an interval is not resolved). Every model of every testable
    family within and at least `min_models` of them: HERITAGE_CONFIRMED; any resolved outside:
    SIZE_CONFOUND_DETECTED; else NOT_RESOLVED. No family with two sizes: NOT_TESTABLE (across
    families, size, family, objective and attention kind change together). UNDEFINED for an SI
    that is not finite.
    """
    inputs = {f"SI of {k}": m.get("si") for k, m in models.items()}
    limits = {"target": float(target), "tolerance": float(tolerance)}
    if (verdict := undefined(inputs, limits)) is not None:
        return verdict
    families: dict[str, list[str]] = {}
    for name, m in models.items():
        families.setdefault(str(m.get("family")), []).append(name)
    sizes = {f: sorted({float(models[n]["size_b"]) for n in names})
             for f, names in families.items()}
    testable = [f for f, s in sizes.items() if len(s) >= HERITAGE_MIN_SIZES]
    band = (target - tolerance, target + tolerance)
    criteria = {n: within(models[n].get("si_ci"), band[0] - 1e-12, band[1] + 1e-12)
                for f in testable for n in families[f]}
    values = {"target": float(target), "tolerance": float(tolerance), "families": families,
              "sizes_b": sizes, "testable_families": testable, "within_band": criteria,
              "models_within": sum(v is True for v in criteria.values())}
    if not testable:
        reason = (f"the {len(models)} real models come from {len(families)} families ("
                  + "; ".join(f"{f}: {', '.join(n)}" for f, n in families.items())
                  + ") with one size each: size within one family is not testable here; "
                  "across families, size, family, objective and attention kind change together")
        return Verdict(NOT_TESTABLE, {}, {**values, "note": reason})
    if any(v is False for v in criteria.values()):
        code = "SIZE_CONFOUND_DETECTED"
    elif all(v is True for v in criteria.values()) and len(criteria) >= min_models:
        code = "HERITAGE_CONFIRMED"
    else:
        code = NOT_RESOLVED
    return Verdict(code, {n: v is True for n, v in criteria.items()}, values)
