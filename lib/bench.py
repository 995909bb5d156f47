"""Every benchmark of the repository in one run: `python -m lib.bench [--quick]` (`make bench`).

Each line of research contributes its areas (`lib.lines`, `Line.bench`: area name -> its rows),
each a table of rows measured in this run: ours against the reference (the seeds' way), their
ratio, the largest difference of the values, the goal and whether it was met. `--quick` shrinks
every size (a smoke run for the tests, not the goals' workloads: its rows say whether the goal
was met at those sizes only). Prints the tables and the rows as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from lib.lines import hook, lines


def row(area: str, what: str, ours: float, reference: float, unit: str, goal: str, met: bool,
        max_diff: float | None = None, note: str = "") -> dict[str, Any]:
    """One table row; `ratio` = reference / ours (a speedup for times, a saving for memory)."""
    ratio = reference / ours if ours > 0 else math.inf
    return {"area": area, "what": what, "ours": float(ours), "reference": float(reference),
            "unit": unit, "ratio": ratio, "max_diff": max_diff, "goal": goal, "met": bool(met),
            "note": note}


def bench_areas() -> dict[str, Callable[[bool], list[dict[str, Any]]]]:
    """Every line's benchmark areas (`lib.lines`: area name -> rows for `quick`)."""
    return {area: hook(rows) for line in lines().values() for area, rows in line.bench.items()}


def run(quick: bool = False, areas: Sequence[str] | None = None) -> dict[str, Any]:
    """{"quick", "areas": {area: rows}, "seconds": {area: s}, "total_s"} for `areas` (all)."""
    known = bench_areas()
    chosen = list(known) if areas is None else list(areas)
    unknown = [a for a in chosen if a not in known]
    if unknown:
        raise ValueError(f"unknown benchmark area(s) {unknown}; choose from {list(known)}")
    start = time.perf_counter()
    out: dict[str, Any] = {"quick": quick, "areas": {}, "seconds": {}}
    for area in chosen:
        t0 = time.perf_counter()
        out["areas"][area] = known[area](quick)
        out["seconds"][area] = time.perf_counter() - t0
    out["total_s"] = time.perf_counter() - start
    return out


def _amount(value: float, unit: str) -> str:
    return f"{value:.4g} {unit}" if unit == "s" else f"{value:.1f} {unit}"


def table(result: dict[str, Any]) -> str:
    """One text table per area: what, ours, reference, ratio, max |diff|, goal, met; notes."""
    lines = []
    for area, rows in result["areas"].items():
        lines += [f"== {area} ({result['seconds'][area]:.0f} s)",
                  f"{'what':58} {'ours':>11} {'reference':>11} {'ratio':>8} {'max |diff|':>10}"
                  f"  {'goal':40} met"]
        for r in rows:
            diff = "-" if r["max_diff"] is None else f"{r['max_diff']:.1e}"
            lines.append(f"{r['what'][:58]:58} {_amount(r['ours'], r['unit']):>11} "
                         f"{_amount(r['reference'], r['unit']):>11} {r['ratio']:>7.1f}x "
                         f"{diff:>10}  {r['goal'][:40]:40} {'yes' if r['met'] else 'NO'}")
            if r["note"]:
                lines.append(f"    {r['note']}")
    mode = "quick sizes (smoke run, not the goals' workloads)" if result["quick"] else "full"
    lines.append(f"{mode}; total {result['total_s']:.0f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: prints the tables and the result as one JSON line; returns the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (for the tests)")
    parser.add_argument("--area", action="append", choices=list(bench_areas()),
                        help="run only this area (repeatable); default: all")
    args = parser.parse_args(argv)
    result = run(args.quick, args.area)
    print(table(result))
    print(json.dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()
