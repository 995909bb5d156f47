"""Check the regenerated results against the published claims: results/REPORT.md and .json.

    python -m lib.report results/embedded/E11_a.json ... results/embedded/summary.json
    python -m lib.report     # the results of every parameter file, the embedded summary

It reads exactly the files it is given (a results file `<profile>/<name>.json`, and
`embedded/summary.json`), so a run whose parameter file was deleted leaves no row behind.
For every claim of `lib.claims`: the published value, the regenerated value (read from the
results file and field the claim names), the difference and a status: `reproduced` (within
tolerance), `differs`, `undefined` (the run stored null: the number is not finite; shown as
n/a), `missing field` (the results file lacks the claim's field: naming it and the parameter
file to rerun) or `not yet run` (naming the parameter file and hardware it needs). The embedded
summary follows (each pair's verdict corrected and by the seed's rule as executed, how its
intervals were made, its SIs against the head-permutation null, its architecture controls, the
comparisons that mix entropy modes), then every E08 model's SI against the head-permutation null.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lib.attention.verdicts import is_finite
from lib.claims import CLAIMS, RESOLUTIONS, Claim, lookup
from lib.paths import RESULTS
from lib.results import atomic_write_bytes, find_result, read_json, run_results, write_json

REPRODUCED, DIFFERS, UNDEFINED, NOT_RUN = "reproduced", "differs", "undefined", "not yet run"
MISSING = "missing field"
STATUSES = (REPRODUCED, DIFFERS, UNDEFINED, MISSING, NOT_RUN)
NOT_AVAILABLE = "n/a"


def check_claim(claim: Claim, results: Mapping[str, dict[str, Any]] | None = None
                ) -> dict[str, Any]:
    """Compare one claim with its regenerated value, read from `results` ({"<profile>/<name>":
    payload}) when given, else from the workflow's results folder."""
    row: dict[str, Any] = {"id": claim.id, "statement": claim.statement,
                           "published": claim.value, "source": claim.source,
                           "tolerance": claim.tolerance, "regenerated": None,
                           "difference": None, "result": None}
    payload = None
    if claim.result is not None:
        profile, name = claim.result.split("/", 1)
        payload = results.get(claim.result) if results is not None else find_result(profile, name)
    if payload is None:
        needs = claim.parameters or "a notebook not yet in the repository"
        row.update(status=NOT_RUN, needs=f"{needs} on a {claim.hardware}")
        return row
    row["result"] = f"results/{claim.result}.json"
    try:
        value = lookup(payload, claim.field)
    except KeyError as exc:  # a section switched off, or a file older than the claim
        rerun = claim.parameters or "the notebook that writes it"
        row.update(status=MISSING, needs=f"{row['result']}: {exc.args[0]}; rerun {rerun}")
        return row
    row["regenerated"] = value
    if isinstance(claim.value, str):
        ok = value == claim.value
    elif not is_finite(value):  # null (or a legacy "nan" string): nothing to compare
        row["status"] = UNDEFINED
        return row
    else:
        row["difference"] = float(value) - float(claim.value)
        ok = abs(row["difference"]) <= (claim.tolerance or 0.0)
    row["status"] = REPRODUCED if ok else DIFFERS
    return row


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not is_finite(value):
        return NOT_AVAILABLE
    if isinstance(value, float):
        return f"{value:+.4g}" if signed else f"{value:.5g}"
    return str(value)


def _regenerated(row: dict[str, Any]) -> str:
    """The regenerated value for the table; n/a where the run stored null (not finite)."""
    return NOT_AVAILABLE if row["status"] == UNDEFINED else _fmt(row["regenerated"])


def mode_lines(summary: dict[str, Any] | None) -> list[str]:
    """One Markdown bullet per summary row whose comparison mixes entropy modes."""
    from lib.summary import mode_note

    return [f"- {r['label']} ({r['result']}): {mode_note(r['mode_mismatch'])}"
            for r in (summary or {}).get("rows", []) if r.get("mode_mismatch")]


def _resolution_row(x: dict[str, Any]) -> str:
    topic = f"{x['topic']} ({x['defect']})" if x.get("defect") else x["topic"]
    taken = x["taken"]
    for key, label in (("as_executed", "as executed"), ("corrected", "corrected")):
        if x.get(key):
            files = x[key] if isinstance(x[key], list) else [x[key]]
            taken += f"; {label}: " + ", ".join(f"`{f}`" for f in files)
    return f"| {topic} | {x['values']} | {taken} | {x['why']} |"


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


def terrain_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The embedded terrain runs' headline numbers (real weights and machinery runs)."""
    runs = [p for key, p in sorted(results.items())
            if key.startswith("embedded/") and p.get("experiment") == "terrain"]
    if not runs:
        return []

    def pair(h: dict[str, Any], a: str, b: str, lift: str) -> str:
        if a not in h:
            return "-"
        return f"{_fmt(h[a])} → {_fmt(h[b])} ({_fmt(h[lift], signed=True)})"

    def ci(h: dict[str, Any]) -> str:
        interval = (h.get("stability_ci") or {}).get("enc_pearson")
        return f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "-"

    def q(h: dict[str, Any]) -> str:
        trained = (h.get("q_sparsity") or {}).get("self_attn_q")
        init = (h.get("init_q_sparsity") or {}).get("self_attn_q")
        if trained is None:
            return "-"
        return f"{trained:.1%}" + (f" (init {init:.1%})" if init is not None else "")

    lines = ["", "## Terrain: embedded runs (this machine, offline)", "",
             "MiniLM, SmolLM2 and Gemma-3 carry real weights; `tiny/...` and `init/...` runs test "
             "the machinery (random weights) and claim nothing. WordNet columns: static token "
             "embedding → the encoder's pooled definition (lift); the interval is the 95% "
             "t-interval of the encoder Pearson over the 50-seed stability test (an addition: the "
             "seed computed none).", "",
             "| run | model | lemmas | Pearson static → encoder (lift) | Spearman static → encoder "
             "(lift) | gradient static → encoder | 95% CI encoder Pearson | PR/dim | volume CV | "
             "Q sparsity |", "|---|---|---|---|---|---|---|---|---|---|"]
    for p in runs:
        h = p.get("headline", {})
        grad = (f"{_fmt(h['gradient_static'])} → {_fmt(h['gradient_encoder'])}"
                if "gradient_static" in h else "-")
        lines.append(
            f"| {p['run']} | {p['model']['name']} | {h.get('matched', '-')} | "
            f"{pair(h, 'static_pearson', 'encoder_pearson', 'lift_pearson')} | "
            f"{pair(h, 'static_spearman', 'encoder_spearman', 'lift_spearman')} | {grad} | "
            f"{ci(h)} | {_fmt(h.get('pr_over_dim'))} | {_fmt(h.get('volume_cv'))} | {q(h)} |")
    return lines


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
             "The tiny T5 run tests the machinery and claims nothing.", "",
             "| run | model | original r | Procrustes r (preservation) | trained r (lift) | "
             "field r (lift) | mean α after training |", "|---|---|---|---|---|---|---|"]

    def pair(h: dict[str, Any], r: str, extra: str, pct: bool = True) -> str:
        if r not in h:
            return "-"
        tail = h.get(extra)
        shown = (f"{tail:+.1%}" if pct else f"{tail:.4f}") if tail is not None else "-"
        return f"{_fmt(h[r])} ({shown})"

    for p in runs:
        h = p.get("headline", {})
        lines.append(
            f"| {p['run']} | {p.get('model', {}).get('name', p.get('model', '-'))} | "
            f"{_fmt(h.get('original_pearson'))} | "
            f"{pair(h, 'procrustes_pearson', 'procrustes_preservation', pct=False)} | "
            f"{pair(h, 'trained_pearson', 'trained_lift_pearson')} | "
            f"{pair(h, 'field_pearson', 'field_lift_pearson')} | "
            f"{_fmt(h.get('trained_alpha_mean'))} |")
    return lines


def ladder_null_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Each E08 model's SI with its bootstrap interval beside its head-permutation null."""
    from lib.attention.study import is_stand_in
    from lib.summary import interval_text, permutation_text

    lines, methods = [], []
    for key, payload in sorted(results.items()):
        if payload.get("experiment") != "E08":
            continue
        method = payload.get("methodology") or {}
        boot = method.get("bootstrap") or {}
        bootstrap = (f"{method.get('num_prompts', '-')} prompts, {boot.get('n', '-')} resamples"
                     + (f", percentile {boot['ci']:.0%}" if "ci" in boot else ""))
        for m in payload.get("models", {}).values():
            block = (m.get("controls") or {}).get("head_permutation") or {}
            null = block.get("si") or {}
            methods.append(block or None)
            p = null.get("p")
            weights = "random-init stand-in (tests the pipeline)" if is_stand_in(m["model"]) else (
                "real")
            lines.append(
                f"| {key} | {m.get('display', m['model']['name'])} | "
                f"{m['model']['architecture']['attention_kind']} | "
                f"{interval_text(m['specialization_index'], m.get('si_ci'))} | "
                + (f"{interval_text(null.get('null_mean'), (null.get('low'), null.get('high')))}"
                   f" | {p:.3f} | " if is_finite(p) else f"{NOT_AVAILABLE} | {NOT_AVAILABLE} | ")
                + f"{bootstrap} | {weights} |")
    if not lines:
        return []
    return ["", "## E08: each model's SI against the head-permutation null", "",
            permutation_text(methods, paired=False), "",
            "| run | model | kind | SI [bootstrap CI] | head-permutation null: mean [interval] | "
            "p | bootstrap | weights |", "|---|---|---|---|---|---|---|---|", *lines]


def render(rows: list[dict[str, Any]], embedded: dict[str, Any] | None,
           results: Mapping[str, dict[str, Any]] | None = None) -> str:
    """REPORT.md: claims, the seeds' contradictions and what was taken, the embedded runs."""
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    lines = [
        "# Published claims vs regenerated results",
        "",
        "Generated by `python -m lib.report` from the files under `results/`; do not edit.",
        "",
        f"{counts[REPRODUCED]} reproduced, {counts[DIFFERS]} differ, "
        + (f"{counts[UNDEFINED]} undefined (n/a), " if counts[UNDEFINED] else "")
        + (f"{counts[MISSING]} missing a field, " if counts[MISSING] else "")
        + f"{counts[NOT_RUN]} not yet run.",
        "",
        "| claim | published | regenerated | difference | tolerance | status | result / needs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        where = r.get("needs") or r["result"] or ""  # needs: what a missing or unrun one wants
        lines.append(
            f"| {r['statement']} (`{r['id']}`, {r['source']}) | {_fmt(r['published'])} | "
            f"{_regenerated(r)} | {_fmt(r['difference'], signed=True)} | "
            f"{_fmt(r['tolerance'])} | **{r['status']}** | {where} |")
    lines += ["", "## Where the seeds disagree with themselves", "",
              "| topic | the seeds say | the repository takes | why |", "|---|---|---|---|"]
    lines += [_resolution_row(x) for x in RESOLUTIONS]
    lines += provenance_lines()
    lines += terrain_lines(results or {})
    lines += modulator_lines(results or {})
    lines += ladder_null_lines(results or {})
    if embedded and embedded.get("rows"):
        from lib.attention.verdicts import COLLAPSE_RULES
        from lib.summary import (
            CONTROLS_NOTE,
            bootstrap_text,
            controls_markdown,
            markdown_table,
            permutation_markdown,
            permutation_text,
        )

        lines += ["", "## Embedded runs (this machine, offline)", "",
                  "Tiny random-initialized pairs exercise the pipeline of each attention kind; "
                  "they test the code, not the paper's claims. See "
                  "`results/embedded/E08_embedded-ladder.json` for the one real (small "
                  "pretrained model) result.", "", markdown_table(embedded["rows"]).rstrip(), "",
                  bootstrap_text(embedded["rows"]), "", COLLAPSE_RULES]
        nulls = permutation_markdown(embedded["rows"])
        if nulls:
            methods = [(r.get("controls") or {}).get("permutation_method")
                       for r in embedded["rows"]]
            lines += ["", "### SI of each pair against the head-permutation null", "",
                      permutation_text(methods), "", nulls.rstrip()]
        controls = controls_markdown(embedded["rows"])
        if controls:
            lines += ["", "### Architecture controls of each pair", "", CONTROLS_NOTE, "",
                      controls.rstrip()]
    mixed = mode_lines(embedded)
    if mixed:
        lines += ["", "## Comparisons across entropy modes", "",
                  "These runs are compared with a reference measured in another entropy mode "
                  "(padding in or out of the entropy), as the seeds did; read their comparison "
                  "verdicts with that in mind.", "", *mixed]
    return "\n".join(lines) + "\n"


def report_inputs() -> list[Path]:
    """The default inputs: every parameter file's results and the embedded summary, if made."""
    summary = RESULTS / "embedded" / "summary.json"
    files = [*run_results("embedded"), *run_results("paper")]
    return [*files, summary] if summary.is_file() else files


def write_report(files: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """Write results/REPORT.md and results/report.json from `files` (else `report_inputs()`)."""
    paths = [Path(f).resolve() for f in (report_inputs() if files is None else files)]
    summaries = [p for p in paths if p.stem == "summary"]
    if any(p.parent.name != "embedded" for p in summaries):
        raise ValueError(f"only results/embedded/summary.json goes into the report, got "
                         f"{[str(p) for p in summaries]}")
    results = {f"{p.parent.name}/{p.stem}": read_json(p) for p in paths if p.stem != "summary"}
    rows = [check_claim(c, results) for c in CLAIMS]
    embedded = read_json(summaries[0]) if summaries else None
    write_json(RESULTS / "report.json", {"claims": rows, "resolutions": list(RESOLUTIONS),
                                         "mode_mismatches": mode_lines(embedded)})
    atomic_write_bytes(RESULTS / "REPORT.md", render(rows, embedded, results).encode())
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="results files and embedded/summary.json "
                        "(default: report_inputs())")
    args = parser.parse_args(argv)
    rows = write_report(args.files or None)
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    print(f"results/REPORT.md: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
