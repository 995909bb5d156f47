"""The one percentile interval of the repository, with its one NaN policy.

Every bootstrap and permutation interval (over prompts, over lemmas or synsets, over head
shuffles, over init seeds) is the central `level` percentile interval of the resampled values
(numpy's linear interpolation), as the seeds computed theirs. NaN policy: a resample that leaves
the statistic undefined (NaN or inf: a constant vector, an empty group) is dropped; when fewer
than `min_defined` of the resamples (default half) are defined, the interval is undefined
(`None`) rather than the interval of a few survivors.

Why not `scipy.stats.bootstrap` (and its BCa intervals): our resamples are not of a 1-D sample.
The attention line resamples prompts under a mean of [layers, heads] entropy arrays and reduces
each resampled mean by a statistic over the whole array (SI, group figures), batched; the terrain
and modulator lines resample items whose pairs carry the product of the two items'
multiplicities (`lib.stats.pairs`), which scipy would have to materialize pair by pair. BCa's
jackknife would cost one full statistic per item (3,000 synsets). The percentile interval is
the seeds' and is computed on the resamples the code already holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_DEFINED = 0.5  # the share of resamples that must be defined for an interval


def check_resampling(n_boot: int, level: float) -> None:
    """One-line ValueError for a number of resamples below 2 or a level outside (0, 1)."""
    if int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"n_boot (the number of resamples) must be a whole number >= 2, got "
                         f"{n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"the interval level (ci) must lie in (0, 1), got {level!r}")


def defined(samples: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite resampled values (float64)."""
    values = np.asarray(samples, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def percentile_interval(samples: Sequence[float] | np.ndarray, level: float,
                        min_defined: float = MIN_DEFINED) -> tuple[float, float] | None:
    """The central `level` interval of the defined resampled values; None when fewer than
    `min_defined` of them are defined (see the module docstring)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"the interval level must lie in (0, 1), got {level!r}")
    values = np.asarray(samples, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.size < min_defined * values.size:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
