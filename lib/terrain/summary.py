"""The terrain summary across runs: headline numbers per run and the §5 cross-architecture table.

    python -m lib.terrain.summary embedded results/embedded/terrain_*.json

Writes `results/<profile>/terrain_summary.{json,md}` and `figures/<profile>/terrain_summary.png`
from exactly the results files given (a deleted parameter file leaves no row); a file that
`lib.integrity` refuses, or that does not fit the results layout, is listed instead of a row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.integrity import Check, refusal_line, split_checked
from lib.layout import result_problem
from lib.params import PROFILES
from lib.paths import RESULTS
from lib.results import atomic_write_bytes, read_json, results_path, save_figure, write_json
from lib.terrain.plots import cross_architecture_figure
from lib.terrain.weights.summary import cross_architecture_table

NAME = "terrain_summary"


def batteries(payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The weight-battery block of each run that has one (trained weights, else the init), with
    the run's embedding volume CV and its Gaussian reference CV when it measured them."""
    out = []
    for p in payloads:
        w = p.get("weights")
        if w:
            block = dict(w["trained"] or w["init"])
            block["model"] = p["model"]["name"]
            if w.get("init_spread"):  # what random weights give, over the init seeds
                block["init_spread"] = w["init_spread"]
            pentachora = (p.get("embedding") or {}).get("pentachora")
            if pentachora and "reference_cv" in pentachora:
                block |= {"volume_cv": pentachora["cv"],
                          "volume_cv_reference": pentachora["reference_cv"]}
            out.append(block)
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN: not measured for this run
            return "-"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def markdown(frame: Any) -> str:
    """A DataFrame as a Markdown table (index as the first column; NaN as '-')."""
    frame = frame.reset_index()
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([head, rule, *("| " + " | ".join(r) + " |" for r in cells)]) + "\n"


def headline_rows(payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run: run, model and its headline numbers."""
    return [{"run": p["run"], "model": p["model"]["name"], **p.get("headline", {})}
            for p in payloads]


def write_summary(profile: str, files: Sequence[str | Path]) -> dict[str, Any]:
    """Write the summary files of `profile` from the terrain results `files`."""
    accepted, checks = split_checked(files)  # a swapped, edited or stale result gives no row
    payloads = []
    for path in accepted:  # and one that does not fit the results layout (lib.terrain.layout)
        payload = read_json(path)
        if payload.get("experiment") != "terrain":
            continue
        problem = result_problem(payload, "terrain")
        if problem:
            checks.append(Check(f"{path.parent.name}/{path.name}", problem))
        else:
            payloads.append(payload)
    runs = batteries(payloads)
    table = cross_architecture_table(runs) if runs else None
    refused = [refusal_line(c) for c in checks]
    summary = {"profile": profile, "rows": headline_rows(payloads),
               "cross_architecture": table.reset_index().to_dict("records")
               if table is not None else [], "refused": refused}
    write_json(results_path(profile, NAME), summary)
    text = f"# Terrain summary ({profile})\n\n"
    if refused:
        text += ("Left out, not made by the workflow's file and today's code:\n\n"
                 + "".join(f"- {line}\n" for line in refused) + "\n")
    if table is not None:
        text += "## Weight battery across architectures (§5)\n\n" + markdown(table)
    atomic_write_bytes(RESULTS / profile / f"{NAME}.md", text.encode())
    if runs:
        save_figure(cross_architecture_figure(runs), profile, NAME)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=PROFILES)
    parser.add_argument("files", nargs="*", help="terrain results files")
    args = parser.parse_args(argv)
    summary = write_summary(args.profile, args.files)
    for line in summary.get("refused", []):  # also in the summary files
        print(f"left out: {line}", file=sys.stderr)
    print(f"{NAME}: {len(summary['rows'])} runs, "
          f"{len(summary['cross_architecture'])} in the cross-architecture table")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
