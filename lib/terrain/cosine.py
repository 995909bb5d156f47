"""Cosine and distance statistics of embedding rows (seed 004 §1, §13a).

Rows are normalized as `x / (||x|| + 1e-8)`; "upper triangle" is `triu_indices(n, k=1)`; std is
ddof 0 (numpy). Samples are `rng.choice(V, n, replace=False)` from the caller's generator, so the
caller controls the seed's rng stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import pdist

from lib.stats.correlation import pearson

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
NEAR_TOL = 0.01

# The named constants the cosines are checked against (seed 004 §1). B2: 0.29514 is the executed
# "phil_constant" cosine; the modulator's alpha constant 0.29154 is a different number (two digits
# transposed) and is not checked here.
COSINE_CONSTANTS: tuple[tuple[float, str], ...] = (
    (0.0, "zero"), (0.19471, "qwen_mean"), (0.29514, "phil_constant"), (0.5, "half"),
)
# The thresholds of seed 004 §13a's cosine check (the seed prints only the value; labels added
# where the value is a constant).
COSINE_THRESHOLDS: tuple[tuple[float, str], ...] = (
    (0.0, "zero"), (0.1, "0.1"), (0.2, "0.2"), (0.29514, "phil_constant"), (0.3, "0.3"),
    (0.5, "half"), (0.7, "0.7"), (0.9, "0.9"),
)

# The seed's eight word lists (§1 L267-276); "fish" is in both animals and food.
SEMANTIC_CATEGORIES: dict[str, list[str]] = {
    "animals": ["cat", "dog", "bird", "fish", "horse", "mouse", "bear", "wolf", "deer", "fox",
                "lion", "tiger", "snake", "whale", "frog", "rabbit", "monkey", "elephant"],
    "colors": ["red", "blue", "green", "yellow", "black", "white", "orange", "purple", "brown",
               "pink"],
    "numbers": ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
    "body": ["head", "hand", "eye", "foot", "arm", "leg", "face", "mouth", "heart", "brain"],
    "food": ["bread", "meat", "rice", "milk", "fish", "salt", "sugar", "cheese", "fruit", "water"],
    "emotions": ["happy", "sad", "angry", "fear", "love", "hate", "joy", "hope", "pain", "calm"],
    "actions": ["run", "walk", "jump", "fly", "swim", "eat", "sleep", "talk", "think", "write"],
    "time": ["day", "night", "year", "month", "week", "hour", "morning", "evening", "today",
             "tomorrow"],
}


def _to_numpy(X: Any) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        return X.detach().float().cpu().numpy()
    return np.asarray(X)


def _check_rows(X: Any, what: str = "X", min_rows: int = 1) -> None:
    if len(getattr(X, "shape", ())) != 2:
        raise ValueError(f"{what} must be a 2-D [rows, dims] matrix; got shape "
                         f"{tuple(getattr(X, 'shape', ()))}")
    if X.shape[0] < min_rows:
        raise ValueError(f"{what} has {X.shape[0]} row(s); need at least {min_rows}")


def normalize_rows(X: Any, eps: float = 1e-8) -> Any:
    """x / (||x|| + eps) per row (numpy or torch, same type back)."""
    _check_rows(X)
    if isinstance(X, torch.Tensor):
        return X / (X.norm(dim=1, keepdim=True) + eps)
    X = np.asarray(X)
    return X / (np.linalg.norm(X, axis=1, keepdims=True) + eps)


def upper_tri_cosines(X: Any) -> np.ndarray:
    """Cosines of all row pairs i < j (triu order) as a numpy vector."""
    _check_rows(X, min_rows=2)
    Xn = normalize_rows(X)
    n = X.shape[0]
    if isinstance(Xn, torch.Tensor):
        iu = torch.triu_indices(n, n, offset=1, device=Xn.device)
        return (Xn @ Xn.T)[iu[0], iu[1]].float().cpu().numpy()
    iu = np.triu_indices(n, k=1)
    return (Xn @ Xn.T)[iu]


def mean_intra_cosine(X: Any) -> float:
    """Mean upper-triangle cosine of the rows of X."""
    return float(upper_tri_cosines(X).mean())


def row_cosine(A: Any, B: Any) -> np.ndarray:
    """Per-row cosine `<a,b> / (||a|| ||b|| + 1e-8)` of two equal-shape matrices."""
    A, B = _to_numpy(A), _to_numpy(B)
    if A.shape != B.shape or A.ndim != 2:
        raise ValueError(f"row_cosine needs two equal [rows, dims] matrices; got {A.shape} and "
                         f"{B.shape}")
    dot = (A * B).sum(axis=1)
    return dot / (np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1) + 1e-8)


def sample_rows(V: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """`rng.choice(V, n, replace=False)` with a clear error when n > V."""
    if not 1 <= n <= V:
        raise ValueError(f"cannot sample {n} distinct rows from {V}; use 1 <= n <= {V}")
    return rng.choice(V, size=n, replace=False)


def value_stats(values: Any, percentiles: Sequence[float] = PERCENTILES) -> dict[str, Any]:
    """Count, mean, std (ddof 0), min, max, median and percentiles of a flat sample."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("no values to summarize")
    qs = sorted({*percentiles, 50})
    at = dict(zip(qs, np.percentile(v, qs), strict=True))  # one partition; median = 50th
    pct = [at[p] for p in percentiles]
    return {
        "n": int(v.size), "mean": float(v.mean()), "std": float(v.std()),
        "min": float(v.min()), "max": float(v.max()), "median": float(at[50]),
        "percentiles": {str(p): float(x) for p, x in zip(percentiles, pct, strict=True)},
    }


def sampled_cosines(E: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(sample ids, their upper-triangle cosines) for `rng.choice(V, n, replace=False)`."""
    _check_rows(E, "E")
    idx = sample_rows(E.shape[0], n, rng)
    rows = E[torch.from_numpy(idx).to(E.device)] if isinstance(E, torch.Tensor) else E[idx]
    return idx, upper_tri_cosines(rows)


def near_value_fractions(cosines: Any, constants: Sequence[tuple[float, str]] = COSINE_CONSTANTS,
                         tol: float = NEAR_TOL) -> list[dict[str, Any]]:
    """Per labelled constant v: `mean(|cos - v| < tol)`, `min|cos - v|` and the closest cosine."""
    c = np.asarray(cosines, dtype=np.float64).ravel()
    if c.size == 0:
        raise ValueError("no cosines given")
    out = []
    for value, label in constants:
        gap = np.abs(c - value)
        at = int(gap.argmin())
        out.append({"label": label, "value": value, "tol": tol,
                     "fraction_within": float((gap < tol).mean()),
                     "nearest_abs_diff": float(gap[at]), "closest_cosine": float(c[at])})
    return out


def digit_token_ids(tokenizer: Any) -> tuple[list[int], list[bool]]:
    """First id of `encode(str(d))` for d = 0..9, and whether each digit was a single token.

    The seed took `ids[0]` in both branches, so a split digit ('▁' + 'd') silently gave '▁'.
    """
    ids, single = [], []
    for d in range(10):
        enc = tokenizer.encode(str(d), add_special_tokens=False)
        if not enc:
            raise ValueError(f"the tokenizer encodes {str(d)!r} to no token")
        ids.append(int(enc[0]))
        single.append(len(enc) == 1)
    return ids, single


def digit_cosine_matrix(rows: Any) -> np.ndarray:
    """The [10, 10] cosine matrix of the 10 digit rows (float64)."""
    X = _to_numpy(rows).astype(np.float64)
    if X.ndim != 2 or X.shape[0] != 10:
        raise ValueError(f"need the 10 digit rows [10, dims]; got shape {X.shape}")
    Xn = normalize_rows(X)
    return Xn @ Xn.T


def digit_manifold(cosines: Any) -> dict[str, Any]:
    """Digit geometry from the [10, 10] digit cosine matrix (`digit_cosine_matrix`).

    Over the 45 pairs i < j: `corr = corrcoef(|i-j|, cos)`, adjacent mean (|i-j| = 1, 9 pairs),
    non-adjacent mean (36 pairs) and their gap. The correlation is NaN when the cosines are
    constant (`lib.stats.correlation`), with `corr_reason` saying why (None otherwise).
    """
    C = _to_numpy(cosines).astype(np.float64)
    if C.shape != (10, 10):
        raise ValueError(f"digit_manifold needs a [10, 10] cosine matrix; got shape {C.shape} "
                         "(use digit_cosine_matrix(rows) first)")
    i, j = np.triu_indices(10, k=1)
    gaps, cos = np.abs(i - j), C[i, j]
    adjacent, nonadjacent = cos[gaps == 1].mean(), cos[gaps > 1].mean()
    corr, reason = pearson(gaps, cos, ("|i - j|", "the digit pair cosines"))
    return {
        "corr_abs_diff_cosine": corr, "corr_reason": reason,
        "adjacent_mean": float(adjacent), "nonadjacent_mean": float(nonadjacent),
        "gap": float(adjacent - nonadjacent), "pair_cosines": cos.tolist(),
    }


def category_geometry(E: Any, tokenizer: Any, global_mean: float,
                      categories: Mapping[str, Sequence[str]] | None = None,
                      min_words: int = 3) -> dict[str, Any]:
    """Per category: single-token words kept, intra cosine, lift over the global mean; centroids.

    A word counts when `encode(word, add_special_tokens=False)` is one id; a category needs at
    least `min_words`. Centroids are means of the raw rows; their cosine matrix is returned.
    """
    E = _to_numpy(E)
    categories = SEMANTIC_CATEGORIES if categories is None else categories
    per: dict[str, Any] = {}
    centroids = {}
    for name, words in categories.items():
        kept = [(w, ids[0]) for w in words
                if len(ids := tokenizer.encode(w, add_special_tokens=False)) == 1]
        if len(kept) < min_words:
            per[name] = {"n": len(kept), "skipped": True, "words": [w for w, _ in kept]}
            continue
        rows = E[[i for _, i in kept]].astype(np.float32)
        intra = mean_intra_cosine(rows)
        per[name] = {"n": len(kept), "skipped": False, "words": [w for w, _ in kept],
                     "token_ids": [int(i) for _, i in kept], "intra": intra,
                     "lift": intra - global_mean}
        centroids[name] = rows.mean(axis=0)
    names = list(centroids)
    matrix = (normalize_rows(np.stack([centroids[c] for c in names])) @
              normalize_rows(np.stack([centroids[c] for c in names])).T).tolist() if names else []
    return {"global_mean": float(global_mean), "categories": per,
            "centroid_names": names, "centroid_cosine": matrix}


def special_token_geometry(E: Any, token_ids: Mapping[str, int]) -> dict[str, Any]:
    """Norms of named token rows and the cosine of every pair (names in the given order)."""
    E = _to_numpy(E)
    if not token_ids:
        raise ValueError("no special tokens given")
    names = list(token_ids)
    ids = [int(token_ids[n]) for n in names]
    if any(not 0 <= i < E.shape[0] for i in ids):
        raise ValueError(f"special token ids {ids} outside the vocabulary of {E.shape[0]} rows")
    rows = E[ids].astype(np.float32)
    C = normalize_rows(rows) @ normalize_rows(rows).T
    norms = np.linalg.norm(rows, axis=1)
    return {
        "tokens": [{"name": n, "id": i, "norm": float(x)}
                   for n, i, x in zip(names, ids, norms, strict=True)],
        "pair_cosines": [{"a": names[a], "b": names[b], "cosine": float(C[a, b])}
                         for a in range(len(names)) for b in range(a + 1, len(names))],
    }


def pairwise_distances(X: Any) -> np.ndarray:
    """Euclidean distances of all row pairs i < j (scipy `pdist` order), float64."""
    _check_rows(X, min_rows=2)
    if isinstance(X, torch.Tensor) and X.is_cuda:
        return torch.pdist(X.detach().to(torch.float64)).cpu().numpy()
    return pdist(_to_numpy(X), metric="euclidean")


def distance_stats(E: Any, n: int, rng: np.random.Generator,
                   percentiles: Sequence[float] = PERCENTILES) -> dict[str, Any]:
    """Euclidean distances of a `rng.choice(V, n, replace=False)` sample: stats and CV."""
    _check_rows(E, "E")
    idx = sample_rows(E.shape[0], n, rng)
    rows = E[torch.from_numpy(idx).to(E.device)] if isinstance(E, torch.Tensor) else E[idx]
    out = value_stats(pairwise_distances(rows), percentiles)
    out["cv"] = out["std"] / out["mean"]
    return out
