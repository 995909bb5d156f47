"""The headline summary across pair runs: SI and dSI with bootstrap intervals, by attention kind,
the collapse verdict corrected and as the seed's rule executed it, each SI against its
head-permutation null (`lib.attention.nulls.NULL_FIGURES`), and beside each pair its architecture
controls (`lib.attention.stats.CONTROL_FIGURES`).

    python -m lib.attention.summary embedded results/embedded/E11_a.json ...   # exactly these files
    python -m lib.attention.summary embedded    # the results of every parameters/embedded/ file

Writes results/<profile>/summary.{json,md} and figures/<profile>/summary.png (under
results/scratch/ outside the workflow, see `lib.results`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.attention.nulls import NULL_FIGURES
from lib.attention.stats import CONTROL_FIGURES
from lib.attention.study import STAND_IN_PAIR, is_stand_in
from lib.attention.verdicts import COLLAPSE_RULES, is_finite
from lib.integrity import refusal_line, split_checked
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
    null (the null model, random initialization) {point, low, high, reason}; `permutation`: per
    `NULL_FIGURES` figure, each side's {point, low, high, p, reason} against the head-permutation
    null, with n_permutations and seed (empty for a result saved before it); None for a result
    saved before the controls."""
    sides = {side: payload[side].get("controls") for side in ("base", "instruct", "delta")}
    if not all(sides.values()):
        return None
    sides["null"] = payload.get("null_model") or {}

    def estimate(block: dict[str, Any], group: str, key: str) -> dict[str, Any]:
        value = (block.get(group) or {}).get(key) or {}
        return {k: value.get(k) for k in ("point", "low", "high", "reason")}

    def null(block: dict[str, Any], key: str) -> dict[str, Any]:
        value = (block.get("head_permutation") or {}).get(key) or {}
        return {k: value.get(k) for k in ("point", "low", "high", "p", "reason")}

    method = sides["delta"].get("head_permutation") or {}
    return {"num_kv_heads": sides["base"]["kv_groups"]["num_kv_heads"],
            "null_model": (sides["null"].get("model") or {}).get("name"),
            "figures": [{"control": label,
                         **{side: estimate(block, group, key) for side, block in sides.items()}}
                        for label, group, key in CONTROL_FIGURES],
            "permutation": [{"figure": label,
                             **{side: null(block, key) for side, block in sides.items()}}
                            for label, key in NULL_FIGURES] if method else [],
            "permutation_method": {k: method.get(k) for k in ("n_permutations", "seed", "ci")}
            if method else None}


def bootstrap_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    """How a pair result's intervals were made: {n_prompts, n_boot, seed, ci} (from the delta,
    else the methodology block); None where neither says."""
    if (stored := payload["delta"].get("bootstrap")):
        return stored
    method = payload.get("methodology") or {}
    boot = method.get("bootstrap")
    if not boot or "num_prompts" not in method:
        return None
    return {"n_prompts": method["num_prompts"], "n_boot": boot["n"], "seed": boot["seed"],
            "ci": boot["ci"]}


def summary_rows(profile: str, files: Sequence[str | Path] | None = None,
                 refused: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per E11/E11-T results file: `files`, else `lib.results.run_results(profile)`.
    A file that fails `lib.integrity.check_result` gives no row: its line goes to `refused`."""
    rows = []
    paths = [Path(os.path.abspath(f)) for f in (run_results(profile) if files is None else files)]
    accepted, checks = split_checked(paths)  # abspath: a symlinked results folder stays named
    if refused is not None:
        refused.extend(refusal_line(c) for c in checks)
    for path in accepted:
        payload = read_json(path)
        if payload.get("experiment") not in PAIR_EXPERIMENTS:
            continue
        base, inst, delta = payload["base"], payload["instruct"], payload["delta"]
        verdict = payload["verdict"]
        rows.append({
            "label": f"{payload['experiment']} {payload['run']}",
            "result": str(path.relative_to(RESULTS.parent)),
            "kind": base["model"]["architecture"]["attention_kind"],
            "base_model": base["model"]["name"], "instruct_model": inst["model"]["name"],
            "base_si": base["specialization_index"], "base_ci": base["si_ci"],
            "instruct_si": inst["specialization_index"], "instruct_ci": inst["si_ci"],
            "delta_si": delta["specialization_index"], "delta_ci": delta["si_ci"],
            "delta_ci_excludes_zero": delta["si_ci_excludes_zero"],
            "delta_si_relative": delta.get("specialization_index_relative"),
            "seed_null_ci": (((delta.get("seed_null") or {}).get("specialization_index") or {})
                              .get("interval")),
            "verdict": verdict["code"],
            "verdict_bootstrap_only": (verdict.get("values") or {}).get("bootstrap_only"),
            "verdict_seed_rule": (verdict.get("as_executed") or {}).get("code"),
            "verdict_signs": (verdict.get("values") or {}).get("sign_status"),
            "verdict_reason": verdict.get("reason", ""),
            "stand_in": is_stand_in(base["model"]) or is_stand_in(inst["model"]),
            "bootstrap": bootstrap_of(payload),
            "entropy_mode": (payload.get("methodology") or {}).get("entropy_mode"),
            "mode_mismatch": mode_mismatches(payload),
            "controls": controls_of(payload),
        })
    order = {"MHA": 0, "GQA": 1, "MQA": 2}
    return sorted(rows, key=lambda r: (order.get(r["kind"], 9), r["label"]))


def _num(value: Any, sign: str = "") -> str:
    return f"{float(value):{sign}.4f}" if is_finite(value) else NOT_AVAILABLE


def interval_text(point: Any, interval: Sequence[Any] | None, sign: str = "") -> str:
    """'point [low, high]' to 4 decimals ('n/a' for a number that is not finite)."""
    low, high = interval if interval else (None, None)
    return f"{_num(point, sign)} [{_num(low, sign)}, {_num(high, sign)}]"


def _bootstrap_cell(boot: dict[str, Any] | None) -> str:
    return "-" if not boot else f"{boot['n_prompts']} prompts, {boot['n_boot']} resamples"


def _seed_null(row: dict[str, Any]) -> str:
    ci = row.get("seed_null_ci")
    return (f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci and all(is_finite(v) for v in ci)
            else NOT_AVAILABLE)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The summary rows as a Markdown table: the verdict corrected and by the seed's rule as
    executed, how the intervals were made, what a stand-in pair is."""
    head = ("| run | kind | base SI [95% CI] | instruct SI [95% CI] | dSI [95% CI] | "
            "CI excludes 0 | dSI seed null 95% | verdict (corrected) | bootstrap alone | "
            "seed rule as executed | bootstrap | notes |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")

    def notes(r: dict[str, Any]) -> str:
        signs = r.get("verdict_signs") or {}
        return "; ".join(x for x in (
            STAND_IN_PAIR if r.get("stand_in") else "",
            ", ".join(f"{k}: {v}" for k, v in signs.items()),
            r.get("verdict_reason", ""), mode_note(r.get("mode_mismatch") or [])) if x)

    body = "".join(
        f"| {r['label']} | {r['kind']} | {interval_text(r['base_si'], r['base_ci'])} | "
        f"{interval_text(r['instruct_si'], r['instruct_ci'])} | "
        f"{interval_text(r['delta_si'], r['delta_ci'], '+')} | "
        f"{'yes' if r['delta_ci_excludes_zero'] else 'no'} | {_seed_null(r)} | "
        f"{r['verdict']} | {r.get('verdict_bootstrap_only') or '-'} | "
        f"{r.get('verdict_seed_rule') or '-'} | {_bootstrap_cell(r.get('bootstrap'))} | "
        f"{notes(r)} |\n"
        for r in rows)
    return head + body


def bootstrap_text(rows: list[dict[str, Any]]) -> str:
    """One sentence on the intervals of `rows`: percentile bootstrap over prompts, the prompts and
    resamples of each setting used."""
    settings = dict.fromkeys(
        f"{b['n_prompts']} prompts, {b['n_boot']} resamples, seed {b['seed']}, {b['ci']:.0%}"
        for r in rows if (b := r.get("bootstrap")))
    used = "; ".join(settings) or "settings not recorded"
    return ("Intervals: percentile bootstrap over prompts (the prompts resampled with "
            f"replacement; paired, the same prompts for base and instruct, for a delta): {used}.")


SIDES = ("base", "instruct", "delta", "null")


def controls_markdown(rows: list[dict[str, Any]]) -> str:
    """The architecture controls of the summary rows as a Markdown table, one line per pair and
    figure ('n/a' where undefined, the reason in notes); '' when no row has controls."""
    def cell(e: dict[str, Any], sign: str = "") -> str:
        if not is_finite(e["point"]):
            return NOT_AVAILABLE
        return interval_text(e["point"], (e["low"], e["high"]), sign)

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


def _null_cell(e: dict[str, Any] | None, sign: str = "") -> str:
    if not e or not is_finite(e.get("point")) or not is_finite(e.get("p")):
        return NOT_AVAILABLE
    return (f"{_num(e['point'], sign)} (null [{_num(e['low'], sign)}, {_num(e['high'], sign)}], "
            f"p {float(e['p']):.3f})")


def permutation_markdown(rows: list[dict[str, Any]]) -> str:
    """Each pair's SI, dSI and group figures against the head-permutation null as a Markdown
    table ('n/a' where undefined, the reason in notes); '' when no row has the null."""
    lines = []
    for r in rows:
        for f in ((r.get("controls") or {}).get("permutation") or []):
            reasons = dict.fromkeys(f[s]["reason"] for s in SIDES if (f.get(s) or {}).get("reason"))
            lines.append(f"| {r['label']} | {r['kind']} | {f['figure']} | "
                         f"{_null_cell(f['base'])} | {_null_cell(f['instruct'])} | "
                         f"{_null_cell(f['delta'], '+')} | {_null_cell(f.get('null'))} | "
                         f"{'; '.join(reasons)} |\n")
    if not lines:
        return ""
    return ("| run | kind | figure | base (null 95%, p) | instruct (null 95%, p) | "
            "delta (null 95%, p) | random-init null model (null 95%, p) | notes |\n"
            "|---|---|---|---|---|---|---|---|\n" + "".join(lines))


def permutation_text(methods: Sequence[dict[str, Any] | None], paired: bool = True) -> str:
    """What the head-permutation null is, with each setting used ({n_permutations, seed, ci},
    e.g. a `permutation_method` or a `head_permutation` block); `paired`: say how a delta's null
    is made."""
    settings = dict.fromkeys(
        f"{m['n_permutations']} permutations, seed {m['seed']}, {m['ci']:.0%} interval"
        for m in methods if m and None not in (m.get(k) for k in ("n_permutations", "seed", "ci")))
    return ("Head-permutation null: the heads of each layer shuffled independently (head h of "
            "layer l and head h of layer l + 1 are one unit only if head identity persists "
            "across layers), the figure recomputed per draw"
            + ("; base and instruct shuffled independently for a delta" if paired else "")
            + ". p: two-sided, (1 + #draws at least as far from the null mean as the observed "
            "value) / (1 + n). A large p: the figure is a typical draw, it says nothing beyond "
            "chance." + (f" {'; '.join(settings)}." if settings else ""))


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
    from lib.attention.plots import summary_figure  # matplotlib: only for the figure

    refused: list[str] = []
    rows = summary_rows(profile, files, refused)
    payload = {"profile": profile, "rows": rows, "refused": refused}
    path = write_json(results_path(profile, "summary"), payload)
    text = f"# Attention-specialization summary ({profile})\n\n"
    if refused:
        text += ("Left out, not made by the workflow's file and today's code:\n\n"
                 + "".join(f"- {line}\n" for line in refused) + "\n")
    text += (markdown_table(rows) + f"\n{bootstrap_text(rows)}\n\n{COLLAPSE_RULES}\n")
    nulls = permutation_markdown(rows)
    methods = [(r.get("controls") or {}).get("permutation_method") for r in rows]
    if nulls:
        text += (f"\n## SI against the head-permutation null\n\n{permutation_text(methods)}"
                 f"\n\n{nulls}")
    controls = controls_markdown(rows)
    if controls:
        text += f"\n## Architecture controls\n\n{CONTROLS_NOTE}\n\n{controls}"
    atomic_write_bytes(path.with_suffix(".md"), text.encode())
    if rows:
        fig = summary_figure(figure_title(profile, rows), rows)
        save_figure(fig, profile, "summary")
    return payload


def figure_title(profile: str, rows: list[dict[str, Any]]) -> str:
    """The summary figure's title: territorial collapse, unless every pair is a random-init
    stand-in (then it says so)."""
    if rows and all(r.get("stand_in") for r in rows):
        return f"Random-init stand-in pairs: they test the pipeline ({profile}), by attention kind"
    return f"Territorial collapse across pairs ({profile}), by attention kind"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=("embedded", "paper"))
    parser.add_argument("files", nargs="*", help="results files (default: the profile's runs)")
    args = parser.parse_args(argv)
    payload = write_summary(args.profile, args.files or None)
    for line in payload["refused"]:  # also in summary.md: said here too, not only on file
        print(f"left out: {line}", file=sys.stderr)
    print(markdown_table(payload["rows"]))
    nulls = permutation_markdown(payload["rows"])
    if nulls:
        print(nulls)
    controls = controls_markdown(payload["rows"])
    if controls:
        print(controls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
