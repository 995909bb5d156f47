"""Several tests at once: a named family and its correction (Holm's family-wise error control,
or Benjamini-Hochberg's false discovery rate).

`holm` and `benjamini_hochberg` adjust a vector of p-values (NaN / None left out and kept as
None); `adjust_family` writes the adjusted p (`p_adjusted`) into each test of a family in place
and returns the family's description, so every reader can say which tests were corrected
together, by which method, at which level. The attention study's families:

- the two collapse signs of one pair (SI down, head variance down) against their seed null:
  Holm, family-wise 5% (`lib.attention.seednull`);
- every head-permutation test of one run (each model, each defined figure and shuffle, and for
  a pair each delta): Holm, family-wise 5% (`permutation_family`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lib.attention.nulls import NULL_FIGURES

ALPHA = 0.05
HOLM, BH = "holm", "benjamini-hochberg"
METHODS = {HOLM: "Holm (family-wise error rate)", BH: "Benjamini-Hochberg (false discovery rate)"}


def _valid(p: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([np.nan if v is None else float(v) for v in p], dtype=float)
    if ((values < 0) | (values > 1)).any():
        raise ValueError(f"p-values must lie in [0, 1], got {values[(values < 0) | (values > 1)]}")
    return values, np.isfinite(values)


def holm(p: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None where p is None or NaN): the i-th smallest of m
    is max over j <= i of min(1, (m - j + 1) p_(j)). Reject where adjusted p <= alpha."""
    values, ok = _valid(p)
    out: list[float | None] = [None] * len(values)
    finite = values[ok]
    m = finite.size
    if m == 0:
        return out
    order = np.argsort(finite, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * finite[order]))
    result = np.empty(m)
    result[order] = adjusted
    for index, value in zip(np.flatnonzero(ok), result, strict=True):
        out[index] = float(value)
    return out


def benjamini_hochberg(p: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (None where p is None or NaN): the i-th smallest of
    m is min over j >= i of min(1, m p_(j) / j). Reject where adjusted p <= q."""
    values, ok = _valid(p)
    out: list[float | None] = [None] * len(values)
    finite = values[ok]
    m = finite.size
    if m == 0:
        return out
    order = np.argsort(finite, kind="stable")
    scaled = np.minimum(1.0, m * finite[order] / np.arange(1, m + 1))
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(m)
    result[order] = adjusted
    for index, value in zip(np.flatnonzero(ok), result, strict=True):
        out[index] = float(value)
    return out


ADJUST = {HOLM: holm, BH: benjamini_hochberg}


def adjust_family(tests: Mapping[str, dict[str, Any]], what: str, method: str = HOLM,
                  alpha: float = ALPHA) -> dict[str, Any]:
    """Adjust the `p` of every test in `tests` ({label: test dict}) together, writing
    `p_adjusted` into each (None where its p is None); returns {what, method, alpha, size,
    rejected: [labels with p_adjusted <= alpha]}."""
    if method not in ADJUST:
        raise ValueError(f"unknown method {method!r}; choose one of {list(ADJUST)}")
    labels = list(tests)
    adjusted = ADJUST[method]([tests[k].get("p") for k in labels])
    for label, value in zip(labels, adjusted, strict=True):
        tests[label]["p_adjusted"] = value
    tested = [k for k, v in zip(labels, adjusted, strict=True) if v is not None]
    return {"what": what, "method": method, "method_name": METHODS[method], "alpha": alpha,
            "size": len(tested),
            "rejected": [k for k in tested if tests[k]["p_adjusted"] <= alpha]}


def permutation_family(blocks: Mapping[str, Mapping[str, Any]], what: str,
                       method: str = HOLM, alpha: float = ALPHA) -> dict[str, Any]:
    """The head-permutation tests of several `head_permutation` blocks ({label: block}, e.g.
    each model of a run and a pair's delta) as one family: `adjust_family` over every test
    with a p (keys `<label>: <test key>`), adjusted in place."""
    tests = {f"{label}: {key}": block[key] for label, block in blocks.items()
             for _, key in NULL_FIGURES if isinstance(block.get(key), dict)
             and block[key].get("p") is not None}
    return adjust_family(tests, what, method, alpha)


def rejected(values: Iterable[float | None], alpha: float = ALPHA) -> list[bool]:
    """Which adjusted p-values are at most `alpha` (None: False)."""
    return [v is not None and v <= alpha for v in values]
