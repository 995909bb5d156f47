"""The one draw of bootstrap resamples: how often each of n items is drawn, with replacement.

`multiplicities(n, n_boot, seed)` is `[n_boot, n]` counts of a with-replacement draw of n of
the n items (`numpy.random.default_rng(seed).multinomial`), each row summing to n. A resampled
mean weights item i by count_i / n (`mean_weights`: the attention line's prompts); a resampled
pair sample keeps every pair among the drawn items, weighted count_i x count_j
(`lib.stats.pairs`: the terrain and modulator lines' lemmas and synsets).
"""

from __future__ import annotations

import numpy as np


def multiplicities(n: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n] float64 counts of drawing n items from n with replacement, seeded."""
    if n < 1 or n_boot < 1:
        raise ValueError(f"resampling needs at least one item and one resample, got n={n}, "
                         f"n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def mean_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n] weights of each resampled mean: counts / n (rows sum to 1)."""
    return multiplicities(n, n_boot, seed) / n
