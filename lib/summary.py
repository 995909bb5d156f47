"""The headline summary across pair runs: SI and dSI with bootstrap intervals, by attention kind.

    python -m lib.summary embedded    # writes results/embedded/summary.{json,md}, figure
"""

from __future__ import annotations

import argparse
from typing import Any

from lib.paths import RESULTS
from lib.results import atomic_write_bytes, read_json, results_path, save_figure, write_json

PAIR_EXPERIMENTS = ("E11", "E11-T")


def summary_rows(profile: str) -> list[dict[str, Any]]:
    """One row per E11/E11-T results file of `profile`, read from disk."""
    rows = []
    for path in sorted((RESULTS / profile).glob("*.json")):
        payload = read_json(path)
        if payload.get("experiment") not in PAIR_EXPERIMENTS:
            continue
        base, inst, delta = payload["base"], payload["instruct"], payload["delta"]
        rows.append({
            "label": f"{payload['experiment']} {payload['run']}",
            "result": str(path.relative_to(RESULTS.parent)),
            "kind": base["model"]["architecture"]["attention_kind"],
            "base_model": base["model"]["name"], "instruct_model": inst["model"]["name"],
            "base_si": base["specialization_index"], "base_ci": base["si_ci"],
            "instruct_si": inst["specialization_index"], "instruct_ci": inst["si_ci"],
            "delta_si": delta["specialization_index"], "delta_ci": delta["si_ci"],
            "delta_ci_excludes_zero": delta["si_ci_excludes_zero"],
            "verdict": payload["verdict"]["code"],
        })
    order = {"MHA": 0, "GQA": 1, "MQA": 2}
    return sorted(rows, key=lambda r: (order.get(r["kind"], 9), r["label"]))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The summary rows as a Markdown table."""
    head = ("| run | kind | base SI [95% CI] | instruct SI [95% CI] | dSI [95% CI] | "
            "CI excludes 0 | verdict |\n|---|---|---|---|---|---|---|\n")

    def ci(point: float, interval: list[float], sign: str = "") -> str:
        return f"{point:{sign}.4f} [{interval[0]:{sign}.4f}, {interval[1]:{sign}.4f}]"

    body = "".join(
        f"| {r['label']} | {r['kind']} | {ci(r['base_si'], r['base_ci'])} | "
        f"{ci(r['instruct_si'], r['instruct_ci'])} | {ci(r['delta_si'], r['delta_ci'], '+')} | "
        f"{'yes' if r['delta_ci_excludes_zero'] else 'no'} | {r['verdict']} |\n"
        for r in rows)
    return head + body


def write_summary(profile: str) -> dict[str, Any]:
    """Write results/<profile>/summary.json and .md and figures/<profile>/summary.png."""
    from lib.attention.plots import summary_figure

    rows = summary_rows(profile)
    payload = {"profile": profile, "rows": rows}
    write_json(results_path(profile, "summary"), payload)
    text = f"# Attention-specialization summary ({profile})\n\n" + markdown_table(rows)
    atomic_write_bytes(RESULTS / profile / "summary.md", text.encode())
    if rows:
        fig = summary_figure(f"Territorial collapse across pairs ({profile}), by attention kind",
                             rows)
        save_figure(fig, profile, "summary")
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=("embedded", "paper"))
    args = parser.parse_args(argv)
    payload = write_summary(args.profile)
    print(markdown_table(payload["rows"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
