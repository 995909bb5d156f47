"""Covariance spectra and the participation ratio (SPEC-terrain D2).

PR = (Σλ)² / Σλ² over the eigenvalues λ of the centered covariance XcᵀXc / (N - ddof).
§1 uses all rows and ddof 0; §13a a 10k sample and ddof 1. Computed in float64 (torch on the GPU
when X is a CUDA tensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def _check_matrix(X: Any, ddof: int) -> tuple[int, int]:
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"X must be [samples, dims]; got shape {shape}")
    n, d = shape
    if d == 0:
        raise ValueError("X has no dimensions (dims = 0)")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1; got {ddof}")
    if n - ddof < 1:
        raise ValueError(f"X has {n} sample(s): need more than ddof = {ddof}")
    return n, d


def centered_cov(X: Any, ddof: int = 0) -> np.ndarray:
    """The centered covariance XcᵀXc / (N - ddof) as float64 [dims, dims]."""
    n, _ = _check_matrix(X, ddof)
    if isinstance(X, torch.Tensor):
        Xc = X.detach().to(torch.float64)
        Xc = Xc - Xc.mean(dim=0)
        return ((Xc.T @ Xc) / (n - ddof)).cpu().numpy()
    Xc = np.asarray(X, dtype=np.float64)
    Xc = Xc - Xc.mean(axis=0)
    return (Xc.T @ Xc) / (n - ddof)


def centered_cov_eigvals(X: Any, ddof: int = 0) -> np.ndarray:
    """Eigenvalues of the centered covariance, descending (float64).

    `torch.linalg.eigvalsh` (several times faster than numpy's on the CPU here; same LAPACK
    routine family, same float64 result to rounding).
    """
    cov = torch.from_numpy(centered_cov(X, ddof))
    return torch.linalg.eigvalsh(cov).flip(0).numpy()


def participation_ratio_of(eigvals: Any) -> float:
    """(Σλ)² / Σλ² of given eigenvalues."""
    lam = np.asarray(eigvals, dtype=np.float64).ravel()
    if lam.size == 0:
        raise ValueError("no eigenvalues given")
    sq = float((lam**2).sum())
    if sq == 0.0:
        raise ValueError("all eigenvalues are zero: the participation ratio is undefined")
    return float(lam.sum() ** 2 / sq)


def participation_ratio(X: Any, ddof: int = 0) -> float:
    """PR of X [samples, dims]: (Σλ)²/Σλ² of its centered covariance's eigenvalues (D2)."""
    return participation_ratio_of(centered_cov_eigvals(X, ddof))


def dims_for_variance(eigvals: Any, fracs: Sequence[float] = (0.80, 0.90, 0.95, 0.99)) -> list[int]:
    """Per fraction f: `searchsorted(cumsum(λ)/Σλ, f) + 1` (λ descending, as the seed)."""
    lam = np.asarray(eigvals, dtype=np.float64).ravel()
    if lam.size == 0:
        raise ValueError("no eigenvalues given")
    if any(not 0 < f <= 1 for f in fracs):
        raise ValueError(f"fractions must lie in (0, 1]; got {list(fracs)}")
    cum = np.cumsum(lam) / lam.sum()
    return [int(np.searchsorted(cum, f) + 1) for f in fracs]


def spectrum_summary(eigvals: Any, dim: int | None = None, top: int = 5,
                     fracs: Sequence[float] = (0.80, 0.90, 0.95, 0.99)) -> dict[str, Any]:
    """Total variance, top eigenvalues, top-1 share, PR, PR/dim and dims for each fraction."""
    lam = np.asarray(eigvals, dtype=np.float64).ravel()
    dim = lam.size if dim is None else dim
    pr = participation_ratio_of(lam)
    total = float(lam.sum())
    dims = dims_for_variance(lam, fracs)
    return {
        "total_variance": total,
        "top_eigenvalues": lam[:top].tolist(),
        "top1_share": float(lam[0] / total),
        "participation_ratio": pr,
        "pr_over_dim": pr / dim,
        "dims_for_variance": {f"{round(f * 100)}%": n
                              for f, n in zip(fracs, dims, strict=True)},
    }
