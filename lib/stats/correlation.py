"""Pearson and Spearman correlations that say when they are undefined.

A correlation with a constant vector has zero variance in its denominator: it is undefined, not
0. In floating point a "constant" vector is rarely exactly constant: the mean and deviations carry
rounding error (`np.corrcoef` of a constant similarity vector gives ~1e-17 rather than NaN), and
cosines of parallel rows differ in their last digits (float32 weights, the `x / (||x|| + 1e-8)`
guard). So a vector counts as constant when its spread is within rounding of its values:

    std(x) <= NEAR_CONSTANT_ULPS * eps * max|x|

with `eps` the machine epsilon of x's float type but at least float32's (1.19e-7: everything
correlated here derives from float32 or coarser weights and activations), i.e. a relative spread
below ~7.6e-6. Every correlation of lib.terrain goes through `correlation`; an undefined one is
NaN (None in a results file) with the reason beside it, never a number. Batched correlations
(lib.attention's head correlations) apply the same rule through `near_constant`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr

# a spread of at most this many units in the last place of the largest |value| is rounding noise
NEAR_CONSTANT_ULPS = 64
UNDEFINED = "undefined"  # how tables print a correlation that is NaN / None


def _eps(x: np.ndarray) -> float:
    """x's machine epsilon, at least float32's."""
    own = np.finfo(x.dtype).eps if np.issubdtype(x.dtype, np.floating) else 0.0
    return float(max(own, np.finfo(np.float32).eps))


def _spread(x: np.ndarray, axis: int | None) -> tuple[Any, Any]:
    """(std, rounding bound NEAR_CONSTANT_ULPS * eps * max|x|) of x along `axis`."""
    v = x.astype(np.float64)
    return v.std(axis=axis), NEAR_CONSTANT_ULPS * _eps(x) * np.abs(v).max(axis=axis)


def near_constant(x: Any, axis: int = -1) -> np.ndarray:
    """Whether x is constant up to rounding along `axis` (the module docstring's rule), for any
    leading dims: a bool array with `axis` removed."""
    x = np.asarray(x)
    std, bound = _spread(x, axis)
    return np.asarray(std <= bound)


def constant_reason(x: Any, name: str = "x") -> str | None:
    """Why `x` cannot be correlated (fewer than 2 values, not finite, or constant up to
    rounding: std <= NEAR_CONSTANT_ULPS * eps * max|x|, module docstring), or None when it can."""
    x = np.asarray(x)
    if x.size < 2:
        return f"{name} has {x.size} value(s); a correlation needs at least 2"
    finite = np.isfinite(x.astype(np.float64))
    if not finite.all():
        return f"{name} has {int((~finite).sum())} non-finite value(s)"
    std, bound = (float(value) for value in _spread(x.ravel(), None))
    if std <= bound:
        return (f"no variance in {name} (std {std:.3g} <= {bound:.3g}, within "
                f"{NEAR_CONSTANT_ULPS} rounding units of its largest value: constant)")
    return None


def correlation(x: Any, y: Any, names: tuple[str, str] = ("x", "y"),
                method: str = "pearson") -> tuple[float, str | None]:
    """(r, None), or (NaN, reason) when either input is constant (see the module docstring),
    has fewer than 2 values or a non-finite one. `method`: 'pearson' (`np.corrcoef`) or
    'spearman' (`scipy.stats.spearmanr`). Inputs of different lengths raise ValueError."""
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"{names[0]} and {names[1]} must be 1-D of equal length; got shapes "
                         f"{x.shape} and {y.shape}")
    for values, name in ((x, names[0]), (y, names[1])):
        if (reason := constant_reason(values, name)) is not None:
            return float("nan"), f"undefined: {reason}"
    if method == "pearson":
        return float(np.corrcoef(x, y)[0, 1]), None

    return float(spearmanr(x, y)[0]), None


def pearson(x: Any, y: Any, names: tuple[str, str] = ("x", "y")) -> tuple[float, str | None]:
    """`correlation(x, y, names, 'pearson')`."""
    return correlation(x, y, names, "pearson")

