"""Cayley-Menger simplex volumes (SPEC-terrain D1), batched, and the seed's sampling protocols.

`cayley_menger_volumes(points)` takes [n, k+1, d] points and returns float64 volumes, NaN where
the squared volume is not positive (the seed's `if vol_sq > 0`; never `abs`). As D1 says, the
distances are computed in the points' dtype (float32 or float64; others as float64) and stored in
float64: the per-simplex Gram products in that dtype, ‖p_i−p_j‖² = g_ii + g_jj − 2 g_ij in
float64, then one batched determinant: numpy on the CPU, torch on the GPU for a CUDA tensor.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import torch


def _check_points(points: Any) -> tuple[int, int, int]:
    shape = tuple(points.shape)
    if len(shape) != 3:
        raise ValueError(f"points must be [n, k+1, d] (n simplices of k+1 points in d dims); "
                         f"got shape {shape}")
    n, m, d = shape
    if n == 0:
        raise ValueError("points holds no simplex (n = 0); pass at least one [k+1, d] block")
    if m < 2:
        raise ValueError(f"a simplex needs at least 2 points (k >= 1); got k+1 = {m}")
    if d < 1:
        raise ValueError(f"points have no coordinates (d = {d})")
    return n, m, d


def cm_denominator(k: int) -> tuple[int, int]:
    """(sign, denominator) with vol² = sign·det(CM)/denominator = (-1)^(k+1) det / (2^k (k!)²)."""
    return (-1) ** (k + 1), (2**k) * math.factorial(k) ** 2


def _cm_from_sqdist(d2: torch.Tensor) -> torch.Tensor:
    """Bordered Cayley-Menger matrices [n, m+1, m+1] from squared distances [n, m, m]."""
    n, m, _ = d2.shape
    cm = torch.ones((n, m + 1, m + 1), dtype=torch.float64, device=d2.device)
    cm[:, 0, 0] = 0.0
    cm[:, 1:, 1:] = d2
    return cm


_CANCELLATION = 4.0  # (g_ii + g_jj) / ‖p_i−p_j‖² above this: recompute on centered points


def _cm_gram(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Cayley-Menger matrices [n, m+1, m+1] float64, [n] bool: some (g_ii + g_jj) / d²_ij
    exceeds `_CANCELLATION`, i.e. float32 cancellation may have cost digits).

    Gram row i is one `vecdot` of point i with points i..m-1 over all simplices, in the points'
    dtype (views, no copies); d²_ij = g_ii + g_jj − 2 g_ij is formed in float64.
    """
    n, m, _ = points.shape
    i, j = np.triu_indices(m, 1)
    rows = [np.vecdot(points[:, r : r + 1, :], points[:, r:, :]) for r in range(m)]
    sq = np.stack([row[:, 0] for row in rows], axis=1).astype(np.float64)
    gram = np.concatenate([row[:, 1:] for row in rows[:-1]], axis=1).astype(np.float64)
    norms = sq[:, i] + sq[:, j]
    d2 = np.maximum(norms - 2.0 * gram, 0.0)
    far = (norms > _CANCELLATION * d2).any(axis=1)
    cm = np.ones((n, (m + 1) ** 2), dtype=np.float64)
    cm[:, (m + 2) * np.arange(m + 1)] = 0.0  # the diagonal, D[0, 0] included
    cm[:, (i + 1) * (m + 1) + j + 1] = d2
    cm[:, (j + 1) * (m + 1) + i + 1] = d2
    return cm.reshape(n, m + 1, m + 1), far


def _cm_numpy(points: np.ndarray) -> np.ndarray:
    """Cayley-Menger matrices [n, m+1, m+1] (float64), distances in the points' dtype (D1;
    float32 or float64, any other dtype as float64).

    The Gram form loses precision where the points lie far from the origin relative to their
    distances (float32 cancellation); those simplices are recomputed on points moved to their
    first point (distances unchanged), so the values stay within float32 rounding of the seed's
    direct differences.
    """
    points = np.asarray(points)
    if points.dtype not in (np.float32, np.float64):
        points = points.astype(np.float64)
    cm, far = _cm_gram(points)
    if far.any():
        block = points[far]
        cm[far] = _cm_gram(block - block[:, :1])[0]
    return cm


def _sqdist_torch(points: torch.Tensor) -> torch.Tensor:
    block = points.to(torch.float64)
    gram = block @ block.transpose(1, 2)
    sq = torch.diagonal(gram, dim1=1, dim2=2)
    d2 = sq[:, :, None] + sq[:, None, :] - 2.0 * gram
    diag = torch.arange(points.shape[1], device=points.device)
    d2[:, diag, diag] = 0.0
    return d2.clamp_min(0.0)


def cayley_menger_vol2(points: Any) -> np.ndarray:
    """Squared volumes (D1) of [n, k+1, d] simplices as float64 [n]; may be <= 0 if degenerate."""
    n, m, _ = _check_points(points)
    sign, denom = cm_denominator(m - 1)
    if isinstance(points, torch.Tensor) and points.is_cuda:
        det = torch.linalg.det(_cm_from_sqdist(_sqdist_torch(points.detach())))
        return (sign * det / denom).cpu().numpy()
    if isinstance(points, torch.Tensor):
        if points.dtype not in (torch.float32, torch.float64):
            points = points.to(torch.float64)
        points = points.detach().cpu().numpy()
    cm = _cm_numpy(points)
    if m == 5:  # pentachora: the same volume from the 4x4 Gram of the edges, a closed-form det
        return _det4(_edge_gram(cm[:, 1:, 1:])) / math.factorial(4) ** 2
    return sign * np.linalg.det(cm) / denom


def _edge_gram(d2: np.ndarray) -> np.ndarray:
    """Gram [n, k, k] of the edges p_a - p_0 from squared distances [n, k+1, k+1]:
    (d²_0a + d²_0b - d²_ab) / 2 (vol² = det / (k!)², equal to the Cayley-Menger form)."""
    return 0.5 * (d2[:, 0, 1:, None] + d2[:, 0, None, 1:] - d2[:, 1:, 1:])


def _det4(g: np.ndarray) -> np.ndarray:
    """Determinants of [n, 4, 4] matrices by cofactor expansion (vectorized, no LAPACK calls)."""
    a, b, c, d = (g[:, 0, j] for j in range(4))
    e, f, h, i = (g[:, 1, j] for j in range(4))
    j_, k, l_, m = (g[:, 2, j] for j in range(4))
    n, o, p, q = (g[:, 3, j] for j in range(4))
    lq_mp, kq_mo, kp_lo = l_ * q - m * p, k * q - m * o, k * p - l_ * o
    jq_mn, jp_ln, jo_kn = j_ * q - m * n, j_ * p - l_ * n, j_ * o - k * n
    return (a * (f * lq_mp - h * kq_mo + i * kp_lo) - b * (e * lq_mp - h * jq_mn + i * jp_ln)
            + c * (e * kq_mo - f * jq_mn + i * jo_kn) - d * (e * kp_lo - f * jp_ln + h * jo_kn))


def cayley_menger_volumes(points: Any) -> np.ndarray:
    """Volumes of [n, k+1, d] simplices (numpy or torch, any float dtype) as float64 [n].

    NaN where the squared volume is not positive (degenerate or rounding-negative), as the seed
    kept only `vol_sq > 0`.
    """
    vol2 = cayley_menger_vol2(points)
    out = np.full(vol2.shape, np.nan)
    ok = np.isfinite(vol2) & (vol2 > 0)
    out[ok] = np.sqrt(vol2[ok])
    return out


def cayley_menger_volumes_loop(points: Any) -> np.ndarray:
    """Reference, the seed's loop (D1, seed 004 L178): per simplex a Python double loop over the
    point pairs, each ‖p_i−p_j‖² an `np.sum` in the points' own dtype stored in a float64 matrix,
    then one `np.linalg.det`."""
    n, m, _ = _check_points(points)
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    out = np.full(n, np.nan)
    for s in range(n):
        pts = points[s]
        cm = np.zeros((m + 1, m + 1))
        cm[0, 1:] = 1
        cm[1:, 0] = 1
        for i in range(m):
            for j in range(i + 1, m):
                d_sq = np.sum((pts[i] - pts[j]) ** 2)
                cm[i + 1, j + 1] = d_sq
                cm[j + 1, i + 1] = d_sq
        sign, denom = cm_denominator(m - 1)
        vol2 = sign * np.linalg.det(cm) / denom
        if vol2 > 0:
            out[s] = np.sqrt(vol2)
    return out


def volume_summary(volumes: Any) -> dict[str, Any]:
    """Valid count, mean, std (ddof 0), CV, min, max, median over the finite volumes.

    With fewer than 2 valid volumes every statistic is NaN and `note` says why.
    """
    v = np.asarray(volumes, dtype=np.float64).ravel()
    ok = v[np.isfinite(v)]
    out: dict[str, Any] = {"n": int(v.size), "valid": int(ok.size)}
    if ok.size < 2:
        nan = float("nan")
        out.update(mean=nan, std=nan, cv=nan, min=nan, max=nan, median=nan,
                   note=f"only {ok.size} valid volume(s) of {v.size}: CV needs at least 2")
        return out
    mean, std = float(ok.mean()), float(ok.std())
    out.update(mean=mean, std=std, cv=std / mean, min=float(ok.min()), max=float(ok.max()),
               median=float(np.median(ok)), note="")
    return out


def volume_cv(volumes: Any) -> float:
    """CV = std (ddof 0) / mean over the finite volumes; NaN with a warning if fewer than 2."""
    summary = volume_summary(volumes)
    if summary["note"]:
        warnings.warn(f"volume_cv is NaN: {summary['note']}", RuntimeWarning, stacklevel=2)
    return summary["cv"]


def sample_simplices(n: int, count: int, rng: np.random.Generator, k: int = 4,
                     replace: bool = False) -> np.ndarray:
    """[count, k+1] row ids: one `rng.choice(n, k+1, replace)` per simplex (the seed's order)."""
    if k < 1:
        raise ValueError(f"k must be >= 1 (a k-simplex has k+1 points); got {k}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    if count < 1:
        raise ValueError(f"count must be >= 1; got {count}")
    if not replace and n < k + 1:
        raise ValueError(f"cannot draw {k + 1} distinct rows from n = {n}; need n >= k+1 "
                         "or replace=True")
    return np.stack([rng.choice(n, size=k + 1, replace=replace) for _ in range(count)])


def isotropic_gaussian(rng: np.random.Generator, count: int, d: int, sigma: float,
                       k: int = 4) -> np.ndarray:
    """§1 reference: `rng.normal(0, sigma, (count, k+1, d))` cast to float32 (global scalar σ).

    One call draws the same stream as `count` consecutive `(k+1, d)` draws.
    """
    if not np.isscalar(sigma) or not sigma > 0:
        raise ValueError(f"isotropic sigma must be a positive scalar; got {sigma!r}")
    return rng.normal(0.0, float(sigma), size=(count, k + 1, d)).astype(np.float32)


def per_dimension_gaussian(rng: np.random.Generator, count: int, sigma: Any,
                           k: int = 4) -> np.ndarray:
    """§13a reference (B13): `rng.standard_normal((count, k+1, d)) * sigma` with σ per dimension."""
    sigma = np.asarray(sigma)
    if sigma.ndim != 1 or sigma.size == 0:
        raise ValueError(f"per-dimension sigma must be a 1-D vector [d]; got shape {sigma.shape}")
    return rng.standard_normal((count, k + 1, sigma.size)) * sigma


def reference_kind(sigma: Any) -> str:
    """'isotropic' for a scalar σ (§1), 'per-dimension' for a vector σ (§13a)."""
    return "isotropic" if np.ndim(sigma) == 0 else "per-dimension"


def gaussian_reference(rng: np.random.Generator, count: int, d: int, sigma: Any,
                       k: int = 4) -> np.ndarray:
    """Random simplices [count, k+1, d]: isotropic for a scalar σ, per-dimension for a vector."""
    if reference_kind(sigma) == "isotropic":
        return isotropic_gaussian(rng, count, d, sigma, k)
    if np.size(sigma) != d:
        raise ValueError(f"per-dimension sigma has {np.size(sigma)} entries but d = {d}")
    return per_dimension_gaussian(rng, count, sigma, k)


def pentachoron_benchmark(n: int = 1000, d: int = 512, seed: int = 0, device: str = "cpu",
                          repeats: int = 5) -> dict[str, Any]:
    """Batched vs the seed's loop on the same random float32 pentachora [n, 5, d].

    Each side runs `repeats` times in a row, in this process; the best time of each counts.
    `max_abs_diff` / `max_rel_diff` compare the volumes where both are valid.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, 5, d)).astype(np.float32)
    batched_input: Any = torch.from_numpy(points).to(device) if device != "cpu" else points
    cayley_menger_volumes(batched_input[:2])  # warm-up
    cayley_menger_volumes_loop(points[:2])
    batched_s = loop_s = float("inf")
    for _ in range(repeats):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        ours = cayley_menger_volumes(batched_input)
        batched_s = min(batched_s, time.perf_counter() - start)
    for _ in range(repeats):
        start = time.perf_counter()
        ref = cayley_menger_volumes_loop(points)
        loop_s = min(loop_s, time.perf_counter() - start)
    both = np.isfinite(ours) & np.isfinite(ref)
    diff = np.abs(ours[both] - ref[both])
    return {
        "n": n, "d": d, "seed": seed, "device": device, "repeats": repeats,
        "batched_s": batched_s, "loop_s": loop_s, "speedup": loop_s / batched_s,
        "max_abs_diff": float(diff.max()) if diff.size else float("nan"),
        "max_rel_diff": float((diff / ref[both]).max()) if diff.size else float("nan"),
        "same_validity": bool(np.array_equal(np.isfinite(ours), np.isfinite(ref))),
        "mean_volume": float(np.nanmean(ref)),
    }
