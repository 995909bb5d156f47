"""Bootstrap intervals of the relational correlations (D10), over the evaluation lemmas.

A resample draws `n_rel` evaluation lemmas with replacement (`default_rng(seed).multinomial`):
lemma i appears w_i times, and every pair among the drawn lemmas is kept, so pair (i, j) counts
w_i·w_j times (self pairs stay out, as in the point estimate). Pearson and Spearman of the
resample are then the *weighted* Pearson of the values and of their weighted mid-ranks
(`lib.terrain.resample`, shared with the §3 synset bootstrap): exactly the correlations of the
expanded sample, without expanding it. The pair cosines and similarities are computed once; a
resample only reweights them. Intervals are percentile intervals; the lift
of a set against the reference is taken on the same resample.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lib.terrain.resample import item_weights, resampled_correlations

N_BOOT = 200  # resamples of the evaluation lemmas
CI_LEVEL = 0.95
CI_OVER = ("lemmas: the evaluation lemmas resampled with replacement, every pair among the drawn "
           "lemmas kept (pair weight = product of the two lemmas' multiplicities)")


def check_bootstrap(n_boot: int, level: float) -> None:
    """One-line ValueError for a number of resamples below 1 or a level outside (0, 1)."""
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"evaluation.n_boot must be a whole number >= 1, got {n_boot!r}; set "
                         "it in the parameter file (default 200)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"the interval level must lie in (0, 1), got {level!r}")


def interval(samples: np.ndarray, level: float = CI_LEVEL) -> list[float] | None:
    """Percentile interval of the resampled values; None when any of them is undefined (NaN)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size == 0 or not np.isfinite(samples).all():
        return None
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [tail, 1.0 - tail])
    return [float(lo), float(hi)]


def correlation_intervals(s: np.ndarray, cos: Mapping[str, np.ndarray], rel_i: np.ndarray,
                          rel_j: np.ndarray, n_lemmas: int, *, reference: str,
                          n_boot: int = N_BOOT, level: float = CI_LEVEL,
                          seed: int = 42) -> dict[str, dict[str, Any]]:
    """Per set: `pearson_ci`, `spearman_ci`, `relative_lift_pearson_ci`,
    `relative_lift_spearman_ci` (lift (r_set - r_ref) / r_ref on the same resample), with
    `n_boot`, `level`, `ci_seed` and `ci_over` beside them. An interval is None where a resample
    leaves the correlation (or the reference's, for a lift) undefined."""
    check_bootstrap(n_boot, level)
    if reference not in cos:
        raise ValueError(f"reference {reference!r} is not among the sets {list(cos)}")
    boot = resampled_correlations(s, cos, rel_i, rel_j, item_weights(n_lemmas, n_boot, seed))
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
