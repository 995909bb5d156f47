"""What random weights give: a quantity's sampling distribution at initialization, and the rule
that says whether a value is indistinguishable from it (issue 24).

Two sources, each a block the results store and `lib.report` reads (`low`, `high`):

- **Initialization seeds** (`seed_spread`): the quantity measured on K initializations of the
  same architecture. The value is *indistinguishable from random weights* when it lies inside the
  99% prediction interval of one more initialization, mean ± t(0.995, K−1) · sd · √(1 + 1/K)
  (sd with ddof 1), its half-width never below the quantity's resolution (one step of its grid:
  1/dim for an eigenvalue-sign fraction, 1/entries for a sparsity share), so that K identical
  values (T5's Q sparsity 1.000 at every seed) still accept their own grid neighbours. Under
  normal sampling one more initialization falls outside with probability 1%;
  `leave_one_out` measures the rate on the seeds themselves (each seed judged against the
  interval of the others), which every run stores beside its spread.
- **Analytic** (`cross_layer_null`, `position_bias_null`): where the initializer makes the
  distribution known. Every family here draws each weight matrix independently with i.i.d.
  zero-mean entries, so the uncentered cosine of two adjacent layers' matrices of n entries has
  mean 0 and variance 1/n, the mean over L−1 adjacent pairs of a type has variance 1/(n(L−1)),
  and the largest |mean| over the types, `cross_layer_summary.max_abs_mean`, has the CDF
  Π_t (2Φ(x √(n_t(L_t−1))) − 1): its 99% quantile bounds what random weights give. A T5
  relative position bias drawn i.i.d. puts each head's peak on a uniform bucket, so the heads §6
  calls mixed (peak in 3..nb−4) are Binomial(heads, (nb−6)/nb).

A rule decides nothing before its false-positive rate on null data is measured: the seeds'
leave-one-out rate is stored with every spread, `tests/terrain/test_nulls.py` measures it on
many initializations, and the analytic intervals are checked against the seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

LEVEL = 0.99
MIN_SEEDS = 3  # a prediction interval needs a spread: K - 1 >= 2 degrees of freedom
SEED_RULE = ("inside the {level:.0%} prediction interval of one more initialization: mean ± "
             "t({q}, K−1)·sd·√(1 + 1/K) over K = {k} seeds, half-width at least the resolution "
             "{resolution:.3g}")


def _finite(values: Sequence[Any]) -> list[float]:
    out = []
    for v in values:
        if v is None or not math.isfinite(float(v)):
            raise ValueError(f"a seed value is not finite ({v!r}): the quantity is undefined at "
                             "some initialization; leave it out of the spread")
        out.append(float(v))
    return out


def prediction_interval(values: Sequence[float], level: float = LEVEL,
                        resolution: float = 0.0) -> tuple[float, float] | None:
    """(low, high) of the rule above, or None with fewer than MIN_SEEDS values."""
    x = np.asarray(_finite(values), dtype=float)
    k = x.size
    if k < MIN_SEEDS:
        return None
    if not 0 < level < 1 or resolution < 0:
        raise ValueError(f"level must lie in (0, 1) and resolution be >= 0; got {level}, "
                         f"{resolution}")
    t = float(stats.t.ppf((1 + level) / 2, k - 1))
    half = max(t * float(x.std(ddof=1)) * math.sqrt(1 + 1 / k), resolution)
    mean = float(x.mean())
    return mean - half, mean + half


def seed_spread(values: Sequence[float], seeds: Sequence[int], resolution: float = 0.0,
                level: float = LEVEL) -> dict[str, Any]:
    """The block of one quantity over initialization seeds: values, mean, sd (ddof 1), min, max,
    the rule's interval (`low`, `high`; None with a `reason` below MIN_SEEDS) and the rule."""
    x = _finite(values)
    if len(x) != len(seeds):
        raise ValueError(f"{len(x)} values for {len(seeds)} seeds; give one value per seed")
    interval = prediction_interval(x, level, resolution)
    q = (1 + level) / 2
    out: dict[str, Any] = {
        "source": "initialization seeds", "k": len(x), "seeds": [int(s) for s in seeds],
        "values": x, "mean": float(np.mean(x)) if x else None,
        "sd": float(np.std(x, ddof=1)) if len(x) > 1 else None,
        "min": min(x) if x else None, "max": max(x) if x else None,
        "resolution": resolution, "level": level,
        "low": None if interval is None else interval[0],
        "high": None if interval is None else interval[1],
        "rule": SEED_RULE.format(level=level, q=f"{q:g}", k=len(x), resolution=resolution)}
    if interval is None:
        out["reason"] = f"{len(x)} seed(s): a spread needs at least {MIN_SEEDS}"
    return out


def leave_one_out(values: Sequence[float], resolution: float = 0.0,
                  level: float = LEVEL) -> dict[str, int]:
    """Each seed judged against the interval of the others: {trials, outside}. A seed outside
    is a false positive of the rule (a random-weight value called distinguishable)."""
    x = _finite(values)
    trials = outside = 0
    for i in range(len(x)):
        interval = prediction_interval(x[:i] + x[i + 1:], level, resolution)
        if interval is None:
            continue
        trials += 1
        outside += not interval[0] <= x[i] <= interval[1]
    return {"trials": trials, "outside": outside}


def false_positive_rate(spreads: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The rule's leave-one-seed-out false-positive rate pooled over the quantities of a run."""
    trials = outside = 0
    for block in spreads.values():
        if block.get("source") != "initialization seeds":
            continue
        loo = leave_one_out(block["values"], block["resolution"], block["level"])
        trials += loo["trials"]
        outside += loo["outside"]
    return {"method": "leave one seed out: each seed against the interval of the others, "
                      "pooled over the quantities", "trials": trials, "outside": outside,
            "rate": outside / trials if trials else None}


def inside(block: Mapping[str, Any], value: float) -> bool | None:
    """Whether `value` lies in a spread's [low, high] (None when the block has no interval)."""
    low, high = block.get("low"), block.get("high")
    if low is None or high is None or value is None or not math.isfinite(float(value)):
        return None
    return bool(float(low) <= float(value) <= float(high))


def cross_layer_null(chains: Mapping[str, Mapping[str, Any]],
                     level: float = LEVEL) -> dict[str, Any] | None:
    """The analytic distribution of `cross_layer_summary.max_abs_mean` at initialization.

    `chains`: {type: {"numel": entries of one matrix, "n_pairs": adjacent pairs}} (the battery's
    `cross_layer` blocks). The mean over a type's pairs is N(0, 1/(numel·n_pairs)); the largest
    |mean| over independent types has the CDF Π (2Φ(x/σ_t) − 1). Returns its `level` quantile as
    `high` (low 0), its median and mean, or None when no type has a pair."""
    sigmas = [1 / math.sqrt(float(c["numel"]) * c["n_pairs"]) for c in chains.values()
              if c.get("n_pairs") and c.get("numel")]
    if not sigmas:
        return None
    s = np.asarray(sigmas)

    def cdf(x: float) -> float:
        return float(np.prod(2 * stats.norm.cdf(x / s) - 1))

    top = 12 * float(s.max())

    def quantile(p: float) -> float:
        return float(optimize.brentq(lambda x: cdf(x) - p, 0.0, top, xtol=1e-15))

    grid = np.linspace(0.0, top, 4001)
    mean = float(np.trapezoid([1 - cdf(x) for x in grid], grid))
    return {"source": "analytic", "level": level, "low": 0.0, "high": quantile(level),
            "median": quantile(0.5), "mean": mean, "n_types": len(sigmas),
            "rule": f"below the {level:.0%} quantile of max over types of |N(0, 1/(n·pairs))|: "
                    "independent zero-mean init matrices, adjacent cosine ~ N(0, 1/n)"}


def position_bias_null(n_buckets: int, n_heads: int, level: float = LEVEL) -> dict[str, Any]:
    """The analytic distribution of §6's mixed-head count of a unidirectional (decoder) T5 bias
    drawn i.i.d.: Binomial(heads, (nb − 6)/nb), its central `level` interval."""
    if n_buckets < 7 or n_heads < 1:
        raise ValueError(f"need >= 7 buckets and >= 1 head; got {n_buckets}, {n_heads}")
    p = (n_buckets - 6) / n_buckets
    dist = stats.binom(n_heads, p)
    return {"source": "analytic", "level": level, "mean": n_heads * p,
            "low": float(dist.ppf((1 - level) / 2)), "high": float(dist.ppf((1 + level) / 2)),
            "p_zero": float(dist.pmf(0)),
            "rule": f"inside the central {level:.0%} interval of Binomial({n_heads}, "
                    f"{n_buckets - 6}/{n_buckets}): each head's peak uniform over the buckets"}


def analytic_nulls(result: Mapping[str, Any], level: float = LEVEL) -> dict[str, Any]:
    """The analytic intervals of a battery result's quantities (trained or initialization: only
    shapes are read): `cross_layer_summary/max_abs_mean`, and `position_bias/<key>/mixed` of
    every unidirectional (decoder) bias. Keys as `weights.baseline.battery_quantities`."""
    out: dict[str, Any] = {}
    chains = result.get("cross_layer") or {}
    if all("numel" in c for c in chains.values()):
        block = cross_layer_null(chains, level)
        if block is not None:
            out["cross_layer_summary/max_abs_mean"] = block
    for key, bias in sorted((result.get("position_bias") or {}).items()):
        if not bias.get("bidirectional"):
            out[f"position_bias/{key}/mixed"] = position_bias_null(bias["n_buckets"],
                                                                   bias["n_heads"], level)
    return out
