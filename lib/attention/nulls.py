"""The head-permutation null: does the specialization index measure anything beyond chance?

The SI correlates each head's entropy profile over the layers, so it treats head h of layer l and
head h of layer l + 1 as one unit. Nothing ties them unless head identity persists across layers:
a layer may number its heads in any order. The null shuffles the heads within each layer,
independently per layer and per draw (a seeded generator, vectorized: no loop over heads), and
recomputes the figure; the observed value is read against that distribution:

- `low`, `high`: the null's central `ci` interval (percentiles of the draws);
- `p`: two-sided permutation p-value with the +1 correction, (1 + #extreme) / (1 + n), where a
  draw is extreme when it lies at least as far from the null mean as the observed value.

A figure that is a typical draw (p large) carries no information about which head is which
across layers. The figures: SI, group SI, within-group head correlation and the within/between
KV-group variance ratio (each where the architecture defines it, `group_metric_reasons`); for a
pair, dSI and the group deltas under independent shuffles of the base and the instruct model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from lib.attention.specialization import (
    group_metric_reasons,
    group_si,
    specialization_index,
    within_between_ratio,
    within_group_correlation,
)

NULL_N = 1000  # permutations
NULL_SEED = 0
NULL_CI = 0.95
CHUNK = 256  # permutations per batched statistic (bounded memory)
TIE_TOLERANCE = 1e-12  # a draw this close to the observed distance counts as extreme
# (label, key) of each figure; the key names the statistic and the group_metric_reasons entry
NULL_FIGURES = (
    ("SI (1 - mean head correlation)", "si"),
    ("Group SI (among KV groups)", "group_si"),
    ("Within-group head correlation", "within_group_correlation"),
    ("Within/between KV-group variance ratio", "within_between_ratio"),
)
_GROUPED = {"group_si": group_si, "within_group_correlation": within_group_correlation,
            "within_between_ratio": within_between_ratio}

Statistic = Callable[[np.ndarray], np.ndarray | float]  # E [..., L, H] -> [...]


def _profile(E: Any, name: str) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or min(E.shape) == 0:
        raise ValueError(f"{name} must be a non-empty [layers, heads] entropy matrix, got shape "
                         f"{E.shape}")
    return E


def permuted(E: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` copies of E [layers, heads], the heads of each layer shuffled independently ->
    [n, layers, heads]."""
    order = rng.random((n, *E.shape)).argsort(axis=-1)
    return np.take_along_axis(np.broadcast_to(E, (n, *E.shape)), order, axis=-1)


def null_samples(E: np.ndarray, statistic: Statistic, n: int = NULL_N,
                 rng: np.random.Generator | int = NULL_SEED) -> np.ndarray:
    """`statistic` of `n` head-permuted copies of E [layers, heads] -> [n]."""
    E = _profile(E, "E")
    if n < 1:
        raise ValueError(f"the head-permutation null needs n >= 1 permutations, got {n}")
    rng = np.random.default_rng(rng)
    out = np.empty(n)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        out[start:stop] = statistic(permuted(E, stop - start, rng))
    return out


def compare(observed: float, samples: np.ndarray, ci: float = NULL_CI) -> dict[str, Any]:
    """The observed value against null draws: point, null mean, `ci` interval, two-sided p
    ((1 + #extreme) / (1 + n), over the finite draws), n and n_finite; reason None."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    finite = samples[np.isfinite(samples)]
    out: dict[str, Any] = {"point": float(observed), "null_mean": None, "low": None,
                           "high": None, "p": None, "n": int(samples.size),
                           "n_finite": int(finite.size), "ci": float(ci), "reason": None}
    if not np.isfinite(observed):
        return {**out, "reason": f"not finite: the observed value is {observed}"}
    if finite.size == 0:
        return {**out, "reason": "not finite in any permutation"}
    center = float(finite.mean())
    low, high = np.percentile(finite, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    distance = abs(observed - center)
    extreme = int((np.abs(finite - center) >= distance - TIE_TOLERANCE).sum())
    return {**out, "null_mean": center, "low": float(low), "high": float(high),
            "p": (1 + extreme) / (1 + finite.size)}


def permutation_null(E: np.ndarray, statistic: Statistic = specialization_index,
                     n: int = NULL_N, seed: int = NULL_SEED, ci: float = NULL_CI,
                     ) -> dict[str, Any]:
    """`statistic` of E [layers, heads] against its head-permutation null (`compare`)."""
    E = _profile(E, "E")
    return compare(float(statistic(E)), null_samples(E, statistic, n, seed), ci)


def permutation_delta(base: np.ndarray, instruct: np.ndarray,
                      statistic: Statistic = specialization_index, n: int = NULL_N,
                      seed: int = NULL_SEED, ci: float = NULL_CI) -> dict[str, Any]:
    """statistic(instruct) - statistic(base) against the null of independent head shuffles of
    the two models (two generators spawned from `seed`)."""
    base, instruct = _profile(base, "base"), _profile(instruct, "instruct")
    if base.shape != instruct.shape:
        raise ValueError(f"base {base.shape} and instruct {instruct.shape} differ in shape: the "
                         "delta's null needs one architecture")
    rng_base, rng_instruct = np.random.default_rng(seed).spawn(2)
    samples = (null_samples(instruct, statistic, n, rng_instruct)
                - null_samples(base, statistic, n, rng_base))
    return compare(float(statistic(instruct)) - float(statistic(base)), samples, ci)


def _statistic(key: str, num_kv_heads: int) -> Statistic:
    return specialization_index if key == "si" else partial(_GROUPED[key],
                                                            num_kv_heads=num_kv_heads)


def undefined_null(reason: str) -> dict[str, Any]:
    """A figure without a null: null point, interval and p, and why."""
    return {"point": None, "null_mean": None, "low": None, "high": None, "p": None,
            "reason": reason}


def _controls(E_shape: tuple[int, int], num_kv_heads: int, n: int, seed: int, ci: float,
              figure: Callable[[Statistic], dict[str, Any]]) -> dict[str, Any]:
    reasons = {"si": None, **group_metric_reasons(E_shape[1], num_kv_heads)}
    out: dict[str, Any] = {"n_permutations": int(n), "seed": int(seed), "ci": float(ci)}
    for _, key in NULL_FIGURES:
        out[key] = (undefined_null(reasons[key]) if reasons[key]
                    else figure(_statistic(key, num_kv_heads)))
    return out


def head_permutation_controls(E: np.ndarray, num_kv_heads: int, n: int = NULL_N,
                              seed: int = NULL_SEED, ci: float = NULL_CI) -> dict[str, Any]:
    """Each `NULL_FIGURES` figure of E [layers, heads] against its head-permutation null
    (`permutation_null`, one seed for all), undefined with the reason where the architecture
    has no such figure; plus n_permutations, seed, ci."""
    E = _profile(E, "E")
    return _controls(E.shape, num_kv_heads, n, seed, ci,
                     lambda stat: permutation_null(E, stat, n, seed, ci))


def head_permutation_delta(base: np.ndarray, instruct: np.ndarray, num_kv_heads: int,
                           n: int = NULL_N, seed: int = NULL_SEED, ci: float = NULL_CI,
                           ) -> dict[str, Any]:
    """Each `NULL_FIGURES` figure's instruct - base delta against independent head shuffles
    of the two models (`permutation_delta`); undefined where the architecture has none."""
    base = _profile(base, "base")
    return _controls(base.shape, num_kv_heads, n, seed, ci,
                     lambda stat: permutation_delta(base, instruct, stat, n, seed, ci))
