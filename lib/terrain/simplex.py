"""Cayley-Menger simplex volumes (SPEC-terrain D1), batched, and the seed's sampling protocols.

`cayley_menger_volumes(points)` takes [n, k+1, d] points and returns float64 volumes, NaN where
the squared volume is not positive (the seed's `if vol_sq > 0`; never `abs`). As D1 says, the
distances are computed in the points' dtype (float32 or float64; others as float64) and stored in
float64: the per-simplex Gram products in that dtype, ‖p_i−p_j‖² = g_ii + g_jj − 2 g_ij in
float64, then one batched determinant (closed form for pentachora): numpy on the CPU, in chunks
over threads, torch on the GPU for a CUDA tensor.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
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
_PARALLEL_MIN = 256  # simplices per thread below which one thread is faster


def _sqdist(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(squared distances [pairs, n] float64 in `triu_indices(m, 1)` order, [n] bool: some
    (g_ii + g_jj) / d²_ij exceeds `_CANCELLATION`, i.e. float32 cancellation may have cost digits).

    Gram row i is one `vecdot` of point i with points i..m-1 over all simplices, in the points'
    dtype (views, no copies); d²_ij = g_ii + g_jj − 2 g_ij is formed in float64.
    """
    m = points.shape[1]
    i, j = np.triu_indices(m, 1)
    gram = np.concatenate([np.vecdot(points[:, r : r + 1, :], points[:, r:, :])
                           for r in range(m)], axis=1).T.astype(np.float64)
    row_start = np.concatenate(([0], np.cumsum(np.arange(m, 1, -1))))  # gram row r at column
    sq = gram[row_start]
    norms = sq[i] + sq[j]
    d2 = np.maximum(norms - 2.0 * gram[row_start[i] + j - i], 0.0)
    return d2, (norms > _CANCELLATION * d2).any(axis=0)


def _vol2_block(points: np.ndarray) -> np.ndarray:
    """Squared volumes of a [n, m, d] float32/float64 block (D1): distances in the points' dtype
    (`_sqdist`), simplices that may have lost float32 digits recomputed on points moved to their
    first point (distances unchanged), so the values stay within float32 rounding of the seed's
    direct differences; a closed-form determinant for pentachora, LAPACK otherwise."""
    n, m, _ = points.shape
    d2, far = _sqdist(points)
    if far.any():
        block = points[far]
        d2[:, far] = _sqdist(block - block[:, :1])[0]
    if m == 5:
        return _pentachoron_vol2(d2)
    sign, denom = cm_denominator(m - 1)
    i, j = np.triu_indices(m, 1)
    cm = np.ones((n, m + 1, m + 1))
    cm[:, np.arange(m + 1), np.arange(m + 1)] = 0.0
    cm[:, i + 1, j + 1] = cm[:, j + 1, i + 1] = d2.T
    return sign * np.linalg.det(cm) / denom


def _pentachoron_vol2(d2: np.ndarray) -> np.ndarray:
    """vol² = det(G) / (4!)² with G the 4x4 Gram of the edges p_a − p_0, G_ab = (d²_0a + d²_0b −
    d²_ab) / 2 (equal to the Cayley-Menger form), from squared distances [10, n] in
    `triu_indices(5, 1)` order; the symmetric determinant by cofactor expansion."""
    d01, d02, d03, d04, d12, d13, d14, d23, d24, d34 = d2
    a, f, l_, q = d01, d02, d03, d04
    b, c, d = (d01 + d02 - d12) / 2, (d01 + d03 - d13) / 2, (d01 + d04 - d14) / 2
    k, i, m = (d02 + d03 - d23) / 2, (d02 + d04 - d24) / 2, (d03 + d04 - d34) / 2
    # G = [[a, b, c, d], [b, f, k, i], [c, k, l, m], [d, i, m, q]]
    lq_mm, kq_mi, km_li = l_ * q - m * m, k * q - m * i, k * m - l_ * i
    cq_md, cm_ld, ci_kd = c * q - m * d, c * m - l_ * d, c * i - k * d
    det = (a * (f * lq_mm - k * kq_mi + i * km_li) - b * (b * lq_mm - k * cq_md + i * cm_ld)
           + c * (b * kq_mi - f * cq_md + i * ci_kd) - d * (b * km_li - f * cm_ld + k * ci_kd))
    return det / math.factorial(4) ** 2


def _threads(n: int, threads: int | None) -> int:
    """Threads for `n` simplices: `threads`, else torch's thread count (the one knob the studies
    pin), at most one per `_PARALLEL_MIN` simplices."""
    want = torch.get_num_threads() if threads is None else threads
    if want < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    return max(1, min(want, n // _PARALLEL_MIN))


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simplex")


def _vol2_numpy(points: np.ndarray, threads: int | None) -> np.ndarray:
    """Squared volumes on the CPU, in chunks of simplices over threads (numpy releases the GIL in
    `vecdot`); each simplex is computed alone, so the values do not depend on the threads."""
    points = np.asarray(points)
    if points.dtype not in (np.float32, np.float64):
        points = points.astype(np.float64)
    workers = _threads(len(points), threads)
    if workers == 1:
        return _vol2_block(points)
    return np.concatenate(list(_pool(workers).map(_vol2_block, np.array_split(points, workers))))


def _sqdist_torch(points: torch.Tensor) -> torch.Tensor:
    block = points.to(torch.float64)
    gram = block @ block.transpose(1, 2)
    sq = torch.diagonal(gram, dim1=1, dim2=2)
    d2 = sq[:, :, None] + sq[:, None, :] - 2.0 * gram
    diag = torch.arange(points.shape[1], device=points.device)
    d2[:, diag, diag] = 0.0
    return d2.clamp_min(0.0)


def cayley_menger_vol2(points: Any, threads: int | None = None) -> np.ndarray:
    """Squared volumes (D1) of [n, k+1, d] simplices as float64 [n]; may be <= 0 if degenerate.

    numpy on the CPU (over `threads` threads, default torch's thread count), torch for a CUDA
    tensor; the values do not depend on the threads.
    """
    n, m, _ = _check_points(points)
    if isinstance(points, torch.Tensor) and points.is_cuda:
        sign, denom = cm_denominator(m - 1)
        det = torch.linalg.det(_cm_from_sqdist(_sqdist_torch(points.detach())))
        return (sign * det / denom).cpu().numpy()
    if isinstance(points, torch.Tensor):
        if points.dtype not in (torch.float32, torch.float64):
            points = points.to(torch.float64)
        points = points.detach().cpu().numpy()
    return _vol2_numpy(points, threads)


def cayley_menger_volumes(points: Any, threads: int | None = None) -> np.ndarray:
    """Volumes of [n, k+1, d] simplices (numpy or torch, any float dtype) as float64 [n].

    NaN where the squared volume is not positive (degenerate or rounding-negative), as the seed
    kept only `vol_sq > 0`.
    """
    vol2 = cayley_menger_vol2(points, threads)
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

    Each variant runs `repeats` times in turn, in this process, so load hits all alike; the best
    time of each counts. The batched code runs with torch's thread count (`threads`) and on one
    thread (`batched_1thread_s`, the like-for-like comparison with the single-threaded loop);
    `floor_s` is one pass over the points (`points.sum()`), the least any method must read.
    `max_abs_diff` / `max_rel_diff` compare the volumes where both are valid; the volumes of the
    two thread counts must be identical (`threads_identical`).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, 5, d)).astype(np.float32)
    batched_input: Any = torch.from_numpy(points).to(device) if device != "cpu" else points
    threads = _threads(n, None) if device == "cpu" else 1
    variants = {
        "batched_s": lambda: cayley_menger_volumes(batched_input),
        "batched_1thread_s": lambda: cayley_menger_volumes(batched_input, threads=1),
        "loop_s": lambda: cayley_menger_volumes_loop(points),
        "floor_s": lambda: points.sum(),
    }
    for run in variants.values():  # warm-up (thread pool, caches)
        run()
    best = dict.fromkeys(variants, float("inf"))
    out: dict[str, Any] = {}
    for _ in range(repeats):
        for key, run in variants.items():
            if device != "cpu":
                torch.cuda.synchronize()
            start = time.perf_counter()
            out[key] = run()
            best[key] = min(best[key], time.perf_counter() - start)
    ours, one, ref = out["batched_s"], out["batched_1thread_s"], out["loop_s"]
    both = np.isfinite(ours) & np.isfinite(ref)
    diff = np.abs(ours[both] - ref[both])
    return {
        "n": n, "d": d, "seed": seed, "device": device, "repeats": repeats, "threads": threads,
        **best, "speedup": best["loop_s"] / best["batched_s"],
        "speedup_1thread": best["loop_s"] / best["batched_1thread_s"],
        "floor_ratio": best["batched_s"] / best["floor_s"],
        "threads_identical": bool(np.array_equal(ours, one, equal_nan=True)),
        "max_abs_diff": float(diff.max()) if diff.size else float("nan"),
        "max_rel_diff": float((diff / ref[both]).max()) if diff.size else float("nan"),
        "same_validity": bool(np.array_equal(np.isfinite(ours), np.isfinite(ref))),
        "mean_volume": float(np.nanmean(ref)),
    }
