"""Check the regenerated results against the published claims: results/REPORT.md and .json.

    python -m lib.report results/embedded/E11_a.json ... results/embedded/summary.json
    python -m lib.report     # the results of every parameter file, the embedded summary

It reads exactly the files it is given (a results file `<profile>/<name>.json`, and
`embedded/summary.json`), so a run whose parameter file was deleted leaves no row behind.
The report opens with what the embedded runs show and cannot show (`lib.findings`) and the E08
embedded ladder. For every claim of `lib.claims`: the published value (or band, or ordering),
the regenerated value (read from the results file and field the claim names), the difference
and a status: `reproduced` (within tolerance), `differs`, `in band` / `outside band`, `asserted,
not testable` (the field echoes an input), `undefined` (the run stored null: shown as n/a),
`missing field` (naming it and the parameter file to rerun) or `not yet run` (naming the
parameter file and hardware it needs); beside it the claim's baseline (initialization,
head-permutation null, Gaussian reference) and whether the value is indistinguishable from it,
decided by the baseline's own sampling distribution (several initialization seeds or an
analytic interval, as the line stores it), never by the claim's tolerance. A claim whose check
passes but whose baseline passes it too is `random weights give it too` (`its null ...`, `its
reference ...`), counted apart from the reproduced ones.
Claims restating one fact (`same_as`) are counted once. The resolutions carry their effect on
the number, read from results. The embedded summary follows (each pair's verdict corrected and
by the seed's rule as executed, how its intervals were made, its SIs against the
head-permutation null, its architecture controls, the comparisons that mix entropy modes), then
every E08 model's SI against the head-permutation null.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lib.checks import (
    DIFFERS,
    GIVEN_BY_BASELINE,
    IN_BAND,
    INDISTINGUISHABLE,
    MISSING,
    NOT_AVAILABLE,
    NOT_RUN,
    NOT_TESTABLE,
    OUTSIDE,
    REPRODUCED,
    STATUSES,
    UNDEFINED,
    check_claims,
    fmt,
    payload_of,
)
from lib.claims import CLAIMS, RESOLUTIONS, lookup
from lib.findings import cannot_show_lines, findings, findings_lines
from lib.integrity import RERUN, refusal_line, split_checked
from lib.layout import result_problem
from lib.lines import Derived, Results, derived_names, gather, hook, lines
from lib.paths import RESULTS, shown
from lib.results import atomic_write_bytes, read_json, run_results, write_json


def _published(value: Any) -> str:
    if isinstance(value, list):
        return f"{fmt(value[0])}–{fmt(value[1])}"
    return fmt(value)


def _regenerated(row: dict[str, Any]) -> str:
    """The regenerated value for the table; n/a where the run stored null (not finite)."""
    return NOT_AVAILABLE if row["status"] == UNDEFINED else fmt(row["regenerated"])


def effect_text(effect: dict[str, Any] | None,
                results: Mapping[str, dict[str, Any]] | None = None) -> str:
    """What a resolution changes, read from its `effect` {result, field}: '-' without one,
    'not yet run' / 'missing field' when the result or field is absent."""
    if not effect:
        return "-"
    payload = payload_of(effect["result"], results)
    if payload is None:
        return f"{NOT_RUN} (results/{effect['result']}.json)"
    try:
        value = lookup(payload, tuple(effect["field"]))
    except KeyError as exc:
        return f"{MISSING}: {exc.args[0]}"
    if not isinstance(value, dict):
        return fmt(value)

    def show(v: Any, signed: bool = False) -> str:
        if isinstance(v, dict):
            key = next((k for k in ("pearson", "cv_modulated", "number", "value") if k in v),
                       None)
            return (fmt(v[key], signed) + (f" ({key})" if key != "number" else "")
                    if key else "-")
        return NOT_AVAILABLE if v is None else fmt(v, signed)

    # terrain: {number, as_executed, taken, difference, what}; modulator: {number, as_executed,
    # corrected (arms), difference, taken: which arm the run's own numbers use}
    label = "corrected" if isinstance(value.get("corrected"), dict) else "taken"
    text = (f"as executed {show(value.get('as_executed'))}, {label} {show(value.get(label))}, "
            f"difference {show(value.get('difference'), signed=True)}")
    if label == "corrected" and isinstance(value.get("taken"), str):
        text += f" (this run takes: {value['taken']})"
    name = next((v for v in (value.get("number"), value.get("what")) if isinstance(v, str)), None)
    return f"{name}: {text}" if name else text


def _resolution_row(x: dict[str, Any],
                    results: Mapping[str, dict[str, Any]] | None = None) -> str:
    topic = f"{x['topic']} ({x['defect']})" if x.get("defect") else x["topic"]
    taken = x["taken"]
    for key, label in (("as_executed", "as executed"), ("corrected", "corrected")):
        if x.get(key):
            files = x[key] if isinstance(x[key], list) else [x[key]]
            taken += f"; {label}: " + ", ".join(f"`{f}`" for f in files)
    effect = effect_text(x.get("effect"), results)
    return f"| {topic} | {x['values']} | {taken} | {x['why']} | {effect} |"


def provenance_lines() -> list[str]:
    """How seed 004 produced each of its numbers, and what regenerates it here."""
    claims = [c for c in CLAIMS if c.seed_output]
    if not claims:
        return []
    return ["", "## How seed 004's numbers came about and how they are regenerated", "",
            "Seed 004 stored no outputs: each number below is printed by its code, hard-coded in a "
            "print, stated in prose, or never computed.", "",
            "| claim | the seed's output | regenerated by |", "|---|---|---|",
            *(f"| `{c.id}` | {c.seed_output} | {c.regenerated_by or '-'} |" for c in claims)]


def _baseline_cell(row: dict[str, Any]) -> str:
    b = row.get("baseline")
    if not b:
        return "-"
    if b["status"] in (NOT_RUN, MISSING):
        return f"{b['label']}: {b['shown']}"
    status = "" if b["status"] == UNDEFINED else f" — **{b['status']}**" + (
        " (published value)" if b["compared"] == "published" else "")
    gives = {"initialization": "random weights pass", "permutation": "its null passes",
             "reference": "its reference passes"}[b["kind"]]
    passes = f"; {gives} the claim's check too" if b.get("gives_claim") else ""
    return f"{b['label']}: {b['shown']}{status}{passes}"


def counts_line(rows: list[dict[str, Any]]) -> str:
    """The status counts, each fact once: a claim restating another (`same_as`, e.g. the mean
    head correlation beside SI = 1 - it) is not counted again."""
    counted = [r for r in rows if not r.get("same_as")]
    counts = {s: sum(r["status"] == s for r in counted) for s in STATUSES}
    parts = [f"{counts[REPRODUCED]} reproduced", f"{counts[DIFFERS]} differ"]
    given = sum(counts[s] for s in GIVEN_BY_BASELINE.values())
    if given:
        parts.append(f"{given} that random weights (or their null, or their reference) give "
                     "too, not counted as reproduced")
    parts += [f"{counts[s]} {label}" for s, label in (
        (IN_BAND, "in band"), (OUTSIDE, "outside their band"),
        (NOT_TESTABLE, "asserted, not testable"), (UNDEFINED, "undefined (n/a)"),
        (MISSING, "missing a field")) if counts[s]]
    parts.append(f"{counts[NOT_RUN]} not yet run")
    same = len(rows) - len(counted)
    return (", ".join(parts) + "." + (f" {same} claims restate another's fact (SI = 1 - mean "
                                      "head correlation) and are counted once." if same else ""))


def indistinguishable_line(rows: list[dict[str, Any]]) -> str:
    """One sentence naming the claims whose value is indistinguishable from its baseline."""
    hits = [r for r in rows if (r.get("baseline") or {}).get("status")
            in INDISTINGUISHABLE.values()]
    if not hits:
        return ""
    return ("Indistinguishable from random weights or from their null: " + "; ".join(
        f"`{r['id']}` ({r['baseline']['status']}"
        + (", published value" if r["baseline"]["compared"] == "published" else "") + ")"
        for r in hits) + ".")


def render(rows: list[dict[str, Any]], results: Results | None = None,
           derived: Derived | None = None, refused: Sequence[str] = ()) -> str:
    """REPORT.md: the results left out, what the embedded runs show and cannot show, the lines'
    overviews, the claims, the seeds' contradictions and what was taken, the lines' details."""
    results, derived = results or {}, derived or {}
    lines = [
        "# Published claims vs regenerated results",
        "",
        "Generated by `python -m lib.report` from the files under `results/`; do not edit.",
        "",
    ]
    if refused:
        lines += ["## Results left out", "",
                  "Not made by the workflow's parameter file and today's code (`lib.integrity`):",
                  "", *(f"- {line}" for line in refused), ""]
    lines += ["## What the embedded runs show", "", *findings_lines(results), "",
              "## What they cannot show", "", *cannot_show_lines(),
              *gather("overview", results, derived),
              "", "## Claims", "", counts_line(rows), "", *gather("claims_notes", results)]
    if (same := indistinguishable_line(rows)):
        lines += [same, ""]
    lines += [
        "| claim | published | regenerated | difference | tolerance | status | result / needs | "
        "baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        where = r.get("needs") or r["result"] or ""  # needs: what a missing or unrun one wants
        lines.append(
            f"| {r['statement']} (`{r['id']}`, {r['source']}"
            + (f"; same fact as `{r['same_as']}`" if r.get("same_as") else "")
            + f") | {_published(r['published'])} | "
            f"{_regenerated(r)} | {fmt(r['difference'], signed=True)} | "
            f"{fmt(r['tolerance'])} | **{r['status']}** | {where} | {_baseline_cell(r)} |")
    lines += ["", "## Where the seeds disagree with themselves", "",
              "| topic | the seeds say | the repository takes | why | effect on the number |",
              "|---|---|---|---|---|"]
    lines += [_resolution_row(x, results) for x in RESOLUTIONS]
    lines += provenance_lines()
    lines += gather("details", results, derived)
    return "\n".join(lines) + "\n"


def report_inputs() -> list[Path]:
    """The default inputs: every parameter file's results, and the embedded files the lines
    derive from them (`lib.lines`: summaries, calibrations) where made."""
    files = [*run_results("embedded"), *run_results("paper")]
    return files + [path for name in derived_names()
                    if (path := RESULTS / "embedded" / f"{name}.json").is_file()]


def write_report(files: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """Write results/REPORT.md and results/report.json from `files` (else `report_inputs()`).

    A results file that fails `lib.integrity.check_result` (swapped, edited, made from a file
    edited since, or by other code) is left out and listed in one line. Both files are made in
    full before either is written, so a failure leaves the previous pair as it was.
    """
    # abspath, not resolve: a symlinked results folder is named as given, not by its target
    paths = [Path(os.path.abspath(f)) for f in (report_inputs() if files is None else files)]
    stems = derived_names()
    derived_paths = [p for p in paths if p.stem in stems]
    if any(p.parent.name != "embedded" for p in derived_paths):
        raise ValueError(f"only the embedded {', '.join(stems)} files go into the report, got "
                         f"{[str(p) for p in derived_paths]}")
    accepted, checks = split_checked(p for p in paths if p.stem not in stems)
    refused = [refusal_line(c) for c in checks]
    results = {}
    for p in accepted:  # a file that does not fit its line's results layout: refused too
        payload = read_json(p)
        problem = result_problem(payload, str(payload.get("experiment") or p.stem.split("_")[0]))
        if problem:
            refused.append(f"{p.parent.name}/{p.name}: {problem}; {RERUN}")
        else:
            results[f"{p.parent.name}/{p.stem}"] = payload
    derived = {p.stem: read_json(p) for p in derived_paths}
    rows = check_claims(results)
    machine: dict[str, Any] = {"claims": rows, "resolutions": list(RESOLUTIONS),
                               "findings": findings(results), "refused": refused}
    for line in lines().values():
        machine.update(hook(line.report_json)(results, derived))
    text = render(rows, results, derived, refused)
    write_json(RESULTS / "report.json", machine)
    atomic_write_bytes(RESULTS / "REPORT.md", text.encode())
    return rows


UNREADABLE = (KeyError, IndexError, AttributeError, TypeError, ValueError)


def unreadable_input(files: Sequence[str | Path]) -> str | None:
    """The first input the report cannot read alone (named as given), if one is: a results file
    alone, a derived file beside no results."""
    for path in files:
        path = Path(os.path.abspath(path))
        try:
            if path.stem in derived_names():
                render([], {}, {path.stem: read_json(path)})
                continue
            payload = {f"{path.parent.name}/{path.stem}": read_json(path)}
            render(check_claims(payload), payload)
        except UNREADABLE:
            return shown(path)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="results files and the embedded files the "
                        "lines derive from them (default: report_inputs())")
    args = parser.parse_args(argv)
    try:
        rows = write_report(args.files or None)
    except UNREADABLE as exc:  # a results file whose layout the report cannot read
        culprit = unreadable_input(args.files or report_inputs())
        print(f"error: {culprit or 'the report inputs'}: {type(exc).__name__}: {exc}; nothing "
              "was written (REPORT.md and report.json are as they were): rerun make reproduce",
              file=sys.stderr)
        return 1
    for line in json.loads((RESULTS / "report.json").read_text())["refused"]:
        print(f"left out: {line}", file=sys.stderr)  # also in REPORT.md, "Results left out"
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    print(f"results/REPORT.md: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
