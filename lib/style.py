"""The figures' shared look: one colour per role, the random-QK reference and the empty-panel note.

Roles, the same in every figure: base / trained / original = `BASE`, instruct / aligned /
modulated = `ALIGNED`, initialization / random / null / reference = `NULL` (grey); the stacks
(encoder, decoder, cross-attention, vision, text) and the attention kinds (MHA, GQA, MQA) have
fixed colours of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BASE = "#2a9d8f"
ALIGNED = "#e76f51"
NULL = "#8d8d8d"
STATIC = "#6a4c93"

ROLE_COLORS = {
    "base": BASE, "trained": BASE, "original": BASE, "encoder model": BASE,
    "instruct": ALIGNED, "aligned": ALIGNED, "modulated": ALIGNED, "trained modulator": ALIGNED,
    "init": NULL, "initialization": NULL, "random": NULL, "null": NULL, "reference": NULL,
    "static": STATIC,
    # stacks
    "encoder": "#264653", "decoder": "#e9c46a", "cross": "#f4a261", "vision": "#457b9d",
    "text": "#1d3557", "shared": "#6d6875",
    # attention kinds
    "MHA": "#264653", "GQA": "#e9c46a", "MQA": "#e76f51",
}
KIND_COLORS = {k: ROLE_COLORS[k] for k in ("MHA", "GQA", "MQA")}
# the modulator's evaluation sets
SET_COLORS = {"Static": STATIC, "Original": BASE, "Procrustes": "#457b9d", "Trained": ALIGNED,
              "Field": "#b5179e"}

RANDOM_QK = 0.5  # positive-eigenvalue fraction of a random (symmetric-spectrum) QK product
RANDOM_QK_LABEL = "random (0.5)"
RANDOM_WEIGHT_SOURCES = ("tiny", "random", "initialization")  # model record `source` values


def color(role: str, default: str = NULL) -> str:
    """The colour of `role` (case as in ROLE_COLORS, else lower-cased), `default` if unknown."""
    return ROLE_COLORS.get(role, ROLE_COLORS.get(role.lower(), default))


def random_weights(record: Any) -> bool:
    """True when a model record (`{"source": ...}`) or name (`tiny/...`, `random/...`,
    `init/...`) stands for random weights: its numbers check the machinery, nothing else."""
    if isinstance(record, dict):
        return record.get("source") in RANDOM_WEIGHT_SOURCES or random_weights(
            record.get("name"))
    return isinstance(record, str) and record.startswith(("tiny/", "random/", "init/"))


def note(ax: Any, text: str) -> None:
    """Replace an empty panel by a centred text note (no blank axis is ever left)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9,
            wrap=True)
    ax.set_axis_off()


def qk_reference(ax: Any, vertical: bool = False) -> None:
    """The random value 0.5 as a labelled line and the fraction's full range [0, 1]."""
    if vertical:
        ax.axvline(RANDOM_QK, color="k", ls="--", lw=0.8, label=RANDOM_QK_LABEL)
        ax.set_xlim(0, 1)
    else:
        ax.axhline(RANDOM_QK, color="k", ls="--", lw=0.8, label=RANDOM_QK_LABEL)
        ax.set_ylim(0, 1)


def yerr(values: Sequence[float], intervals: Sequence[Any]) -> Any:
    """Asymmetric error bars [2, n] from (lo, hi) intervals; a missing interval gives 0 bars.
    None when no value has an interval."""

    rows, any_ok = [], False
    for v, ci in zip(values, intervals, strict=True):
        ok = (ci is not None and len(ci) == 2 and None not in ci and v is not None
              and bool(np.isfinite(v)) and bool(np.all(np.isfinite(ci))))
        rows.append([v - ci[0], ci[1] - v] if ok else [0.0, 0.0])
        any_ok |= ok
    if not any_ok:
        return None
    return np.clip(np.array(rows, dtype=float).T, 0, None)
