"""The 50-seed stability test of the WordNet alignment (SPEC-terrain §3).

Per seed, `default_rng(seed)` draws in the seed's order: (1) 2,000 matched lemmas without
replacement, (2) `pi`, `pj` (self pairs dropped), (3) cosines, (4) Pearson and Spearman, (5) the
high (s >= 0.25) and low (s < 0.1) band means, (6) 500 pentachora (one `choice(N, 5)` each), CV
and mean volume, (7) up to 1,000 hypernym chains without replacement and, for d in 1, 3, 5, the
mean cosine of root and chain[d]. Path similarities come from one dense distance matrix over all
matched synsets (exact NLTK values; the seed stores them as float32, and so do we).

Differences from the seed, none changing a reported value: cosines come from a Gram matrix
(float32 rounding order differs), volumes are float64 (the seed used float32 on the GPU), and a
statistic with no data in a seed is NaN and left out of the summary (the seed skipped the append).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sps
from tqdm.auto import tqdm

from lib.stats.intervals import check_resampling, defined, percentile_interval
from lib.stats.pairs import resampled_correlations
from lib.stats.resampling import multiplicities
from lib.terrain.alignment import (
    chain_cosines,
    check_reps,
    relational_correlation,
    sample_pairs,
)
from lib.terrain.cosine import normalize_rows
from lib.terrain.similarity import path_distance_matrix, similarity_from_distance
from lib.terrain.simplex import cayley_menger_volumes, sample_simplices

CHAIN_DEPTHS = (1, 3, 5)
CONFIDENCE = 0.95


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The seed's `mean ± std (ddof 0) [min, max]` over the finite values, plus (an addition the
    seed never computed) a t-interval of the mean with ddof 1, `scipy.stats.t`."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("summarize needs at least one finite value (got none)")
    out: dict[str, Any] = {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std()),
                           "min": float(v.min()), "max": float(v.max())}
    if v.size > 1:
        half = sps.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
        out["ci"] = [out["mean"] - float(half), out["mean"] + float(half)]
    else:
        out["ci"] = [float("nan"), float("nan")]
    out["ci_level"] = confidence
    return out


def _mean_or_nan(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else float("nan")


def run_seed(
    seed: int,
    static_n: np.ndarray,
    encoder_n: np.ndarray,
    static: np.ndarray,
    encoder: np.ndarray,
    distances: np.ndarray,
    chains: Sequence[Sequence[int]],
    n_rel: int,
    n_pairs: int,
    n_simplices: int,
    n_chains: int = 1000,
) -> dict[str, float]:
    """Steps 1-7 for one seed; `*_n` are the row-normalized reps, `distances` the [N, N] matrix."""
    n = len(static)
    rng = np.random.default_rng(seed)
    rel, pi, pj = sample_pairs(n, min(n_rel, n), n_pairs, rng)
    gi, gj = rel[pi], rel[pj]
    s = similarity_from_distance(distances[gi, gj]).astype(np.float32)
    ok = np.isfinite(s) & (s > 0)
    s = s[ok]
    out: dict[str, float] = {}
    for name, Xn in (("enc", encoder_n), ("static", static_n)):
        sub = Xn[rel]
        c = (sub @ sub.T)[pi[ok], pj[ok]]
        corr = relational_correlation(s, c)
        out[f"{name}_pearson"], out[f"{name}_spearman"] = corr["pearson"], corr["spearman"]
        out[f"band_high_{name}"] = _mean_or_nan(c[s >= 0.25])
        out[f"band_low_{name}"] = _mean_or_nan(c[s < 0.1])
    simplices = sample_simplices(n, n_simplices, rng)
    for name, X in (("enc", encoder), ("static", static)):
        v = cayley_menger_volumes(X[simplices])
        v = v[np.isfinite(v)]
        out[f"{name}_cv"] = float(v.std() / v.mean()) if v.size else float("nan")
        out[f"{name}_vol_mean"] = _mean_or_nan(v)
    if chains:
        pick = rng.choice(len(chains), size=min(n_chains, len(chains)), replace=False)
        chosen = [chains[k] for k in pick]
        for d in CHAIN_DEPTHS:
            out[f"hyp_depth{d}_enc"] = _mean_or_nan(chain_cosines(encoder_n, chosen, d))
            out[f"hyp_depth{d}_static"] = _mean_or_nan(chain_cosines(static_n, chosen, d))
    return out


def stability(
    static: np.ndarray,
    encoder: np.ndarray,
    matched: Sequence[Any],
    chains: Sequence[Sequence[int]],
    n_seeds: int = 50,
    n_rel: int = 2000,
    n_pairs: int = 200_000,
    n_simplices: int = 500,
    n_chains: int = 1000,
    confidence: float = CONFIDENCE,
    distances: np.ndarray | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """§3 over seeds 0..n_seeds-1: per-seed values and their summaries (see `summarize`).

    Derived per seed: gradients (high - low band) and hypernym decay (depth 1 - depth 5). The
    "invariant check" is `std/mean*100` of encoder CV, static CV and encoder Pearson.
    `distances` (from `path_distance_matrix` over the matched synsets) can be passed to reuse it.
    """
    check_reps(static, encoder, matched)
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1; got {n_seeds}")
    n = len(matched)
    if distances is None:
        distances = path_distance_matrix([item[1] for item in matched])
    elif distances.shape != (n, n):
        raise ValueError(f"distances must be [{n}, {n}] over the matched synsets; "
                         f"got {distances.shape}")
    static = np.asarray(static, dtype=np.float32)
    encoder = np.asarray(encoder, dtype=np.float32)
    static_n, encoder_n = normalize_rows(static), normalize_rows(encoder)
    per_seed: dict[str, list[float]] = {}
    for seed in tqdm(range(n_seeds), desc="stability seeds", disable=not progress):
        row = run_seed(seed, static_n, encoder_n, static, encoder, distances, chains,
                       n_rel, n_pairs, n_simplices, n_chains)
        for key, value in row.items():
            per_seed.setdefault(key, []).append(value)
    values = {k: np.asarray(v) for k, v in per_seed.items()}
    for name in ("enc", "static"):
        values[f"gradient_{name}"] = values[f"band_high_{name}"] - values[f"band_low_{name}"]
        if f"hyp_depth1_{name}" in values:
            values[f"decay_{name}"] = values[f"hyp_depth1_{name}"] - values[f"hyp_depth5_{name}"]
    summary = {k: summarize(v, confidence) for k, v in values.items() if np.isfinite(v).any()}
    invariant = {
        key: 100.0 * summary[key]["std"] / summary[key]["mean"]
        for key in ("enc_cv", "static_cv", "enc_pearson")
        if key in summary
    }
    return {
        "n_seeds": n_seeds,
        "sizes": {"n_matched": n, "n_rel": min(n_rel, n), "n_pairs": n_pairs,
                  "n_simplices": n_simplices, "n_chains": min(n_chains, len(chains))},
        "per_seed": {k: [float(x) for x in v] for k, v in values.items()},
        "summary": summary,
        "invariant_pct": invariant,
        "what": SUMMARY_WHAT,
        "ci_note": f"'ci' is a {confidence:.0%} t-interval of the mean (ddof 1), an addition: "
                   "the seed printed mean ± std (ddof 0) [min, max] only. It is the precision "
                   "of the mean over the resampling seeds, not an uncertainty of the "
                   "correlation (that is synset_bootstrap's interval)",
    }


# --- bootstrap over synsets: the uncertainty of the §2 correlations -----------------------------

N_BOOT = 200
SUMMARY_WHAT = "precision of the mean over resamples (not an uncertainty of the correlation)"
BOOTSTRAP_WHAT = "uncertainty of the correlation over synsets"
def synset_bootstrap(
    s: np.ndarray,
    cosines: dict[str, np.ndarray],
    pi: np.ndarray,
    pj: np.ndarray,
    n_items: int,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = CONFIDENCE,
) -> dict[str, Any]:
    """Percentile bootstrap over the sampled lemmas of the pair correlations (Pearson, Spearman).

    Each resample draws the `n_items` lemmas of the pair sample with replacement
    (`default_rng(seed).multinomial`); a pair (i, j) then appears count_i x count_j times, the
    pairs among the resampled lemmas, and the correlations are those of that multiset
    (`lib.stats.pairs`, shared with the modulator's intervals), equal to recomputing them on
    the expanded pair list. `cosines`: name (`enc`, `static`) -> the pairs' cosines; with both,
    `lift_<corr>` = enc - static per resample. Returns `<name>_<corr>`: {estimate (all pairs
    once), mean, ci: [lo, hi] (None where fewer than half the resamples are defined),
    n_defined}, and n_boot, level, seed, what.
    """
    s = np.asarray(s, dtype=np.float64)
    check_resampling(n_boot, level)
    if len(s) != len(pi) or len(pi) != len(pj) or any(len(c) != len(s) for c in cosines.values()):
        raise ValueError("s, pi, pj and every cosine array need one entry per pair")
    # the point estimate: every pair once; then each resample of the items
    ones = np.ones((1, len(s)))
    once = resampled_correlations(s, cosines, np.arange(len(s)), np.arange(len(s)), ones)
    boot = resampled_correlations(s, cosines, pi, pj, multiplicities(n_items, n_boot, seed))
    estimate = {f"{name}_{corr}": float(once[name][corr][0])
                for name in cosines for corr in ("pearson", "spearman")}
    per = {f"{name}_{corr}": boot[name][corr] for name in cosines
           for corr in ("pearson", "spearman")}
    arrays = {k: np.asarray(v) for k, v in per.items()}
    if {"enc", "static"} <= set(cosines):
        for corr in ("pearson", "spearman"):
            arrays[f"lift_{corr}"] = arrays[f"enc_{corr}"] - arrays[f"static_{corr}"]
            estimate[f"lift_{corr}"] = estimate[f"enc_{corr}"] - estimate[f"static_{corr}"]
    out: dict[str, Any] = {}
    for key, v in arrays.items():
        finite = defined(v)
        ci = percentile_interval(v, level)
        out[key] = {"estimate": estimate[key],
                    "mean": float(finite.mean()) if ci is not None else None,
                    "ci": list(ci) if ci is not None else None,
                    "n_defined": int(finite.size)}
    return out | {"n_boot": n_boot, "level": level, "seed": seed, "n_items": n_items,
                  "n_pairs": len(s), "what": BOOTSTRAP_WHAT}
