"""Uncertainty of the specialization index: bootstrap over prompts, and the seed-loop check.

The seeds averaged three "seeds" of a deterministic eval-mode pass, so their std was 0 (SPEC §3).
Here the spread comes from resampling the prompts: `bootstrap_si` for one model and
`bootstrap_delta_si` for a base/instruct pair (paired: the same prompt indices for both).
`seed_invariance` runs the measurement for two seeds and a third only if they differ.

Every figure with prompts as its unit is bootstrapped the same way (`bootstrap_statistic`,
`bootstrap_delta`: a statistic of the mean over resampled prompts), among them the architecture
controls: the KV-group-aware specialization (`group_specialization`, `group_specialization_delta`)
and the attention-sink share (`sink_share_summary`, `sink_share_delta`). A figure the
architecture does not define is stored as null with its reason (`undefined_estimate`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from lib.attention.specialization import (
    group_metric_reasons,
    group_si,
    specialization_index,
    within_group_correlation,
)
from lib.stats.intervals import check_resampling, percentile_interval
from lib.stats.resampling import mean_weights

CHUNK = 256  # bootstrap samples per batched correlation
GROUP_METRICS = {"group_si": group_si, "within_group_correlation": within_group_correlation}
CONTROL_FIGURES = (  # the architecture controls as reported: (label, controls block, figure)
    ("SI (1 - mean head correlation)", "specialization", "si"),
    ("Group SI (among KV groups)", "kv_groups", "group_si"),
    ("Within-group head correlation", "kv_groups", "within_group_correlation"),
    ("Attention-sink share (first token)", "attention_sink", "mean"),
)

Statistic = Callable[[np.ndarray], np.ndarray | float]  # mean entropies [..., L, H] -> [...]
SEEDS: tuple[int, ...] = (42, 123, 456)  # the seeds' three-seed loop (E11-v3)
BOOTSTRAP_N = 1000  # resamples of the prompts
BOOTSTRAP_SEED = 0
BOOTSTRAP_CI = 0.95


def _per_prompt(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"{name} must be [prompts, layers, heads] entropies, got {x.shape}")
    return x


def resample_weights(n_prompts: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap weights [n_boot, n_prompts] of the resampled means over prompts
    (`lib.stats.resampling.mean_weights`: counts of a with-replacement draw, divided by n)."""
    return mean_weights(n_prompts, n_boot, seed)


def resampled(per_prompt: np.ndarray, weights: np.ndarray, statistic: Statistic) -> np.ndarray:
    """`statistic` of each resampled mean (weights [n_boot, P] @ per_prompt [P, L, H]), batched
    -> [n_boot]."""
    out = np.empty(weights.shape[0])
    for start in range(0, weights.shape[0], CHUNK):  # bounded memory: CHUNK x H x H
        means = np.einsum("bp,plh->blh", weights[start : start + CHUNK], per_prompt)
        out[start : start + CHUNK] = statistic(means)
    return out


def resampled_si(per_prompt: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """SI of each resampled mean E (weights [n_boot, P] @ per_prompt [P, L, H]) -> [n_boot]."""
    return resampled(per_prompt, weights, specialization_index)


def _interval(samples: np.ndarray, ci: float) -> tuple[float, float]:
    """`lib.stats.intervals.percentile_interval`, NaN where it is undefined."""
    found = percentile_interval(samples, ci)
    return found if found is not None else (float("nan"), float("nan"))


def _spread(samples: np.ndarray) -> float:
    return float(np.nanstd(samples)) if np.isfinite(samples).any() else float("nan")


def bootstrap_statistic(
    per_prompt: np.ndarray,
    statistic: Statistic,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
    return_samples: bool = False,
) -> dict:
    """Percentile bootstrap over prompts of `statistic` of the mean over prompts.

    Returns point (the statistic of the mean over all prompts), low, high, std of the samples,
    n_boot, ci, n_prompts, and `samples` [n_boot] if asked. Deterministic for a given seed.
    """
    x = _per_prompt(per_prompt, "per_prompt")
    check_resampling(n_boot, ci)
    samples = resampled(x, resample_weights(x.shape[0], n_boot, seed), statistic)
    low, high = _interval(samples, ci)
    out = {
        "point": float(statistic(x.mean(axis=0))),
        "low": low,
        "high": high,
        "std": _spread(samples),
        "n_boot": int(n_boot),
        "ci": float(ci),
        "n_prompts": int(x.shape[0]),
    }
    if return_samples:
        out["samples"] = samples
    return out


def bootstrap_delta(
    base: np.ndarray,
    instruct: np.ndarray,
    statistic: Statistic,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
    return_samples: bool = False,
) -> dict:
    """Paired percentile bootstrap of statistic(instruct) - statistic(base) over prompts.

    Both models are resampled with the same prompt indices. Returns point, low, high, std,
    excludes_zero (the interval lies strictly on one side of 0), base_point, instruct_point,
    n_boot, ci, n_prompts (and `samples` if asked).
    """
    b = _per_prompt(base, "base")
    i = _per_prompt(instruct, "instruct")
    if b.shape[0] != i.shape[0]:
        raise ValueError(
            f"paired bootstrap needs the same prompts: base has {b.shape[0]}, instruct {i.shape[0]}"
        )
    check_resampling(n_boot, ci)
    weights = resample_weights(b.shape[0], n_boot, seed)
    samples = resampled(i, weights, statistic) - resampled(b, weights, statistic)
    low, high = _interval(samples, ci)
    base_point = float(statistic(b.mean(axis=0)))
    instruct_point = float(statistic(i.mean(axis=0)))
    out = {
        "point": instruct_point - base_point,
        "low": low,
        "high": high,
        "std": _spread(samples),
        "excludes_zero": bool(low > 0 or high < 0),
        "base_point": base_point,
        "instruct_point": instruct_point,
        "n_boot": int(n_boot),
        "ci": float(ci),
        "n_prompts": int(b.shape[0]),
    }
    if return_samples:
        out["samples"] = samples
    return out


def bootstrap_si(
    per_prompt: np.ndarray,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
    return_samples: bool = False,
) -> dict:
    """`bootstrap_statistic` of the SI (point: the SI of the mean over all prompts)."""
    return bootstrap_statistic(per_prompt, specialization_index, n_boot, seed, ci,
                               return_samples)


def bootstrap_delta_si(
    base: np.ndarray,
    instruct: np.ndarray,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
    return_samples: bool = False,
) -> dict:
    """`bootstrap_delta` of dSI = SI(instruct) - SI(base) (paired over prompts)."""
    return bootstrap_delta(base, instruct, specialization_index, n_boot, seed, ci,
                           return_samples)


# --------------------------------------------------------------------------- controls


def undefined_estimate(reason: str) -> dict[str, Any]:
    """A figure that cannot be computed: null point and interval, and why."""
    return {"point": None, "low": None, "high": None, "reason": reason}


def defined(estimate: dict[str, Any], what: str) -> dict[str, Any]:
    """`estimate` with reason None, or undefined when its point is not finite."""
    if not np.isfinite(estimate["point"]):
        return undefined_estimate(f"not finite: {what} is {estimate['point']} (a profile "
                                  "constant over layers has no correlation)")
    return {**estimate, "reason": None}


def _mean_over_heads(x: np.ndarray) -> np.ndarray | float:
    """Mean over layers and heads of [..., layers, heads]."""
    mean = np.asarray(x, dtype=np.float64).mean(axis=(-2, -1))
    return float(mean) if mean.ndim == 0 else mean


def group_specialization(
    per_prompt: np.ndarray,
    num_kv_heads: int,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
) -> dict[str, Any]:
    """KV-group-aware specialization of per-prompt entropies [prompts, layers, heads]:
    `group_si` and `within_group_correlation`, each a `bootstrap_statistic` (reason None) or
    `undefined_estimate` (MQA: no group SI; MHA: no within-group correlation)."""
    x = _per_prompt(per_prompt, "per_prompt")
    reasons = group_metric_reasons(x.shape[2], num_kv_heads)
    out: dict[str, Any] = {"num_kv_heads": int(num_kv_heads),
                           "group_size": x.shape[2] // int(num_kv_heads)}
    for key, metric in GROUP_METRICS.items():
        out[key] = undefined_estimate(reasons[key]) if reasons[key] else defined(
            bootstrap_statistic(x, partial(metric, num_kv_heads=num_kv_heads), n_boot, seed, ci),
            key.replace("_", " "))
    return out


def group_specialization_delta(
    base: np.ndarray,
    instruct: np.ndarray,
    num_kv_heads: int,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
) -> dict[str, Any]:
    """Instruct - base of each `group_specialization` figure with its paired bootstrap; undefined
    (with the reason) where the architecture or either model leaves it undefined."""
    b = _per_prompt(base, "base")
    reasons = group_metric_reasons(b.shape[2], num_kv_heads)
    out: dict[str, Any] = {}
    for key, metric in GROUP_METRICS.items():
        if reasons[key]:
            out[key] = undefined_estimate(reasons[key])
            continue
        delta = bootstrap_delta(b, instruct, partial(metric, num_kv_heads=num_kv_heads), n_boot,
                                seed, ci)
        out[key] = defined(delta, f"d {key.replace('_', ' ')}")
    return out


def sink_share_summary(
    per_prompt: np.ndarray,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
) -> dict[str, Any]:
    """Attention-sink share of per-prompt shares [prompts, layers, heads]: `mean` (over layers
    and heads, a `bootstrap_statistic`) and `per_layer` (means over heads and prompts)."""
    x = _per_prompt(per_prompt, "sink share")
    return {"mean": bootstrap_statistic(x, _mean_over_heads, n_boot, seed, ci),
            "per_layer": x.mean(axis=(0, 2)).tolist()}


def sink_share_delta(
    base: np.ndarray,
    instruct: np.ndarray,
    n_boot: int = BOOTSTRAP_N,
    seed: int = BOOTSTRAP_SEED,
    ci: float = BOOTSTRAP_CI,
) -> dict[str, Any]:
    """Instruct - base mean sink share with its paired bootstrap, and the per-layer deltas."""
    delta = bootstrap_delta(base, instruct, _mean_over_heads, n_boot, seed, ci)
    layers = np.mean(instruct, axis=(0, 2)) - np.mean(base, axis=(0, 2))
    return {"mean": delta, "per_layer": layers.tolist()}


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (as the seeds' 3-seed loop did)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def seed_invariance(
    run: Callable[[int], np.ndarray], seeds: Sequence[int] = SEEDS
) -> tuple[np.ndarray, dict]:
    """Run `run(seed)` for the first two seeds, the third only if those two differ.

    Each run is preceded by `set_seed(seed)`. Returns (mean of the runs made, outcome) where
    outcome has `invariant`, `seeds_run`, `seeds_skipped`, `max_abs_difference` (over all pairs
    run), `passes` (how many times `run` was called: one measurement pass each) and `outcome`, a
    one-line description. A single seed (seed 002's one pass) runs once and says invariance was
    not tested.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seed_invariance needs at least one seed")
    if len(seeds) == 1:
        set_seed(seeds[0])
        single = np.asarray(run(seeds[0]), dtype=np.float64)
        return single, {
            "invariant": None, "seeds_run": seeds, "seeds_skipped": [],
            "max_abs_difference": None, "passes": 1,
            "outcome": f"one pass (seed {seeds[0]}): seed invariance not tested",
        }
    results = []
    for seed in seeds[:2]:
        set_seed(seed)
        results.append(np.asarray(run(seed), dtype=np.float64))
    if results[0].shape != results[1].shape:
        raise ValueError(f"runs differ in shape: {results[0].shape} vs {results[1].shape}")
    invariant = bool(np.array_equal(results[0], results[1]))
    if invariant:
        message = f"invariant: identical across seeds {seeds[0]} and {seeds[1]}" + (
            f"; seed{'s' if len(seeds) > 3 else ''} {', '.join(map(str, seeds[2:]))} skipped"
            if seeds[2:]
            else ""
        )
        run_seeds, skipped = seeds[:2], seeds[2:]
    else:
        for seed in seeds[2:]:
            set_seed(seed)
            results.append(np.asarray(run(seed), dtype=np.float64))
        run_seeds, skipped = seeds, []
    stack = np.stack(results)
    max_diff = float((stack.max(axis=0) - stack.min(axis=0)).max()) if stack.size else 0.0
    if not invariant:
        message = (
            f"seed-dependent: max abs difference {max_diff:.3g} across seeds "
            f"{', '.join(map(str, run_seeds))}; all {len(run_seeds)} averaged"
        )
    outcome = {
        "invariant": invariant,
        "seeds_run": run_seeds,
        "seeds_skipped": skipped,
        "max_abs_difference": max_diff,
        "passes": len(results),
        "outcome": message,
    }
    return stack.mean(axis=0), outcome
