"""Bootstrap intervals of the relational correlations (D10), over the evaluation lemmas.

A resample draws `n_rel` evaluation lemmas with replacement (`default_rng(seed).multinomial`):
lemma i appears w_i times, and every pair among the drawn lemmas is kept, so pair (i, j) counts
w_i·w_j times (self pairs stay out, as in the point estimate). Pearson and Spearman of the
resample are then the *weighted* Pearson of the values and of their weighted mid-ranks: exactly
the correlations of the expanded sample, without expanding it. The pair cosines and similarities
are computed once; a resample only reweights them. Intervals are percentile intervals; the lift
of a set against the reference is taken on the same resample.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

N_BOOT = 200  # resamples of the evaluation lemmas
CI_LEVEL = 0.95
CHUNK = 25  # resamples reweighted at once (memory: CHUNK x n_pairs floats per array)
CI_OVER = ("lemmas: the evaluation lemmas resampled with replacement, every pair among the drawn "
           "lemmas kept (pair weight = product of the two lemmas' multiplicities)")


def check_bootstrap(n_boot: int, level: float) -> None:
    """One-line ValueError for a number of resamples below 1 or a level outside (0, 1)."""
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"evaluation.n_boot must be a whole number >= 1, got {n_boot!r}; set "
                         "it in the parameter file (default 200)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"the interval level must lie in (0, 1), got {level!r}")


def lemma_weights(n_lemmas: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n_lemmas] multiplicities of a with-replacement draw of `n_lemmas` lemmas."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_lemmas, np.full(n_lemmas, 1.0 / n_lemmas), size=n_boot).astype(
        np.float64)


def weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson of x and y under the weights of each row of w ([B, P]; x, y [P] or [B, P]):
    NaN where a weighted variance is 0 (undefined, never a number)."""
    total = w.sum(axis=1, keepdims=True)
    dx = x - (w * x).sum(axis=1, keepdims=True) / total
    dy = y - (w * y).sum(axis=1, keepdims=True) / total
    cov, vx, vy = ((w * dx * dy).sum(axis=1), (w * dx * dx).sum(axis=1),
                   (w * dy * dy).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / np.sqrt(vx * vy)
    return np.where((vx > 0) & (vy > 0), r, np.nan)


def weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """[B, P] mid-ranks of x ([P]) in the sample where value k appears w[b, k] times (ties share
    the mean of their positions, as `scipy.stats.rankdata`)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)] - 1
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    ws = w[:, order]
    total = np.add.reduceat(ws, starts, axis=1)
    before = np.cumsum(ws, axis=1)[:, ends] - total
    ranks = np.empty_like(ws)
    ranks[:, order] = (before + (total + 1.0) / 2.0)[:, group]
    return ranks


def interval(samples: np.ndarray, level: float = CI_LEVEL) -> list[float] | None:
    """Percentile interval of the resampled values; None when any of them is undefined (NaN)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size == 0 or not np.isfinite(samples).all():
        return None
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [tail, 1.0 - tail])
    return [float(lo), float(hi)]


def resampled_correlations(s: np.ndarray, cos: Mapping[str, np.ndarray], rel_i: np.ndarray,
                           rel_j: np.ndarray, n_lemmas: int, *, n_boot: int = N_BOOT,
                           seed: int = 42) -> dict[str, dict[str, np.ndarray]]:
    """{set: {"pearson": [n_boot], "spearman": [n_boot]}}: each set's correlation of `s` with its
    pair cosines on every lemma resample (pairs (rel_i[k], rel_j[k]) index the lemmas)."""
    check_bootstrap(n_boot, CI_LEVEL)
    s = np.asarray(s, dtype=np.float64)
    cos = {name: np.asarray(c, dtype=np.float64) for name, c in cos.items()}
    weights = lemma_weights(n_lemmas, n_boot, seed)
    out = {name: {"pearson": np.empty(n_boot), "spearman": np.empty(n_boot)} for name in cos}
    for lo in range(0, n_boot, CHUNK):
        w_lemma = weights[lo:lo + CHUNK]
        w = w_lemma[:, rel_i] * w_lemma[:, rel_j]
        s_rank = weighted_ranks(s, w)
        for name, c in cos.items():
            out[name]["pearson"][lo:lo + CHUNK] = weighted_pearson(s, c, w)
            out[name]["spearman"][lo:lo + CHUNK] = weighted_pearson(
                s_rank, weighted_ranks(c, w), w)
    return out


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
    boot = resampled_correlations(s, cos, rel_i, rel_j, n_lemmas, n_boot=n_boot, seed=seed)
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
