"""The attention line's sections of REPORT.md (`lib.report` asks `lib.lines` for them).

Before the claims (`overview`): the E08 embedded ladder, what the attention tests can decide,
and the calibration of the collapse rules on null pairs. After them (`details`): each E08
model's SI against its head-permutation null, the embedded pairs (`summary.json`: verdicts
corrected and as executed, intervals, nulls, architecture controls) and the comparisons that mix
entropy modes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.attention import readings
from lib.attention.calibration import report_lines as calibration_lines
from lib.attention.layout import E08Result
from lib.attention.study import is_stand_in
from lib.attention.summary import (
    CONTROLS_NOTE,
    bootstrap_text,
    controls_markdown,
    interval_text,
    markdown_table,
    mode_note,
    permutation_markdown,
    permutation_text,
)
from lib.attention.verdicts import COLLAPSE_RULES
from lib.checks import NOT_AVAILABLE, fmt
from lib.stats.values import is_finite


def mode_lines(summary: dict[str, Any] | None) -> list[str]:
    """One Markdown bullet per summary row whose comparison mixes entropy modes."""
    return [f"- {r['label']} ({r['result']}): {mode_note(r['mode_mismatch'])}"
            for r in (summary or {}).get("rows", []) if r.get("mode_mismatch")]


def ladders(results: Mapping[str, dict[str, Any]],
            embedded: bool = False) -> list[tuple[str, E08Result]]:
    """(key, typed payload) of every E08 result of `results` in key order (`embedded`: only the
    embedded profile's); each payload validated once against its layout (`E08Result`)."""
    return [(key, E08Result.model_validate(payload)) for key, payload in sorted(results.items())
            if payload.get("experiment") == "E08"
            and (not embedded or key.startswith("embedded/"))]


def _bootstrap_cell(ladder: E08Result) -> str:
    """'10 prompts, 1000 resamples' of a ladder's methodology."""
    method = ladder.methodology
    return f"{method.num_prompts} prompts, {method.bootstrap.n} resamples"


def ladder_null_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Each E08 model's SI with its bootstrap interval beside its head-permutation null."""
    lines, methods = [], []
    for key, ladder in ladders(results):
        bootstrap = (f"{_bootstrap_cell(ladder)}, "
                     f"percentile {ladder.methodology.bootstrap.ci:.0%}")
        for m in ladder.models.values():
            block = m.controls.head_permutation
            null = block.si
            methods.append(block.model_dump())
            weights = "random-init stand-in (tests the pipeline)" if is_stand_in(m.model) else (
                "real")
            lines.append(
                f"| {key} | {m.display} | {m.model.architecture.attention_kind} | "
                f"{interval_text(m.specialization_index, m.si_ci)} | "
                + (f"{interval_text(null.null_mean, (null.low, null.high))}"
                   f" | {null.p:.3f} | " if is_finite(null.p)
                   else f"{NOT_AVAILABLE} | {NOT_AVAILABLE} | ")
                + f"{bootstrap} | {weights} |")
    if not lines:
        return []
    return ["", "## E08: each model's SI against the head-permutation null", "",
            permutation_text(methods, paired=False), "",
            "| run | model | kind | SI [bootstrap CI] | head-permutation null: mean [interval] | "
            "p | bootstrap | weights |", "|---|---|---|---|---|---|---|---|", *lines]


def ladder_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The E08 embedded ladder: model, size, attention type, SI [bootstrap CI] and its
    head-permutation null interval, with the prompts and resamples behind the intervals."""
    lines = []
    for _, ladder in ladders(results, embedded=True):
        for m in ladder.models.values():
            null = m.controls.head_permutation.si
            null_cell = (f"[{float(null.low):.4f}, {float(null.high):.4f}], p = "
                         f"{float(null.p):.3f}" if all(is_finite(v)
                                                       for v in (null.low, null.high, null.p))
                         else NOT_AVAILABLE)
            lines.append(
                f"| {m.display} | "
                f"{fmt(float(m.size_b)) + ' B' if is_finite(m.size_b) else '-'} | "
                f"{m.model.architecture.attention_kind} | "
                f"{interval_text(m.specialization_index, m.si_ci)} | {null_cell} | "
                f"{_bootstrap_cell(ladder)} |")
    if not lines:
        return []
    return ["", "## E08 ladder (embedded)", "",
            "| model | size | attention | SI [95% bootstrap CI] | head-permutation null 95% "
            "interval, p | bootstrap |", "|---|---|---|---|---|---|", *lines]


def attention_lines(results: Mapping[str, dict[str, Any]],
                    calibration: Mapping[str, Any] | None) -> list[str]:
    """What the E08 ladders can decide, how the attention tests' families are corrected, why SI
    can exceed 1, and the calibration of the collapse rules on null pairs."""
    lines = [line for _, payload in sorted(results.items())
             if payload.get("experiment") == "E08" for line in readings.ladder_lines(payload)]
    lines += readings.multiplicity_lines(results)
    out = ["", "## What the attention tests can decide", "", *lines, f"- {readings.SI_RANGE}"]
    if calibration:
        profile = calibration.get("profile", "embedded")
        out += calibration_lines(calibration)
        out += ["", f"![calibration](../figures/{profile}/calibration.png)"]
    return out


def overview(results: Mapping[str, dict[str, Any]],
             derived: Mapping[str, dict[str, Any]]) -> list[str]:
    """Before the claims: the E08 embedded ladder, what the attention tests can decide, and the
    calibration of the collapse rules (`derived["calibration"]`)."""
    return [*ladder_lines(results), *attention_lines(results, derived.get("calibration"))]


def embedded_pairs_lines(summary: Mapping[str, Any] | None) -> list[str]:
    """The embedded pairs (`summary.json`): verdicts corrected and as executed, how the
    intervals were made, each pair's SIs against the head-permutation null, its controls."""
    rows = (summary or {}).get("rows") or []
    if not rows:
        return []
    lines = ["", "## Embedded runs (this machine, offline)", "",
             "Tiny random-initialized pairs exercise the pipeline of each attention kind; they "
             "test the code, not the paper's claims. See "
             "`results/embedded/E08_embedded-ladder.json` for the one real (small pretrained "
             "model) result.", "", markdown_table(rows).rstrip(), "", bootstrap_text(rows), "",
             COLLAPSE_RULES]
    nulls = permutation_markdown(rows)
    if nulls:
        methods = [(r.get("controls") or {}).get("permutation_method") for r in rows]
        lines += ["", "### SI of each pair against the head-permutation null", "",
                  permutation_text(methods), "", nulls.rstrip()]
    controls = controls_markdown(rows)
    if controls:
        lines += ["", "### Architecture controls of each pair", "", CONTROLS_NOTE, "",
                  controls.rstrip()]
    return lines


def details(results: Mapping[str, dict[str, Any]],
            derived: Mapping[str, dict[str, Any]]) -> list[str]:
    """After the claims: each E08 model against its null, the embedded pairs, and the pairs
    compared with a reference measured in another entropy mode."""
    lines = [*ladder_null_lines(results), *embedded_pairs_lines(derived.get("summary"))]
    mixed = mode_lines(derived.get("summary"))
    if mixed:
        lines += ["", "## Comparisons across entropy modes", "",
                  "These runs are compared with a reference measured in another entropy mode "
                  "(padding in or out of the entropy), as the seeds did; read their comparison "
                  "verdicts with that in mind.", "", *mixed]
    return lines


def report_json(results: Mapping[str, dict[str, Any]],
                derived: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The attention line's keys of report.json: the comparisons across entropy modes and the
    rules' calibration."""
    calibration = derived.get("calibration")
    return {"mode_mismatches": mode_lines(derived.get("summary")),
            "calibration": calibration and calibration["rules"]}
