"""Resampling the items of a pair sample: the bootstrap behind the terrain line's synset
intervals and the modulator line's intervals over evaluation lemmas.

A resample draws the `n_items` items with replacement
(`lib.stats.resampling.multiplicities`): item i appears w_i times, and every pair among the
drawn items is kept, so pair (i, j) counts w_i·w_j times. Pearson and Spearman of a resample
are the *weighted* Pearson of the values and of their weighted mid-ranks: exactly the
correlations of the expanded pair list, without expanding it.
Arrays are [B, P]: B resamples (rows) of P pairs. A correlation is undefined (NaN) where a side
is constant up to rounding (`lib.stats.correlation`'s rule) or the total weight is below 2.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from lib.stats.correlation import NEAR_CONSTANT_ULPS

ROUNDING = NEAR_CONSTANT_ULPS * float(np.finfo(np.float32).eps)  # as lib.stats.correlation


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


class RankOrder:
    """The sort of a value vector, computed once and reused for every row of weights."""

    def __init__(self, x: np.ndarray) -> None:
        self.order = np.argsort(x, kind="stable")
        xs = x[self.order]
        new = np.r_[True, xs[1:] != xs[:-1]]
        self.starts = np.flatnonzero(new)
        self.ends = np.r_[self.starts[1:], len(xs)] - 1
        self.group = np.cumsum(new) - 1

    def ranks(self, w: np.ndarray) -> np.ndarray:
        """[B, P] mid-ranks in the sample where value k appears w[b, k] times."""
        ws = w[:, self.order]
        total = np.add.reduceat(ws, self.starts, axis=1)
        before = np.cumsum(ws, axis=1)[:, self.ends] - total
        ranks = np.empty_like(ws)
        ranks[:, self.order] = (before + (total + 1.0) / 2.0)[:, self.group]
        return ranks


def weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """[B, P] mid-ranks of x ([P]) in the sample where value k appears w[b, k] times (ties share
    the mean of their positions, as `scipy.stats.rankdata`)."""
    return RankOrder(x).ranks(w)


def resampled_correlations(s: np.ndarray, values: dict[str, np.ndarray], pi: np.ndarray,
                           pj: np.ndarray, weights: np.ndarray
                           ) -> dict[str, dict[str, np.ndarray]]:
    """{name: {"pearson": [B], "spearman": [B]}}: the correlation of `s` with each of `values`
    (one entry per pair (pi[k], pj[k])) under every row of the item `weights` ([B, n_items]).

    One compiled pass per resample (`_resample_kernel`): each value vector is sorted once, and a
    resample's pair weights, weighted mid-ranks and weighted moments are formed in place, never
    as [B, P] arrays; the same numbers as `weighted_pearson` of `weighted_ranks`, in a fixed
    order of additions (no fastmath), so every CPU sums alike.
    """
    s = np.ascontiguousarray(s, dtype=np.float64)
    names = list(values)
    vs = np.ascontiguousarray(np.stack([np.asarray(values[k], dtype=np.float64) for k in names])
                              if names else np.empty((0, len(s))))
    orders = [RankOrder(x) for x in (s, *vs)]
    order = np.stack([o.order for o in orders]).astype(np.int64)
    group = np.stack([o.group for o in orders]).astype(np.int64)
    n_groups = np.array([len(o.starts) for o in orders], dtype=np.int64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    pearson, spearman = _resample_kernel()(
        s, vs, np.asarray(pi, dtype=np.int64), np.asarray(pj, dtype=np.int64), weights, order,
        group, n_groups, ROUNDING)
    return {name: {"pearson": pearson[k], "spearman": spearman[k]}
            for k, name in enumerate(names)}


@functools.cache
def _resample_kernel() -> Any:
    """The compiled bootstrap: per resample, the pair weights w_k = c[pi_k]·c[pj_k], the
    weighted mid-ranks of s and of each value vector (groups of ties from the sorts given), and
    the weighted Pearson of values and of ranks, undefined (NaN) as `weighted_pearson` says."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                rounding: float) -> float:  # pragma: no cover (compiled)
        total = sx = sy = mx = my = 0.0
        for k in range(x.shape[0]):
            total += w[k]
            sx += w[k] * x[k]
            sy += w[k] * y[k]
        if total < 2:
            return np.nan
        mx, my = sx / total, sy / total
        vx = vy = cxy = ax = ay = 0.0
        for k in range(x.shape[0]):
            dx, dy = x[k] - mx, y[k] - my
            vx += w[k] * dx * dx
            vy += w[k] * dy * dy
            cxy += w[k] * dx * dy
            ax = max(ax, abs(x[k]))
            ay = max(ay, abs(y[k]))
        if np.sqrt(vx / total) <= rounding * ax or np.sqrt(vy / total) <= rounding * ay:
            return np.nan
        return cxy / np.sqrt(vx * vy)

    @numba.njit(cache=True, nogil=True)
    def ranks(w: np.ndarray, order: np.ndarray, group: np.ndarray, n_groups: int,
              totals: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
        totals[:n_groups] = 0.0
        for i in range(order.shape[0]):
            totals[group[i]] += w[order[i]]
        before = 0.0
        for g in range(n_groups):  # totals[g] becomes the mid-rank of group g
            t = totals[g]
            totals[g] = before + (t + 1.0) / 2.0
            before += t
        for i in range(order.shape[0]):
            out[order[i]] = totals[group[i]]

    @numba.njit(cache=True, nogil=True)
    def boot(s: np.ndarray, vs: np.ndarray, pi: np.ndarray, pj: np.ndarray, counts: np.ndarray,
             order: np.ndarray, group: np.ndarray, n_groups: np.ndarray,
             rounding: float) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
        n_boot, n_values, n_pairs = counts.shape[0], vs.shape[0], s.shape[0]
        pear = np.empty((n_values, n_boot))
        spear = np.empty((n_values, n_boot))
        w = np.empty(n_pairs)
        s_rank = np.empty(n_pairs)
        v_rank = np.empty(n_pairs)
        totals = np.empty(n_pairs + 1)
        for b in range(n_boot):
            for k in range(n_pairs):
                w[k] = counts[b, pi[k]] * counts[b, pj[k]]
            ranks(w, order[0], group[0], n_groups[0], totals, s_rank)
            for j in range(n_values):
                pear[j, b] = pearson(s, vs[j], w, rounding)
                ranks(w, order[j + 1], group[j + 1], n_groups[j + 1], totals, v_rank)
                spear[j, b] = pearson(s_rank, v_rank, w, rounding)
        return pear, spear

    return boot
