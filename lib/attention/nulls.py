"""The head-permutation null: does the specialization index measure anything beyond chance?

The SI correlates each head's entropy profile over the layers, so it treats head h of layer l and
head h of layer l + 1 as one unit. Nothing ties them unless head identity persists across layers:
a layer may number its heads in any order. The null shuffles the heads within each layer,
independently per layer and per draw (a seeded generator, vectorized: no loop over heads), and
recomputes the figure; the observed value is read against that distribution:

- `low`, `high`: the null's central `ci` interval (percentiles of the draws);
- `null_mean`, `null_std`, `excess` (observed - null mean): where the value sits in its null;
- `p`: two-sided permutation p-value with the +1 correction, (1 + #extreme) / (1 + n), where a
  draw is extreme when it lies at least as far from the null mean as the observed value.

A figure that is a typical draw (p large) carries no information about which head is which
across layers: it is set by how entropy changes with depth (`depth_share`: the share of the
entropy variance the layer means explain, which every shuffle keeps) and by the spread of the
heads within each layer (`null_reading` says so in words).

KV groups (group g = q-heads [g*s, (g+1)*s)): heads that share a key/value head have similar
entropies in every layer by construction, so a shuffle across the whole layer breaks KV sharing
and a random initialization already "beats" it. Group figures are therefore tested only with
shuffles that keep KV sharing (`SHUFFLES`): heads shuffled *within* their KV group, or whole
groups shuffled *across* group slots (group sizes kept). The figures (`NULL_FIGURES`, each where
the architecture defines it and the shuffle is not the identity or a repeat of another test,
`figure_reasons`): SI against both the layer and the within-group shuffle, group SI against the
across-group shuffle, the within-group correlation against both KV-keeping shuffles. The
within/between KV-group variance ratio compares heads within one layer, so every KV-keeping
shuffle leaves it unchanged: it has no permutation test (read it against the initialization).
For a pair, each delta is tested under independent shuffles of the base and the instruct model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from lib.attention.specialization import (
    depth_share,
    group_metric_reasons,
    group_si,
    kv_groups,
    specialization_index,
    within_between_ratio,
    within_group_correlation,
)
from lib.stats.intervals import percentile_interval

NULL_N = 1000  # permutations
NULL_SEED = 0
NULL_CI = 0.95
CHUNK = 256  # permutations per batched statistic (bounded memory)
TIE_TOLERANCE = 1e-12  # a draw this close to the observed distance counts as extreme
LAYER, WITHIN_GROUPS, ACROSS_GROUPS = "layer", "within_groups", "across_groups"
SHUFFLES = {  # how each shuffle moves the heads of one layer
    LAYER: "heads shuffled within each layer",
    WITHIN_GROUPS: "heads shuffled within their KV group (KV sharing kept)",
    ACROSS_GROUPS: "whole KV groups shuffled across group slots (group sizes kept)",
}
# (label, key) of each test; NULL_TESTS gives its figure and shuffle
NULL_FIGURES = (  # the four figures, then the second KV-keeping test of two; shuffles: NULL_TESTS
    ("SI (1 - mean head correlation)", "si"),
    ("Group SI (among KV groups)", "group_si"),
    ("Within-group head correlation", "within_group_correlation"),
    ("Within/between KV-group variance ratio", "within_between_ratio"),
    ("SI, heads shuffled within their KV group", "si_within_groups"),
    ("Within-group head correlation, whole groups shuffled",
     "within_group_correlation_across_groups"),
)
NULL_TESTS = {  # key -> (figure, shuffle)
    "si": ("si", LAYER), "si_within_groups": ("si", WITHIN_GROUPS),
    "group_si": ("group_si", ACROSS_GROUPS),
    "within_group_correlation": ("within_group_correlation", WITHIN_GROUPS),
    "within_group_correlation_across_groups": ("within_group_correlation", ACROSS_GROUPS),
    "within_between_ratio": ("within_between_ratio", None),
}
RATIO_REASON = ("it compares heads within one layer, so every shuffle that keeps the KV groups "
                "leaves it unchanged (a shuffle across the layer breaks KV sharing, which a "
                "random initialization already beats): read it against the initialization")
_GROUPED = {"group_si": group_si, "within_group_correlation": within_group_correlation,
            "within_between_ratio": within_between_ratio}

Statistic = Callable[[np.ndarray], np.ndarray | float]  # E [..., L, H] -> [...]


def _profile(E: Any, name: str) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or min(E.shape) == 0:
        raise ValueError(f"{name} must be a non-empty [layers, heads] entropy matrix, got shape "
                         f"{E.shape}")
    return E


def permuted(E: np.ndarray, n: int, rng: np.random.Generator, shuffle: str = LAYER,
             num_kv_heads: int | None = None) -> np.ndarray:
    """`n` copies of E [layers, heads], each layer shuffled independently by `shuffle`
    (`SHUFFLES`: across the layer, within each KV group, or whole groups across group slots;
    the two KV shuffles need `num_kv_heads`) -> [n, layers, heads]."""
    if shuffle == LAYER:
        order = rng.random((n, *E.shape)).argsort(axis=-1)
        return np.take_along_axis(np.broadcast_to(E, (n, *E.shape)), order, axis=-1)
    if shuffle not in SHUFFLES or num_kv_heads is None:
        raise ValueError(f"shuffle {shuffle!r} needs num_kv_heads; shuffles: {list(SHUFFLES)}")
    groups = kv_groups(E, num_kv_heads)  # [layers, groups, size]
    full = np.broadcast_to(groups, (n, *groups.shape))
    if shuffle == WITHIN_GROUPS:
        order = rng.random(full.shape).argsort(axis=-1)
    else:  # ACROSS_GROUPS: one order of the groups per layer, each group moved whole
        order = np.broadcast_to(rng.random(full.shape[:-1]).argsort(axis=-1)[..., None],
                                full.shape)
        return np.take_along_axis(full, order, axis=-2).reshape(n, *E.shape)
    return np.take_along_axis(full, order, axis=-1).reshape(n, *E.shape)


def null_samples(E: np.ndarray, statistic: Statistic, n: int = NULL_N,
                 rng: np.random.Generator | int = NULL_SEED, shuffle: str = LAYER,
                 num_kv_heads: int | None = None) -> np.ndarray:
    """`statistic` of `n` shuffled copies of E [layers, heads] (`permuted`) -> [n]."""
    E = _profile(E, "E")
    if n < 1:
        raise ValueError(f"the head-permutation null needs n >= 1 permutations, got {n}")
    rng = np.random.default_rng(rng)
    out = np.empty(n)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        out[start:stop] = statistic(permuted(E, stop - start, rng, shuffle, num_kv_heads))
    return out


def compare(observed: float, samples: np.ndarray, ci: float = NULL_CI) -> dict[str, Any]:
    """The observed value against null draws: point, null mean and std, excess (point - null
    mean), `ci` interval, two-sided p ((1 + #extreme) / (1 + n), over the finite draws), n and
    n_finite; reason None."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    finite = samples[np.isfinite(samples)]
    out: dict[str, Any] = {"point": float(observed), "null_mean": None, "null_std": None,
                           "excess": None, "low": None, "high": None, "p": None,
                           "n": int(samples.size), "n_finite": int(finite.size),
                           "ci": float(ci), "reason": None}
    if not np.isfinite(observed):
        return {**out, "reason": f"not finite: the observed value is {observed}"}
    if finite.size == 0:
        return {**out, "reason": "not finite in any permutation"}
    center = float(finite.mean())
    low, high = percentile_interval(finite, ci) or (float("nan"), float("nan"))
    distance = abs(observed - center)
    extreme = int((np.abs(finite - center) >= distance - TIE_TOLERANCE).sum())
    return {**out, "null_mean": center, "null_std": float(finite.std()),
            "excess": float(observed - center), "low": float(low), "high": float(high),
            "p": (1 + extreme) / (1 + finite.size)}


def permutation_null(E: np.ndarray, statistic: Statistic = specialization_index,
                     n: int = NULL_N, seed: int = NULL_SEED, ci: float = NULL_CI,
                     shuffle: str = LAYER, num_kv_heads: int | None = None) -> dict[str, Any]:
    """`statistic` of E [layers, heads] against its `shuffle` null (`compare`)."""
    E = _profile(E, "E")
    return compare(float(statistic(E)),
                   null_samples(E, statistic, n, seed, shuffle, num_kv_heads), ci)


def permutation_delta(base: np.ndarray, instruct: np.ndarray,
                      statistic: Statistic = specialization_index, n: int = NULL_N,
                      seed: int = NULL_SEED, ci: float = NULL_CI, shuffle: str = LAYER,
                      num_kv_heads: int | None = None) -> dict[str, Any]:
    """statistic(instruct) - statistic(base) against the null of independent `shuffle`s of
    the two models (two generators spawned from `seed`)."""
    base, instruct = _profile(base, "base"), _profile(instruct, "instruct")
    if base.shape != instruct.shape:
        raise ValueError(f"base {base.shape} and instruct {instruct.shape} differ in shape: the "
                         "delta's null needs one architecture")
    rng_base, rng_instruct = np.random.default_rng(seed).spawn(2)
    samples = (null_samples(instruct, statistic, n, rng_instruct, shuffle, num_kv_heads)
               - null_samples(base, statistic, n, rng_base, shuffle, num_kv_heads))
    return compare(float(statistic(instruct)) - float(statistic(base)), samples, ci)


def _statistic(figure: str, num_kv_heads: int) -> Statistic:
    return specialization_index if figure == "si" else partial(_GROUPED[figure],
                                                               num_kv_heads=num_kv_heads)


def undefined_null(reason: str) -> dict[str, Any]:
    """A figure without a null: null point, interval and p, and why."""
    return {"point": None, "null_mean": None, "null_std": None, "excess": None, "low": None,
            "high": None, "p": None, "reason": reason}


def figure_reasons(num_heads: int, num_kv_heads: int) -> dict[str, str | None]:
    """Why each `NULL_FIGURES` test is left out for this architecture (None: tested): the
    figure is undefined, the shuffle moves nothing, or it repeats another test."""
    figures = group_metric_reasons(num_heads, num_kv_heads)
    size = num_heads // int(num_kv_heads)
    mqa, mha = num_kv_heads == 1, size == 1
    one_group = "one KV group (MQA): the same test as heads shuffled within the layer (SI row)"
    return {
        "si": None,
        "si_within_groups": (one_group if mqa else "one query head per KV group (MHA): nothing "
                             "to shuffle within a group" if mha else None),
        "group_si": figures["group_si"] or ("one query head per KV group (MHA): the group SI is "
                                            "the SI and groups are heads (SI row)" if mha
                                            else None),
        "within_group_correlation": figures["within_group_correlation"] or (
            "one KV group (MQA): the within-group correlation is 1 - SI (SI row)" if mqa
            else None),
        "within_group_correlation_across_groups": figures["within_group_correlation"] or (
            "one KV group (MQA): no other group to shuffle with" if mqa else None),
        "within_between_ratio": figures["within_between_ratio"] or RATIO_REASON,
    }


def _controls(E_shape: tuple[int, int], num_kv_heads: int, n: int, seed: int, ci: float,
              test: Callable[[Statistic, str], dict[str, Any]]) -> dict[str, Any]:
    reasons = figure_reasons(E_shape[1], num_kv_heads)
    out: dict[str, Any] = {"n_permutations": int(n), "seed": int(seed), "ci": float(ci)}
    for _, key in NULL_FIGURES:
        figure, shuffle = NULL_TESTS[key]
        out[key] = (undefined_null(reasons[key]) if reasons[key]
                    else {**test(_statistic(figure, num_kv_heads), shuffle),
                          "shuffle": shuffle})
    return out


def head_permutation_controls(E: np.ndarray, num_kv_heads: int, n: int = NULL_N,
                              seed: int = NULL_SEED, ci: float = NULL_CI) -> dict[str, Any]:
    """Each `NULL_FIGURES` test of E [layers, heads] against its shuffle's null
    (`permutation_null`, one seed for all), undefined with the reason where the architecture
    has no such test (`figure_reasons`); plus n_permutations, seed, ci and `depth_share`."""
    E = _profile(E, "E")
    out = _controls(E.shape, num_kv_heads, n, seed, ci,
                    lambda stat, shuffle: permutation_null(E, stat, n, seed, ci, shuffle,
                                                           num_kv_heads))
    return {**out, "depth_share": depth_share(E)}


def head_permutation_delta(base: np.ndarray, instruct: np.ndarray, num_kv_heads: int,
                           n: int = NULL_N, seed: int = NULL_SEED, ci: float = NULL_CI,
                           ) -> dict[str, Any]:
    """Each `NULL_FIGURES` test's instruct - base delta against independent shuffles of the
    two models (`permutation_delta`); undefined where the architecture has none."""
    base = _profile(base, "base")
    return _controls(base.shape, num_kv_heads, n, seed, ci,
                     lambda stat, shuffle: permutation_delta(base, instruct, stat, n, seed, ci,
                                                             shuffle, num_kv_heads))


def null_reading(test: dict[str, Any] | None, depth: float | None, what: str = "SI",
                 alpha: float = 0.05) -> str | None:
    """In words, what a figure against its head-permutation null means: a typical draw (p >
    `alpha`) is set by how entropy changes with depth (`depth`: the share of the entropy
    variance the layer means explain) and the spread within layers, not by which head does
    what; else how far it lies from the null mean. None where the test is undefined."""
    if not test or test.get("p") is None or test.get("excess") is None:
        return None
    where = (f"{what} {test['point']:.3f}, null mean {test['null_mean']:.3f} (excess "
             f"{test['excess']:+.3f}, null sd {test['null_std']:.3f}, p = {test['p']:.3f})")
    share = (f" (layer means explain {depth:.0%} of the entropy variance)"
             if depth is not None and np.isfinite(depth) else "")
    if test["p"] > alpha:
        return (f"{where}: a typical draw of its null. It is set by how entropy changes with "
                f"depth{share} and how widely heads spread within a layer, not by which head "
                "does what across layers; it neither shows nor rules out specialization.")
    return (f"{where}: outside its null; head identity across layers adds structure beyond "
            f"the depth profile{share}.")
