"""Cayley-Menger simplex volumes (SPEC-terrain D1), batched, and the seed's sampling protocols.

`cayley_menger_volumes(points)` takes [n, k+1, d] points and returns float64 volumes, NaN where
the squared volume is not positive (the seed's `if vol_sq > 0`; never `abs`). As D1 says, the
distances are computed in the points' dtype (float32 or float64; others as float64) and stored in
float64: on the CPU a compiled kernel (numba) takes each pair's differences in that dtype and
sums their squares in float64, then one batched determinant (closed form for pentachora); on the
GPU, for a CUDA tensor, torch forms them from float64 Gram products.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from typing import Any

import numpy as np
import torch

from lib.stats.intervals import check_resampling, percentile_interval


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


@functools.cache
def _sqdist_kernel() -> Any:
    """The compiled squared-distance kernel (numba, cached under `.cache/numba`).

    Per simplex, per point pair: the coordinate differences in the points' dtype (as the seed's
    `points[i] - points[j]`), their squares summed in float64 (`fastmath` lets the sum run in
    SIMD lanes: the order of the float64 additions is the compiler's). One pass over the points,
    each simplex's rows read from cache: numpy's Gram form needs 15 separate dot products per
    pentachoron and is bound by reading each row six times (pentachora use `_edge_gram_kernel`).
    """
    import numba  # heavy: imported (and the kernel compiled) on the first call only

    @numba.njit(cache=True, fastmath=True, nogil=True)
    def sqdist(points: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
        n, m, d = points.shape
        for s in range(n):
            q = 0
            for i in range(m):
                for j in range(i + 1, m):
                    acc = 0.0
                    for k in range(d):
                        x = np.float64(points[s, i, k] - points[s, j, k])
                        acc += x * x
                    out[q, s] = acc
                    q += 1

    return sqdist


def _contiguous(points: np.ndarray) -> np.ndarray:
    """C-ordered float32 or float64 points, as the compiled kernels take them."""
    points = np.ascontiguousarray(points)
    return points if points.dtype in (np.float32, np.float64) else points.astype(np.float64)


def _sqdist(points: np.ndarray) -> np.ndarray:
    """Squared distances [pairs, n] (float64, `triu_indices(m, 1)` order) of [n, m, d] points."""
    points = _contiguous(points)
    n, m, _ = points.shape
    out = np.empty((m * (m - 1) // 2, n))
    _sqdist_kernel()(points, out)
    return out


@functools.cache
def _edge_gram_kernel() -> Any:
    """The compiled pentachoron kernel: per simplex, the 10 entries of the 4x4 Gram of its edges
    p_a - p_0 (differences in the points' dtype, as the seed's `points[i] - points[j]`; products
    summed in float64), all in one pass over the coordinates: five reads per coordinate and ten
    accumulators in registers, where pairwise distances read each row four times."""
    import numba  # heavy: imported (and the kernel compiled) on the first call only

    @numba.njit(cache=True, fastmath=True, nogil=True)
    def edge_gram(points: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
        n, _, d = points.shape
        for s in range(n):
            g00 = g01 = g02 = g03 = g11 = g12 = g13 = g22 = g23 = g33 = 0.0
            for k in range(d):
                p0 = points[s, 0, k]
                e0 = np.float64(points[s, 1, k] - p0)
                e1 = np.float64(points[s, 2, k] - p0)
                e2 = np.float64(points[s, 3, k] - p0)
                e3 = np.float64(points[s, 4, k] - p0)
                g00 += e0 * e0
                g01 += e0 * e1
                g02 += e0 * e2
                g03 += e0 * e3
                g11 += e1 * e1
                g12 += e1 * e2
                g13 += e1 * e3
                g22 += e2 * e2
                g23 += e2 * e3
                g33 += e3 * e3
            out[0, s], out[1, s], out[2, s], out[3, s] = g00, g01, g02, g03
            out[4, s], out[5, s], out[6, s] = g11, g12, g13
            out[7, s], out[8, s], out[9, s] = g22, g23, g33

    return edge_gram


def _vol2_numpy(points: np.ndarray) -> np.ndarray:
    """Squared volumes (D1) of [n, m, d] points on the CPU: the edge Gram's closed-form
    determinant for pentachora, LAPACK's batched Cayley-Menger determinant otherwise."""
    n, m, _ = points.shape
    if m == 5:
        gram = np.empty((10, n))
        _edge_gram_kernel()(_contiguous(points), gram)
        return _gram4_det(gram) / math.factorial(4) ** 2
    d2 = _sqdist(points)
    sign, denom = cm_denominator(m - 1)
    i, j = np.triu_indices(m, 1)
    cm = np.ones((n, m + 1, m + 1))
    cm[:, np.arange(m + 1), np.arange(m + 1)] = 0.0
    cm[:, i + 1, j + 1] = cm[:, j + 1, i + 1] = d2.T
    return sign * np.linalg.det(cm) / denom


def _gram4_det(gram: np.ndarray) -> np.ndarray:
    """det G of symmetric 4x4 matrices from their upper triangles [10, n] (row-major order), by
    cofactor expansion; vol² = det G / (4!)² for G the Gram of a pentachoron's edges (equal to
    the Cayley-Menger form)."""
    a, b, c, d, f, k, i, l_, m, q = gram
    # G = [[a, b, c, d], [b, f, k, i], [c, k, l, m], [d, i, m, q]]
    lq_mm, kq_mi, km_li = l_ * q - m * m, k * q - m * i, k * m - l_ * i
    cq_md, cm_ld, ci_kd = c * q - m * d, c * m - l_ * d, c * i - k * d
    return (a * (f * lq_mm - k * kq_mi + i * km_li) - b * (b * lq_mm - k * cq_md + i * cm_ld)
            + c * (b * kq_mi - f * cq_md + i * ci_kd) - d * (b * km_li - f * cm_ld + k * ci_kd))


def _sqdist_torch(points: torch.Tensor) -> torch.Tensor:
    block = points.to(torch.float64)
    gram = block @ block.transpose(1, 2)
    sq = torch.diagonal(gram, dim1=1, dim2=2)
    d2 = sq[:, :, None] + sq[:, None, :] - 2.0 * gram
    diag = torch.arange(points.shape[1], device=points.device)
    d2[:, diag, diag] = 0.0
    return d2.clamp_min(0.0)


def cayley_menger_vol2(points: Any) -> np.ndarray:
    """Squared volumes (D1) of [n, k+1, d] simplices as float64 [n]; may be <= 0 if degenerate.

    A compiled kernel on the CPU, torch for a CUDA tensor.
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
    return _vol2_numpy(points)


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


CV_N_BOOT = 1000  # resamples of the volume-CV intervals
CV_LEVEL = 0.95


def _boot_cv(valid: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    draws = valid[rng.integers(0, valid.size, size=(n_boot, valid.size))]
    return draws.std(axis=1) / draws.mean(axis=1)


def cv_versus_reference(volumes: Any, reference: Any, seed: int, n_boot: int = CV_N_BOOT,
                        level: float = CV_LEVEL) -> dict[str, Any]:
    """The volume CV beside its Gaussian reference's, with percentile bootstrap intervals.

    Each list's finite volumes are resampled with replacement (`default_rng(seed)`, its own
    stream: the sampling rng is untouched), `n_boot` times; `difference` = cv − reference_cv and
    its interval come from the same resamples. `distinguishable` is True when the difference's
    interval excludes 0, None (undefined) when either list has fewer than 2 valid volumes.
    """
    check_resampling(n_boot, level)
    a = np.asarray(volumes, dtype=np.float64).ravel()
    b = np.asarray(reference, dtype=np.float64).ravel()
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out: dict[str, Any] = {"n_boot": int(n_boot), "level": float(level),
                           "interval": "percentile bootstrap over the simplices"}
    if a.size < 2 or b.size < 2:
        return out | {"cv": None, "reference_cv": None, "difference": None, "cv_ci": None,
                      "reference_cv_ci": None, "difference_ci": None, "distinguishable": None,
                      "reason": f"{a.size} and {b.size} valid volumes: a CV needs at least 2"}
    rng = np.random.default_rng(seed)
    boot_a, boot_b = _boot_cv(a, rng, n_boot), _boot_cv(b, rng, n_boot)

    def ci(x: np.ndarray) -> list[float] | None:
        interval = percentile_interval(x, level)  # lib.stats: the one interval, its NaN policy
        return None if interval is None else list(interval)

    cv_a, cv_b = float(a.std() / a.mean()), float(b.std() / b.mean())
    diff_ci = ci(boot_a - boot_b)
    return out | {"cv": cv_a, "reference_cv": cv_b, "difference": cv_a - cv_b,
                  "cv_ci": ci(boot_a), "reference_cv_ci": ci(boot_b), "difference_ci": diff_ci,
                  "distinguishable": None if diff_ci is None
                  else bool(diff_ci[0] > 0 or diff_ci[1] < 0), "reason": ""}


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

    The variants take turns, `repeats` rounds in this process, so load hits all alike; in each
    round a variant runs twice in a row and its second call is timed (warm, as in a loop over
    many batches); the best time of each counts. `floor_s` is one vectorized pass over the
    points (`points.max()`, faster here than `sum()`), the least any method must read;
    `first_call_s` the batched code's first call here (kernel compile or cache load, not in
    `batched_s`). `max_abs_diff` / `max_rel_diff` compare the volumes where both are valid.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, 5, d)).astype(np.float32)
    batched_input: Any = torch.from_numpy(points).to(device) if device != "cpu" else points
    start = time.perf_counter()
    cayley_menger_volumes(batched_input[:2])
    first_call_s = time.perf_counter() - start
    variants = {
        "batched_s": lambda: cayley_menger_volumes(batched_input),
        "loop_s": lambda: cayley_menger_volumes_loop(points),
        "floor_s": lambda: points.max(),
    }
    for run in variants.values():  # warm-up
        run()
    best = dict.fromkeys(variants, float("inf"))
    out: dict[str, Any] = {}
    for _ in range(repeats):
        for key, run in variants.items():
            run()
            if device != "cpu":
                torch.cuda.synchronize()
            start = time.perf_counter()
            out[key] = run()
            if device != "cpu":
                torch.cuda.synchronize()
            best[key] = min(best[key], time.perf_counter() - start)
    ours, ref = out["batched_s"], out["loop_s"]
    both = np.isfinite(ours) & np.isfinite(ref)
    diff = np.abs(ours[both] - ref[both])
    return {
        "n": n, "d": d, "seed": seed, "device": device, "repeats": repeats, **best,
        "first_call_s": first_call_s, "speedup": best["loop_s"] / best["batched_s"],
        "floor_ratio": best["batched_s"] / best["floor_s"],
        "max_abs_diff": float(diff.max()) if diff.size else float("nan"),
        "max_rel_diff": float((diff / ref[both]).max()) if diff.size else float("nan"),
        "same_validity": bool(np.array_equal(np.isfinite(ours), np.isfinite(ref))),
        "mean_volume": float(np.nanmean(ref)),
    }
