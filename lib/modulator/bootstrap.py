"""Bootstrap intervals of the relational correlations (D10), over the evaluation lemmas.

A resample draws `n_rel` evaluation lemmas with replacement (`lib.stats.resampling`):
lemma i appears w_i times, and every pair among the drawn lemmas is kept, so pair (i, j) counts
w_i·w_j times (self pairs stay out, as in the point estimate). Pearson and Spearman of the
resample are then the *weighted* Pearson of the values and of their weighted mid-ranks
(`lib.stats.pairs`, shared with the terrain line's synset bootstrap): exactly the correlations
of the expanded sample, without expanding it. The pair cosines and similarities are computed once; a
resample only reweights them. Intervals are percentile intervals; the lift
of a set against the reference is taken on the same resample. `gain_verdict` puts a lift
interval in words, and says "at the edge" where a bound is within the processors' rounding of 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lib.stats.intervals import check_resampling, percentile_interval
from lib.stats.pairs import resampled_correlations
from lib.stats.resampling import multiplicities

N_BOOT = 200  # resamples of the evaluation lemmas
CI_LEVEL = 0.95
CI_OVER = ("lemmas: the evaluation lemmas resampled with replacement, every pair among the drawn "
           "lemmas kept (pair weight = product of the two lemmas' multiplicities)")


# An interval bound this close to 0 is on no side of it. Measured on the embedded MiniLM run: every
# lift-interval bound agrees within 2.2e-6 between this AVX-512 machine and ATEN_CPU_CAPABILITY=
# default/avx2, MKL_CBWR=COMPATIBLE/AVX2, OPENBLAS_CORETYPE=Haswell/Sandybridge, numpy without its
# AVX-512 loops, oneDNN at AVX2, all of these at once, and 1 or 2 OpenMP threads (the largest: the
# trained field modulator's). 1e-4 is 45 times that, and 5 times below the 0.05% from which a
# bound no longer prints as "±0.0%" in the findings.
ROUNDING_MARGIN = 1e-4
AT_THE_EDGE = "at the edge: a bound within the processors' rounding of 0"


def gain_verdict(ci: Sequence[float] | None, margin: float = ROUNDING_MARGIN) -> str:
    """A lift interval in words: 'gains' (above 0), 'loses' (below), 'gains nothing' (contains
    0), 'undefined' (no interval), or AT_THE_EDGE when a bound lies within `margin` of 0, where
    processors' rounding could put it on either side."""
    if ci is None or len(ci) != 2 or not np.isfinite(ci).all():
        return "undefined"
    if min(abs(float(ci[0])), abs(float(ci[1]))) <= margin:
        return AT_THE_EDGE
    if ci[0] > 0:
        return "gains"
    if ci[1] < 0:
        return "loses"
    return "gains nothing"


def interval(samples: np.ndarray, level: float = CI_LEVEL) -> list[float] | None:
    """`lib.stats.intervals.percentile_interval` of the resampled values, as a list; None where
    fewer than half of them are defined."""
    found = percentile_interval(samples, level)
    return None if found is None else list(found)


def correlation_intervals(s: np.ndarray, cos: Mapping[str, np.ndarray], rel_i: np.ndarray,
                          rel_j: np.ndarray, n_lemmas: int, *, reference: str,
                          n_boot: int = N_BOOT, level: float = CI_LEVEL,
                          seed: int = 42) -> dict[str, dict[str, Any]]:
    """Per set: `pearson_ci`, `spearman_ci`, `relative_lift_pearson_ci`,
    `relative_lift_spearman_ci` (lift (r_set - r_ref) / r_ref on the same resample), with
    `n_boot`, `level`, `ci_seed` and `ci_over` beside them. An interval is None where a resample
    leaves the correlation (or the reference's, for a lift) undefined."""
    check_resampling(n_boot, level)
    if reference not in cos:
        raise ValueError(f"reference {reference!r} is not among the sets {list(cos)}")
    boot = resampled_correlations(s, cos, rel_i, rel_j, multiplicities(n_lemmas, n_boot, seed))
    ref = boot[reference]
    out = {}
    for name, b in boot.items():
        row: dict[str, Any] = {}
        for key in ("pearson", "spearman"):
            row[f"{key}_ci"] = interval(b[key], level)
            with np.errstate(divide="ignore", invalid="ignore"):
                lift = (b[key] - ref[key]) / ref[key]
            lift[ref[key] == 0] = np.nan
            row[f"relative_lift_{key}_ci"] = interval(lift, level)
        out[name] = row | {"n_boot": int(n_boot), "level": float(level), "ci_seed": int(seed),
                           "ci_over": CI_OVER}
    return out
