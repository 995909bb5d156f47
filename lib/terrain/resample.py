"""Resampling items of a pair sample: the one implementation behind the §3 synset bootstrap and
the modulator's intervals over evaluation lemmas.

A resample draws the `n_items` items with replacement (`default_rng(seed).multinomial`): item i
appears w_i times, and every pair among the drawn items is kept, so pair (i, j) counts w_i·w_j
times. Pearson and Spearman of a resample are the *weighted* Pearson of the values and of their
weighted mid-ranks: exactly the correlations of the expanded pair list, without expanding it.
Arrays are [B, P]: B resamples (rows) of P pairs. A correlation is undefined (NaN) where a side
is constant up to rounding (`lib.terrain.correlation`'s rule) or the total weight is below 2.
"""

from __future__ import annotations

import numpy as np

from lib.terrain.correlation import NEAR_CONSTANT_ULPS

ROUNDING = NEAR_CONSTANT_ULPS * float(np.finfo(np.float32).eps)  # as lib.terrain.correlation
ROWS_BUDGET = 5_000_000  # floats per [rows, pairs] array when resamples are reweighted at once


def item_weights(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n_items] multiplicities of a with-replacement draw of `n_items` items."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(
        np.float64)


def chunk_rows(n_pairs: int) -> int:
    """How many resamples to reweight at once for `n_pairs` pairs (memory, not results)."""
    return max(1, min(100, ROWS_BUDGET // max(n_pairs, 1)))


def weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """[B] Pearson of x and y ([P] or [B, P]) under each row of the weights w ([B, P])."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = x - (w * x).sum(axis=1, keepdims=True) / total
        dy = y - (w * y).sum(axis=1, keepdims=True) / total
        vx, vy = (w * dx * dx).sum(axis=1), (w * dy * dy).sum(axis=1)
        r = (w * dx * dy).sum(axis=1) / np.sqrt(vx * vy)
        sx, sy = np.sqrt(vx / total[:, 0]), np.sqrt(vy / total[:, 0])
    scale_x = ROUNDING * np.abs(x).max(axis=-1, initial=0.0)
    scale_y = ROUNDING * np.abs(y).max(axis=-1, initial=0.0)
    defined = (total[:, 0] >= 2) & (sx > scale_x) & (sy > scale_y)
    return np.where(defined, r, np.nan)


def weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """[B, P] mid-ranks of x ([P]) in the sample where value k appears w[b, k] times (ties share
    the mean of their positions, as `scipy.stats.rankdata`)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(xs)] - 1
    group = np.cumsum(new) - 1
    ws = w[:, order]
    total = np.add.reduceat(ws, starts, axis=1)
    before = np.cumsum(ws, axis=1)[:, ends] - total
    ranks = np.empty_like(ws)
    ranks[:, order] = (before + (total + 1.0) / 2.0)[:, group]
    return ranks


def resampled_correlations(s: np.ndarray, values: dict[str, np.ndarray], pi: np.ndarray,
                           pj: np.ndarray, weights: np.ndarray
                           ) -> dict[str, dict[str, np.ndarray]]:
    """{name: {"pearson": [B], "spearman": [B]}}: the correlation of `s` with each of `values`
    (one entry per pair (pi[k], pj[k])) under every row of the item `weights` ([B, n_items])."""
    s = np.asarray(s, dtype=np.float64)
    values = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    n_boot = len(weights)
    out = {k: {"pearson": np.empty(n_boot), "spearman": np.empty(n_boot)} for k in values}
    rows = chunk_rows(len(s))
    for lo in range(0, n_boot, rows):
        w_items = weights[lo:lo + rows]
        w = w_items[:, pi] * w_items[:, pj]
        s_rank = weighted_ranks(s, w)
        for name, v in values.items():
            out[name]["pearson"][lo:lo + rows] = weighted_pearson(s, v, w)
            out[name]["spearman"][lo:lo + rows] = weighted_pearson(s_rank, weighted_ranks(v, w),
                                                                   w)
    return out
