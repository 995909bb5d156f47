"""The seed null: how much a figure differs between two checkpoints that differ only in seed.

The prompt bootstrap says how SI varies over prompts, not between two checkpoints: two
independently seeded initializations of one architecture, with no alignment between them,
"differ" by it almost every time. The seed null measures that difference. An architecture is
built at random initialization from n seeds (`seeds_for`: a stable list derived from its name,
never the seed of a model it is compared with), each measured by the run's own protocol (prompts,
entropy mode, dtype, max_length; unquantized, the model's own tokenizer and full vocabulary where
it has one). Over the n seeds a figure has a spread; the instruct - base delta of a pair that
differs only in seed, over sd * sqrt(2), is Student t with n - 1 degrees of freedom
(`lib.attention.verdicts.seed_null_p`, `seed_null_interval`; the head variance on the log
scale, `SCALES`, whose spread over seeds is skewed). The collapse verdict counts a sign only
outside it; `lib.attention.calibration` measures how often a null pair reads anything else.

The same init seeds are the initialization baseline of a real model (`init_comparison`: its SI
against the n init SIs: their range, mean and sd), pair by pair, never pooled with stand-ins or
other architectures.

For the paper runs a trained seed-variance reference (MultiBERTs, Pythia's seed variants: an E08
run over checkpoints that differ only in training seed) gives the same spread for trained
models (`trained_spread`), shown beside the init seed null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lib.attention.specialization import mean_head_variance, specialization_index
from lib.attention.verdicts import SEED_NULL_MIN, is_finite, seed_null_interval
from lib.models.random_init import PREFIX as RANDOM_PREFIX
from lib.models.tiny import seed_for

SEED_NULL_N = 10  # init seeds per architecture (the parameter files' `seed_null.n`)
SEED_NULL_CI = 0.95
METRICS = {"specialization_index": specialization_index,
           "mean_head_variance": mean_head_variance}
# the scale each figure's seed null is read on: the head variance is positive and right-skewed
# over seeds (log-normal-like), so its delta is log(instruct / base)
SCALES = {"specialization_index": "identity", "mean_head_variance": "log"}


def on_scale(values: Any, scale: str) -> np.ndarray:
    """Values on a seed null's scale (`SCALES`): log, or as they are (non-positive log: NaN)."""
    x = np.asarray(values, dtype=np.float64)
    if scale != "log":
        return x
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def init_architecture(name: str) -> str:
    """The `random/` name of a model's architecture at initialization (itself if random/)."""
    return name if name.startswith(RANDOM_PREFIX) else RANDOM_PREFIX + name


def seeds_for(architecture: str, n: int) -> list[int]:
    """`n` init seeds of `architecture`, stable and distinct from `seed_for(<any model name>)`:
    sha256 of 'seed-null|<architecture>|<k>'."""
    if n < 1:
        raise ValueError(f"a seed null needs n >= 1 seeds, got {n}")
    return [seed_for(f"seed-null|{architecture}|{k}") for k in range(n)]


def spread(values: Sequence[float]) -> dict[str, Any]:
    """{values, n, mean, sd (ddof 1), df} of a figure over init seeds (sd None below 2)."""
    x = np.asarray(values, dtype=np.float64)
    finite = x[np.isfinite(x)]
    n = int(finite.size)
    return {"values": x.tolist(), "n": n, "mean": float(finite.mean()) if n else None,
            "sd": float(finite.std(ddof=1)) if n >= 2 else None, "df": max(n - 1, 0)}


def figures(profiles: np.ndarray) -> dict[str, np.ndarray]:
    """SI and mean head variance of each mean profile [n, layers, heads] -> {metric: [n]}."""
    return {key: np.atleast_1d(metric(profiles)) for key, metric in METRICS.items()}


def seed_null_block(per_prompt: np.ndarray, ci: float = SEED_NULL_CI) -> dict[str, Any]:
    """The seed null of per-prompt entropies of n init seeds [n, prompts, layers, heads]: per
    metric its `spread` on its scale (`SCALES`), the raw values (`raw`) and the central `ci`
    interval of a two-seed delta on that scale (`interval`: dSI; log of the variance ratio)."""
    values = figures(np.asarray(per_prompt, dtype=np.float64).mean(axis=1))
    out = {}
    for key, x in values.items():
        s = spread(on_scale(x, SCALES[key]))
        out[key] = {**s, "scale": SCALES[key], "raw": x.tolist(), "ci": ci,
                    "interval": seed_null_interval(s["values"], ci)}
    return out


def init_comparison(point: Any, values: Sequence[float]) -> dict[str, Any]:
    """A trained figure against its own architecture's init seeds: their mean, sd and range,
    `excess` (point - init mean), `excess_sd` (in init sds), `outside` (beyond the range: one
    more init draw lands there with probability 2 / (n + 1)); reason when it cannot be made."""
    s = spread(values)
    finite = [v for v in s["values"] if is_finite(v)]
    out = {"point": float(point) if is_finite(point) else None, "init_mean": s["mean"],
           "init_sd": s["sd"], "n": s["n"], "values": s["values"],
           "low": min(finite) if finite else None, "high": max(finite) if finite else None,
           "excess": None, "excess_sd": None, "outside": None,
           "chance_outside": 2 / (s["n"] + 1) if s["n"] else None, "reason": None}
    if not is_finite(point):
        return {**out, "reason": f"not finite: the trained value is {point}"}
    if s["n"] < SEED_NULL_MIN or not s["sd"]:
        return {**out, "reason": f"{s['n']} finite init seeds: at least {SEED_NULL_MIN} with a "
                "spread are needed"}
    excess = float(point) - s["mean"]
    return {**out, "excess": excess, "excess_sd": excess / s["sd"],
            "outside": not out["low"] <= float(point) <= out["high"]}


def spreads(block: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The {metric: {values, scale}} the collapse verdict reads from a seed-null block (None:
    none)."""
    if not block:
        return None
    return {key: {k: (block.get(key) or {}).get(k) for k in ("values", "scale")}
            for key in METRICS}


def trained_spread(si_values: Mapping[str, Any], ci: float = SEED_NULL_CI) -> dict[str, Any]:
    """The seed null of trained checkpoints that differ only in training seed ({name: SI} of a
    seed-reference run): the SI's `spread` and the `ci` interval of a two-seed dSI."""
    s = spread([v for v in si_values.values() if is_finite(v)])
    return {"specialization_index": {**s, "scale": "identity", "ci": ci,
                                     "interval": seed_null_interval(s["values"], ci)},
            "models": list(si_values)}
