"""The modulator line's section of REPORT.md (`lib.report` asks `lib.lines` for it): the
embedded modulator runs' relational Pearson before and after, with the trained lift's
interval."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.checks import fmt
from lib.modulator.findings import modulator_findings
from lib.modulator.layout import ModulatorResult


def modulator_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The embedded modulator runs' headline numbers: relational Pearson before and after."""
    runs = [p for key, p in sorted(results.items())
            if key.startswith("embedded/") and p.get("experiment") == "modulator"]
    if not runs:
        return []
    lines = ["", "## Modulator: embedded runs (this machine, offline)", "",
             "Pearson of Wu-Palmer/path similarity with the pooled representations' cosine on "
             "held-out pairs: the unmodulated encoder, the §8 Procrustes-initialized modulator at "
             "α = 0.01, the §9 trained one and the §12 field modulator; lift = (r_mod − r_orig) "
             "/ r_orig, the definition the repository gives the seed's never-computed '+152%'. "
             "The tiny T5 run tests the machinery and claims nothing. The interval of the trained "
             "lift is a percentile interval from resampling the evaluation lemmas (with "
             "replacement, every pair among the drawn lemmas kept; resamples and level "
             "shown).", "",
             "| run | model | original r | Procrustes r (preservation) | trained r (lift) | "
             "field r (lift) | mean α after training |", "|---|---|---|---|---|---|---|"]

    def pair(value: float | None, extra: float | None, pct: bool = True) -> str:
        if value is None:
            return "-"
        shown = ((f"{extra:+.1%}" if pct else f"{extra:.4f}") if extra is not None else "-")
        return f"{fmt(value)} ({shown})"

    def lift_ci(p: dict[str, Any]) -> str:
        m = modulator_findings(p)
        if not m["lift_ci"]:
            return ""
        boot = (f", {m['n_boot']} resamples, {float(m['level']):.0%}"
                if m["n_boot"] is not None and m["level"] is not None else "")
        return f" [{m['lift_ci'][0]:+.1%}, {m['lift_ci'][1]:+.1%}{boot}]"

    for p in runs:
        result = ModulatorResult.model_validate(p)  # the report admits fitting files only
        h = result.headline
        lines.append(
            f"| {result.run} | {result.model.name} | {fmt(h.original_pearson)} | "
            f"{pair(h.procrustes_pearson, h.procrustes_preservation, pct=False)} | "
            f"{pair(h.trained_pearson, h.trained_lift_pearson)}{lift_ci(p)} | "
            f"{pair(h.field_pearson, h.field_lift_pearson)} | {fmt(h.trained_alpha_mean)} |")
    return lines


def details(results: Mapping[str, dict[str, Any]],
            derived: Mapping[str, dict[str, Any]]) -> list[str]:
    """After the claims: the embedded modulator runs."""
    return modulator_lines(results)
