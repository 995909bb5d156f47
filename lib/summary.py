"""The headline summary across pair runs: SI and dSI with bootstrap intervals, by attention kind,
and beside each pair its architecture controls (`lib.attention.stats.CONTROL_FIGURES`).

    python -m lib.summary embedded results/embedded/E11_a.json ...   # exactly these files
    python -m lib.summary embedded    # the results of every parameters/embedded/ file

Writes results/<profile>/summary.{json,md} and figures/<profile>/summary.png (under
results/scratch/ outside the workflow, see `lib.results`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.attention.stats import CONTROL_FIGURES
from lib.attention.verdicts import is_finite
from lib.paths import RESULTS
from lib.results import (
    atomic_write_bytes,
    read_json,
    results_path,
    run_results,
    save_figure,
    write_json,
)

PAIR_EXPERIMENTS = ("E11", "E11-T")
COMPARISONS = ("mha_comparison", "cross_scale")  # result blocks that compare with another run
NOT_AVAILABLE = "n/a"  # a number stored as null (not finite)


def mode_mismatches(payload: dict[str, Any]) -> list[dict[str, str]]:
    """The `mode_mismatch` records of a result's comparisons (empty when the modes agree)."""
    return [block["mode_mismatch"] for key in COMPARISONS
            if isinstance(block := payload.get(key), dict) and block.get("mode_mismatch")]


def mode_note(mismatches: list[dict[str, str]]) -> str:
    """'entropy modes differ: padded vs masked (E11_tiny-mha)', or '' when there are none."""
    return "; ".join(f"entropy modes differ: {m['this_run']} vs {m['reference']} "
                     f"({m['reference_run']})" for m in mismatches)


def controls_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A pair result's architecture controls: kv heads and, per figure, base / instruct / delta /
    null (the null model, random initialization) {point, low, high, reason}; None for a result
    saved before the controls."""
    sides = {side: payload[side].get("controls") for side in ("base", "instruct", "delta")}
    if not all(sides.values()):
        return None
    sides["null"] = payload.get("null_model") or {}

    def estimate(block: dict[str, Any], group: str, key: str) -> dict[str, Any]:
        value = (block.get(group) or {}).get(key) or {}
        return {k: value.get(k) for k in ("point", "low", "high", "reason")}

    return {"num_kv_heads": sides["base"]["kv_groups"]["num_kv_heads"],
            "null_model": (sides["null"].get("model") or {}).get("name"),
            "figures": [{"control": label,
                         **{side: estimate(block, group, key) for side, block in sides.items()}}
                        for label, group, key in CONTROL_FIGURES]}


def summary_rows(profile: str, files: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """One row per E11/E11-T results file: `files`, else `lib.results.run_results(profile)`."""
    rows = []
    for path in [Path(f).resolve() for f in (run_results(profile) if files is None else files)]:
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
            "verdict_reason": payload["verdict"].get("reason", ""),
            "entropy_mode": (payload.get("methodology") or {}).get("entropy_mode"),
            "mode_mismatch": mode_mismatches(payload),
            "controls": controls_of(payload),
        })
    order = {"MHA": 0, "GQA": 1, "MQA": 2}
    return sorted(rows, key=lambda r: (order.get(r["kind"], 9), r["label"]))


def _num(value: Any, sign: str = "") -> str:
    return f"{float(value):{sign}.4f}" if is_finite(value) else NOT_AVAILABLE


def _ci(point: Any, interval: Sequence[Any] | None, sign: str = "") -> str:
    low, high = interval if interval else (None, None)
    return f"{_num(point, sign)} [{_num(low, sign)}, {_num(high, sign)}]"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The summary rows as a Markdown table."""
    head = ("| run | kind | base SI [95% CI] | instruct SI [95% CI] | dSI [95% CI] | "
            "CI excludes 0 | verdict | notes |\n|---|---|---|---|---|---|---|---|\n")

    def notes(r: dict[str, Any]) -> str:
        return "; ".join(x for x in (r.get("verdict_reason", ""),
                                     mode_note(r.get("mode_mismatch") or [])) if x)

    body = "".join(
        f"| {r['label']} | {r['kind']} | {_ci(r['base_si'], r['base_ci'])} | "
        f"{_ci(r['instruct_si'], r['instruct_ci'])} | {_ci(r['delta_si'], r['delta_ci'], '+')} | "
        f"{'yes' if r['delta_ci_excludes_zero'] else 'no'} | {r['verdict']} | {notes(r)} |\n"
        for r in rows)
    return head + body


SIDES = ("base", "instruct", "delta", "null")


def controls_markdown(rows: list[dict[str, Any]]) -> str:
    """The architecture controls of the summary rows as a Markdown table, one line per pair and
    figure ('n/a' where undefined, the reason in notes); '' when no row has controls."""
    def cell(e: dict[str, Any], sign: str = "") -> str:
        return _ci(e["point"], (e["low"], e["high"]), sign) if is_finite(e["point"]) else (
            NOT_AVAILABLE)

    lines = []
    for r in rows:
        controls = r.get("controls")
        for f in (controls or {}).get("figures", []):
            reasons = dict.fromkeys(f[s]["reason"] for s in SIDES if f.get(s, {}).get("reason"))
            null = f.get("null") or {"point": None}
            lines.append(f"| {r['label']} | {r['kind']} | {controls['num_kv_heads']} | "
                         f"{f['control']} | {cell(f['base'])} | {cell(f['instruct'])} | "
                         f"{cell(f['delta'], '+')} | {cell(null)} | {'; '.join(reasons)} |\n")
    if not lines:
        return ""
    return ("| run | kind | kv heads | control | base [95% CI] | instruct [95% CI] | "
            "delta [95% CI] | null model [95% CI] | notes |\n"
            "|---|---|---|---|---|---|---|---|---|\n" + "".join(lines))


CONTROLS_NOTE = ("Architecture controls: group SI = SI among the KV groups' mean profiles "
                 "(MHA: the SI; MQA: undefined); within-group head correlation = mean "
                 "correlation of the head pairs sharing a KV head (MHA: undefined; MQA: the mean "
                 "head correlation); sink share = mean weight on the first token over the real "
                 "query positions, heads and layers; null model = the same architecture at random "
                 "initialization (random/<base>, reduced only to the file's random_max_parameters, "
                 "one seed). Intervals: "
                 "bootstrap over prompts, paired for the delta.")


def write_summary(profile: str, files: Sequence[str | Path] | None = None) -> dict[str, Any]:
    """Write results/<profile>/summary.json and .md and figures/<profile>/summary.png."""
    from lib.attention.plots import summary_figure

    rows = summary_rows(profile, files)
    payload = {"profile": profile, "rows": rows}
    path = write_json(results_path(profile, "summary"), payload)
    text = f"# Attention-specialization summary ({profile})\n\n" + markdown_table(rows)
    controls = controls_markdown(rows)
    if controls:
        text += f"\n## Architecture controls\n\n{CONTROLS_NOTE}\n\n{controls}"
    atomic_write_bytes(path.with_suffix(".md"), text.encode())
    if rows:
        fig = summary_figure(f"Territorial collapse across pairs ({profile}), by attention kind",
                             rows)
        save_figure(fig, profile, "summary")
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=("embedded", "paper"))
    parser.add_argument("files", nargs="*", help="results files (default: the profile's runs)")
    args = parser.parse_args(argv)
    payload = write_summary(args.profile, args.files or None)
    print(markdown_table(payload["rows"]))
    controls = controls_markdown(payload["rows"])
    if controls:
        print(controls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
