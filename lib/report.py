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
analytic interval, `lib.terrain.nulls`), never by the claim's tolerance. A claim whose check
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
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lib.attention import readings
from lib.attention.calibration import report_lines as calibration_lines
from lib.attention.verdicts import is_finite
from lib.claims import CLAIMS, RESOLUTIONS, Claim, lookup
from lib.integrity import refusal_line, split_checked
from lib.paths import RESULTS, shown
from lib.results import atomic_write_bytes, find_result, read_json, run_results, write_json

REPRODUCED, DIFFERS, UNDEFINED, NOT_RUN = "reproduced", "differs", "undefined", "not yet run"
MISSING = "missing field"
IN_BAND, OUTSIDE = "in band", "outside band"
NOT_TESTABLE = "asserted, not testable"
# issue 24: a claim the check passes but whose baseline passes it too (random weights, a null,
# a Gaussian reference give the claimed value) is no evidence: its own status, counted apart
GIVEN_BY_BASELINE = {"initialization": "random weights give it too",
                     "permutation": "its null gives it too",
                     "reference": "its reference gives it too"}
STATUSES = (REPRODUCED, IN_BAND, *GIVEN_BY_BASELINE.values(), DIFFERS, OUTSIDE, NOT_TESTABLE,
            UNDEFINED, MISSING, NOT_RUN)
NOT_AVAILABLE = "n/a"
INDISTINGUISHABLE = {"initialization": "indistinguishable from random weights",
                     "permutation": "indistinguishable from its null",
                     "reference": "indistinguishable from its reference"}
DISTINGUISHABLE = "distinguishable"
NO_SPREAD = "one value, no spread: cannot say"


def _payload(result: str, results: Mapping[str, dict[str, Any]] | None) -> dict[str, Any] | None:
    profile, name = result.split("/", 1)
    return results.get(result) if results is not None else find_result(profile, name)


def check_claim(claim: Claim, results: Mapping[str, dict[str, Any]] | None = None,
                rows: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Compare one claim with its regenerated value, read from `results` ({"<profile>/<name>":
    payload}) when given, else from the workflow's results folder; an ordered claim reads the
    rows (`rows`, by id) of the claims it orders. With a baseline, `baseline` says what it is
    and whether the value is indistinguishable from it."""
    published = claim.value if claim.value is not None else (
        list(claim.band) if claim.band else " < ".join(claim.ordered or ()))
    row: dict[str, Any] = {"id": claim.id, "statement": claim.statement,
                           "published": published, "source": claim.source,
                           "tolerance": claim.tolerance, "regenerated": None,
                           "difference": None, "result": None, "same_as": claim.same_as}
    if claim.ordered is not None:
        row.update(_ordered(claim, rows or {}))
        return row
    payload = _payload(claim.result, results) if claim.result is not None else None
    if payload is None and not claim.testable:  # no run can test it: say so, not "not yet run"
        row.update(status=NOT_TESTABLE, needs="nothing to run: its field echoes an input")
    elif payload is None:
        needs = claim.parameters or "a notebook not yet in the repository"
        row.update(status=NOT_RUN, needs=f"{needs} on a {claim.hardware}")
    else:
        row.update(_measured(claim, payload))
    if claim.baseline is not None:
        row["baseline"] = check_baseline(claim, row, results)
        if row["status"] in (REPRODUCED, IN_BAND) and row["baseline"].get("gives_claim"):
            # the check passes, but random weights (the null, the reference) pass it too
            row["check"] = row["status"]
            row["status"] = GIVEN_BY_BASELINE[claim.baseline.kind]
    return row


def _measured(claim: Claim, payload: dict[str, Any]) -> dict[str, Any]:
    """status, regenerated, difference (and result / needs) of a claim whose result exists."""
    out: dict[str, Any] = {"result": f"results/{claim.result}.json"}
    try:
        value = lookup(payload, claim.field)
    except KeyError as exc:  # a section switched off, or a file older than the claim
        rerun = claim.parameters or "the notebook that writes it"
        return out | {"status": MISSING, "needs": f"{out['result']}: {exc.args[0]}; rerun {rerun}"}
    out["regenerated"] = value
    tol = claim.tolerance or 0.0
    if not claim.testable:
        out["status"] = NOT_TESTABLE  # the field echoes an input: nothing is measured
    elif isinstance(claim.value, (str, bool)) and value is not None:
        out["status"] = REPRODUCED if value == claim.value else DIFFERS
    elif not is_finite(value):  # null (or a legacy "nan" string): nothing to compare
        out["status"] = UNDEFINED
    elif claim.band is not None:
        lo, hi = claim.band
        out["difference"] = min(0.0, float(value) - lo) + max(0.0, float(value) - hi)
        out["status"] = IN_BAND if lo - tol <= float(value) <= hi + tol else OUTSIDE
    else:
        out["difference"] = float(value) - float(claim.value)
        out["status"] = REPRODUCED if abs(out["difference"]) <= tol else DIFFERS
    return out


def _ordered(claim: Claim, rows: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """An ordered claim: reproduced when the named claims' regenerated values rise strictly."""
    named = [rows.get(i) for i in claim.ordered or ()]
    if any(r is None or r["status"] in (NOT_RUN, MISSING) for r in named):
        missing = [i for i, r in zip(claim.ordered or (), named, strict=True)
                   if r is None or r["status"] in (NOT_RUN, MISSING)]
        return {"status": NOT_RUN, "needs": "the runs of " + ", ".join(missing)}
    values = [r["regenerated"] for r in named]
    if not all(is_finite(v) for v in values):
        return {"status": UNDEFINED, "regenerated": values}
    rising = all(float(a) < float(b) for a, b in zip(values, values[1:], strict=False))
    return {"status": REPRODUCED if rising else DIFFERS,
            "regenerated": (" < " if rising else ", ").join(f"{float(v):.4g}" for v in values)}


def check_baseline(claim: Claim, row: dict[str, Any],
                   results: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The claim's baseline: {label, kind, result, value, shown, status, compared, gives_claim}.

    status: whether the value compared (the regenerated one, else the published one: `compared`
    says which) is a typical value of the baseline's sampling distribution, decided by that
    distribution alone (`lib.terrain.nulls`: the interval of several initialization seeds or an
    analytic one, a null's interval, a reference's interval of the difference), never by the
    claim's tolerance: INDISTINGUISHABLE[kind] or DISTINGUISHABLE; UNDEFINED where the baseline
    is one value without a spread (`reason`); NOT_RUN / MISSING without its run or field.
    gives_claim: whether the baseline itself passes the claim's check (what random weights give
    overlaps published ± tolerance, or the band): then reproducing the claim is no evidence."""
    b = claim.baseline
    assert b is not None
    out: dict[str, Any] = {"label": b.label, "kind": b.kind, "result": f"results/{b.result}.json",
                           "value": None, "gives_claim": None}
    if is_finite(row.get("regenerated")) and row["status"] not in (MISSING, NOT_RUN):
        x, out["compared"] = float(row["regenerated"]), "regenerated"
    elif isinstance(claim.value, (int, float)) and not isinstance(claim.value, bool):
        x, out["compared"] = float(claim.value), "published"
    else:
        x, out["compared"] = None, None
    payload = _payload(b.result, results)
    if payload is None:
        return out | {"status": NOT_RUN, "shown": NOT_RUN}
    try:
        value = lookup(payload, b.field)
    except KeyError as exc:
        return out | {"status": MISSING, "shown": f"{MISSING}: {exc.args[0]}"}
    shown, inside, gives = _baseline_view(value, x)
    accepted = _accepted(claim)
    out.update(value=value, shown=shown, gives_claim=None if gives is None or accepted is None
               else bool(gives[0] <= accepted[1] and accepted[0] <= gives[1]))
    if inside is None:
        out["status"] = UNDEFINED
        if is_finite(value):
            out["reason"] = NO_SPREAD
    else:
        out["status"] = INDISTINGUISHABLE[b.kind] if inside else DISTINGUISHABLE
    return out


def _accepted(claim: Claim) -> tuple[float, float] | None:
    """The values the claim's own check accepts: published ± tolerance, or the band widened by
    its tolerance (None for a string, bool or ordered claim)."""
    tol = claim.tolerance or 0.0
    if claim.band is not None:
        return claim.band[0] - tol, claim.band[1] + tol
    if isinstance(claim.value, (int, float)) and not isinstance(claim.value, bool):
        return float(claim.value) - tol, float(claim.value) + tol
    return None


def _baseline_view(value: Any, x: float | None
                   ) -> tuple[str, bool | None, tuple[float, float] | None]:
    """How a baseline reads, whether `x` is indistinguishable from it (None: cannot say) and
    the range of values it gives (None: unknown).

    A spread {source, low, high, ...} (initialization seeds or analytic, `lib.terrain.nulls`)
    or a null block {null_mean, low, high, p}: x inside [low, high], which is what it gives; a
    reference block {reference_cv, difference_ci, distinguishable}: as its flag says, giving
    its reference_cv; a bare number: one value without a spread, so no decision (never the
    claim's tolerance), giving that value."""
    if isinstance(value, dict) and "distinguishable" in value:
        ref, ci = value.get("reference_cv"), value.get("difference_ci")
        shown = (f"{_fmt(ref)}; difference [{_fmt(ci[0], True)}, {_fmt(ci[1], True)}] "
                 f"({value.get('n_boot', '-')} resamples, {value.get('level', 0):.0%})"
                 if ci else f"{_fmt(ref)}")
        flag = value["distinguishable"]
        gives = (float(ref), float(ref)) if is_finite(ref) else None
        return shown, None if flag is None else not flag, gives
    if isinstance(value, dict) and "low" in value:
        low, high, p = value.get("low"), value.get("high"), value.get("p")
        if not (is_finite(low) and is_finite(high)):
            return f"{NOT_AVAILABLE} ({value.get('reason') or 'undefined'})", None, None
        low, high = float(low), float(high)
        interval = f"[{_fmt(low)}, {_fmt(high)}]"
        if value.get("source") == "initialization seeds":
            shown = (f"{_fmt(value['mean'])} ± {_fmt(value['sd'])} over {value['k']} seeds; "
                     f"{value['level']:.0%} interval {interval}")
        elif value.get("source") == "analytic":
            shown = f"analytic {value['level']:.0%} interval {interval}"
        else:
            shown = f"[{low:.4f}, {high:.4f}]" + (f", p = {float(p):.3f}" if is_finite(p) else "")
        return shown, None if x is None else bool(low <= x <= high), (low, high)
    if not is_finite(value):
        return NOT_AVAILABLE, None, None
    return f"{_fmt(float(value))} ({NO_SPREAD})", None, (float(value), float(value))


def check_claims(results: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every claim's row (`check_claim`), the ordered ones after the claims they read."""
    rows: dict[str, dict[str, Any]] = {}
    for c in sorted(CLAIMS, key=lambda c: c.ordered is not None):
        rows[c.id] = check_claim(c, results, rows)
    return [rows[c.id] for c in CLAIMS]


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not is_finite(value):
        return NOT_AVAILABLE
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:  # a count
        value = int(value)
    if isinstance(value, float):
        return f"{value:+.4g}" if signed else f"{value:.5g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:+,}" if signed else f"{value:,}"
    return str(value)


def _published(value: Any) -> str:
    if isinstance(value, list):
        return f"{_fmt(value[0])}–{_fmt(value[1])}"
    return _fmt(value)


def _regenerated(row: dict[str, Any]) -> str:
    """The regenerated value for the table; n/a where the run stored null (not finite)."""
    return NOT_AVAILABLE if row["status"] == UNDEFINED else _fmt(row["regenerated"])


def mode_lines(summary: dict[str, Any] | None) -> list[str]:
    """One Markdown bullet per summary row whose comparison mixes entropy modes."""
    from lib.summary import mode_note

    return [f"- {r['label']} ({r['result']}): {mode_note(r['mode_mismatch'])}"
            for r in (summary or {}).get("rows", []) if r.get("mode_mismatch")]


def effect_text(effect: dict[str, Any] | None,
                results: Mapping[str, dict[str, Any]] | None = None) -> str:
    """What a resolution changes, read from its `effect` {result, field}: '-' without one,
    'not yet run' / 'missing field' when the result or field is absent."""
    if not effect:
        return "-"
    payload = _payload(effect["result"], results)
    if payload is None:
        return f"{NOT_RUN} (results/{effect['result']}.json)"
    try:
        value = lookup(payload, tuple(effect["field"]))
    except KeyError as exc:
        return f"{MISSING}: {exc.args[0]}"
    if not isinstance(value, dict):
        return _fmt(value)

    def show(v: Any, signed: bool = False) -> str:
        if isinstance(v, dict):
            key = next((k for k in ("pearson", "cv_modulated", "number", "value") if k in v),
                       None)
            return (_fmt(v[key], signed) + (f" ({key})" if key != "number" else "")
                    if key else "-")
        return NOT_AVAILABLE if v is None else _fmt(v, signed)

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

    def synsets(p: dict[str, Any]) -> str:
        """The synset bootstrap interval of the encoder Pearson, with its resamples."""
        boot = ((p.get("wordnet") or {}).get("stability") or {}).get("synset_bootstrap") or {}
        block = boot.get("enc_pearson") or boot.get("encoder_pearson") or {}
        interval = block.get("ci") if isinstance(block, dict) else None
        if not interval or not all(is_finite(v) for v in interval):
            return "-"
        return (f"[{interval[0]:.4f}, {interval[1]:.4f}] ({boot.get('n_boot', '-')} resamples, "
                f"{boot.get('level', 0.95):.0%})")

    def q(h: dict[str, Any]) -> str:
        trained = (h.get("q_sparsity") or {}).get("self_attn_q")
        init = (h.get("init_q_sparsity") or {}).get("self_attn_q")
        if h.get("weights_measured") == "initialization":
            init = None  # the run measured the initialization itself: nothing to set beside it
        if trained is None:
            return "-"
        return f"{trained:.1%}" + (f" (init {init:.1%})" if init is not None else "")

    def confound(p: dict[str, Any]) -> str:
        """§2's part-of-speech confound: the encoder on noun pairs alone, and the share of the
        pairs whose path similarity nltk's fake root sets (B10, measured on the run's pairs)."""
        wn = p.get("wordnet") or {}
        noun = (wn.get("baselines") or {}).get("noun_only") or {}
        share = ((wn.get("effects") or {}).get("B10") or {}).get("fake_root_share")
        if not noun and share is None:
            return "- | -"
        nouns = (f"{_fmt(noun['pearson'])} ({noun['n_pairs']:,} pairs)"
                 if is_finite(noun.get("pearson")) else NOT_AVAILABLE)
        return f"{nouns} | {f'{share:.0%}' if is_finite(share) else NOT_AVAILABLE}"

    def volume(p: dict[str, Any]) -> str:
        """The volume CV beside the Gaussian reference this run drew, named (B13)."""
        penta = (p.get("embedding") or {}).get("pentachora") or {}
        if "cv" not in penta:
            return "-"
        kind = str(penta.get("reference", ""))
        name = ("isotropic" if kind.startswith("isotropic") else "per-dimension"
                if kind.startswith("per-dimension") else kind or "Gaussian")
        return f"{_fmt(penta['cv'])} ({name} reference {_fmt(penta.get('reference_cv'))})"

    def pr(p: dict[str, Any]) -> str:
        emb = p.get("embedding") or {}
        if "spectrum" not in emb:
            return "-"
        init = (((emb.get("init_spread") or {}).get("quantities") or {})
                .get("spectrum/pr_over_dim") or {})
        return _fmt(emb["spectrum"]["pr_over_dim"]) + (
            f" (init {_fmt(init['mean'])}, {init['k']} seeds)" if init.get("mean") is not None
            else "")

    lines = ["", "## Terrain: embedded runs (this machine, offline)", "",
             "MiniLM, SmolLM2 and Gemma-3 carry real weights; `tiny/...` and `init/...` runs test "
             "the machinery (random weights) and claim nothing. WordNet columns: static token "
             "embedding → the encoder's pooled definition (lift). Two intervals of the encoder "
             "Pearson: the 95% t-interval over the 50-seed stability test is the precision of "
             "the mean over resamples (an addition: the seed computed none), not an uncertainty "
             "of the correlation; the percentile bootstrap over synsets is the uncertainty of the "
             "correlation over synsets. The part-of-speech confound (B10): nltk's path "
             "similarity routes every pair with a non-noun side through a fake root (adjective "
             "and adverb pairs always score 1/3); the encoder's Pearson on noun pairs alone and "
             "the share of the run's pairs the fake root sets stand beside the headline. Volume "
             "CV: beside the CV of the Gaussian reference the run drew, named (matched dim and "
             "count): isotropic with the matrix's global σ (§1's protocol) or per-dimension σ "
             "(§13a's, B13). PR/dim and Q sparsity: beside the architecture at initialization "
             "(the mean over its seeds).", "",
             "| run | model | lemmas | Pearson static → encoder (lift) | Spearman static → encoder "
             "(lift) | gradient static → encoder | encoder Pearson: precision of the mean (50 "
             "seeds) | encoder Pearson: synset bootstrap CI | encoder Pearson, noun pairs only | "
             "pairs through the fake root | PR/dim | volume CV (Gaussian reference) | Q sparsity |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in runs:
        h = p.get("headline", {})
        grad = (f"{_fmt(h['gradient_static'])} → {_fmt(h['gradient_encoder'])}"
                if "gradient_static" in h else "-")
        lines.append(
            f"| {p['run']} | {p['model']['name']} | {h.get('matched', '-')} | "
            f"{pair(h, 'static_pearson', 'encoder_pearson', 'lift_pearson')} | "
            f"{pair(h, 'static_spearman', 'encoder_spearman', 'lift_spearman')} | {grad} | "
            f"{ci(h)} | {synsets(p)} | {confound(p)} | {pr(p)} | {volume(p)} | {q(h)} |")
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
             "The tiny T5 run tests the machinery and claims nothing. The interval of the trained "
             "lift is a percentile bootstrap over the evaluation pairs (resamples and level "
             "shown).", "",
             "| run | model | original r | Procrustes r (preservation) | trained r (lift) | "
             "field r (lift) | mean α after training |", "|---|---|---|---|---|---|---|"]

    def pair(h: dict[str, Any], r: str, extra: str, pct: bool = True) -> str:
        if r not in h:
            return "-"
        tail = h.get(extra)
        shown = (f"{tail:+.1%}" if pct else f"{tail:.4f}") if tail is not None else "-"
        return f"{_fmt(h[r])} ({shown})"

    def lift_ci(p: dict[str, Any]) -> str:
        from lib.findings import modulator_findings

        m = modulator_findings(p)
        if not m["lift_ci"]:
            return ""
        boot = (f", {m['n_boot']} resamples, {float(m['level']):.0%}"
                if m["n_boot"] is not None and m["level"] is not None else "")
        return f" [{m['lift_ci'][0]:+.1%}, {m['lift_ci'][1]:+.1%}{boot}]"

    for p in runs:
        h = p.get("headline", {})
        lines.append(
            f"| {p['run']} | {p.get('model', {}).get('name', p.get('model', '-'))} | "
            f"{_fmt(h.get('original_pearson'))} | "
            f"{pair(h, 'procrustes_pearson', 'procrustes_preservation', pct=False)} | "
            f"{pair(h, 'trained_pearson', 'trained_lift_pearson')}{lift_ci(p)} | "
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


def baseline_rule_line(results: Mapping[str, dict[str, Any]]) -> str:
    """How 'indistinguishable' is decided, with the rule's false-positive rate measured on the
    initialization seeds of the runs given (leave one seed out, pooled)."""
    from lib.terrain.nulls import LEVEL

    trials = outside = 0
    for payload in results.values():
        for block in ((payload.get("weights") or {}).get("init_spread"),
                      (payload.get("embedding") or {}).get("init_spread")):
            fp = (block or {}).get("false_positive") or {}
            trials += fp.get("trials") or 0
            outside += fp.get("outside") or 0
    measured = (f" Its false-positive rate, each initialization seed judged against the "
                f"interval of the others (leave one seed out) over every spread of these runs: "
                f"{outside} of {trials} ({outside / trials:.1%})." if trials else "")
    return (f"A baseline decides 'indistinguishable' by its own sampling distribution, never by "
            f"the claim's tolerance: inside the {LEVEL:.0%} prediction interval of one more "
            "initialization (mean ± t·sd·√(1 + 1/K) over K seeds, at least one step of the "
            "quantity's grid), an analytic interval where the initializer makes it known, a "
            "null's interval, or a reference's interval of the difference; one value without a "
            "spread decides nothing." + measured + " A claim whose check its baseline passes "
            "too (the baseline's interval meets published ± tolerance) is 'random weights give "
            "it too' (or its null, its reference), never 'reproduced'.")


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


def ladder_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The E08 embedded ladder: model, size, attention type, SI [bootstrap CI] and its
    head-permutation null interval, with the prompts and resamples behind the intervals."""
    from lib.summary import interval_text

    lines = []
    for key, payload in sorted(results.items()):
        if not key.startswith("embedded/") or payload.get("experiment") != "E08":
            continue
        method = payload.get("methodology") or {}
        boot = method.get("bootstrap") or {}
        for m in payload.get("models", {}).values():
            null = ((m.get("controls") or {}).get("head_permutation") or {}).get("si") or {}
            size = m.get("size_b", m["model"].get("parameters", 0) / 1e9 if isinstance(
                m["model"].get("parameters"), (int, float)) else None)
            null_cell = (f"[{float(null['low']):.4f}, {float(null['high']):.4f}], p = "
                         f"{float(null['p']):.3f}" if all(is_finite(null.get(k))
                                                          for k in ("low", "high", "p"))
                         else NOT_AVAILABLE)
            lines.append(
                f"| {m.get('display', m['model']['name'])} | "
                f"{_fmt(float(size)) + ' B' if is_finite(size) else '-'} | "
                f"{m['model']['architecture']['attention_kind']} | "
                f"{interval_text(m['specialization_index'], m.get('si_ci'))} | {null_cell} | "
                f"{method.get('num_prompts', '-')} prompts, {boot.get('n', '-')} resamples |")
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


def render(rows: list[dict[str, Any]], embedded: dict[str, Any] | None,
           results: Mapping[str, dict[str, Any]] | None = None,
           refused: Sequence[str] = (), calibration: Mapping[str, Any] | None = None) -> str:
    """REPORT.md: the results left out, what the embedded runs show and cannot show, the E08
    ladder, claims, the seeds' contradictions and what was taken, the embedded runs."""
    from lib.findings import cannot_show_lines, findings_lines

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
    lines += [
        "## What the embedded runs show",
        "",
        *findings_lines(results or {}),
        "",
        "## What they cannot show",
        "",
        *cannot_show_lines(),
        *ladder_lines(results or {}),
        *attention_lines(results or {}, calibration),
        "",
        "## Claims",
        "",
        counts_line(rows),
        "",
    ]
    lines += [baseline_rule_line(results or {}), ""]
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
            f"{_regenerated(r)} | {_fmt(r['difference'], signed=True)} | "
            f"{_fmt(r['tolerance'])} | **{r['status']}** | {where} | {_baseline_cell(r)} |")
    lines += ["", "## Where the seeds disagree with themselves", "",
              "| topic | the seeds say | the repository takes | why | effect on the number |",
              "|---|---|---|---|---|"]
    lines += [_resolution_row(x, results) for x in RESOLUTIONS]
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


DERIVED = ("summary", "calibration")  # embedded outputs made from the runs' results


def report_inputs() -> list[Path]:
    """The default inputs: every parameter file's results, and the embedded summary and
    calibration where made."""
    files = [*run_results("embedded"), *run_results("paper")]
    return files + [path for name in DERIVED
                    if (path := RESULTS / "embedded" / f"{name}.json").is_file()]


def write_report(files: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """Write results/REPORT.md and results/report.json from `files` (else `report_inputs()`).

    A results file that fails `lib.integrity.check_result` (swapped, edited, made from a file
    edited since, or by other code) is left out and listed in one line. Both files are made in
    full before either is written, so a failure leaves the previous pair as it was.
    """
    # abspath, not resolve: a symlinked results folder is named as given, not by its target
    paths = [Path(os.path.abspath(f)) for f in (report_inputs() if files is None else files)]
    summaries = [p for p in paths if p.stem == "summary"]
    calibrations = [p for p in paths if p.stem == "calibration"]
    if any(p.parent.name != "embedded" for p in summaries + calibrations):
        raise ValueError(f"only results/embedded/summary.json and calibration.json go into the "
                         f"report, got {[str(p) for p in summaries + calibrations]}")
    accepted, checks = split_checked(p for p in paths if p.stem not in DERIVED)
    refused = [refusal_line(c) for c in checks]
    results = {f"{p.parent.name}/{p.stem}": read_json(p) for p in accepted}
    rows = check_claims(results)
    embedded = read_json(summaries[0]) if summaries else None
    from lib.findings import findings

    calibration = read_json(calibrations[0]) if calibrations else None
    machine = {"claims": rows, "resolutions": list(RESOLUTIONS), "findings": findings(results),
               "mode_mismatches": mode_lines(embedded), "refused": refused,
               "calibration": calibration and calibration["rules"]}
    text = render(rows, embedded, results, refused, calibration)
    write_json(RESULTS / "report.json", machine)
    atomic_write_bytes(RESULTS / "REPORT.md", text.encode())
    return rows


UNREADABLE = (KeyError, IndexError, AttributeError, TypeError, ValueError)


def unreadable_input(files: Sequence[str | Path]) -> str | None:
    """The first input the report cannot read alone (named as given), if one is."""
    for path in files:
        path = Path(os.path.abspath(path))
        if path.stem in DERIVED:
            continue
        try:
            payload = {f"{path.parent.name}/{path.stem}": read_json(path)}
            render(check_claims(payload), None, payload)
        except UNREADABLE:
            return shown(path)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="results files and embedded/summary.json "
                        "(default: report_inputs())")
    args = parser.parse_args(argv)
    try:
        rows = write_report(args.files or None)
    except UNREADABLE as exc:  # a results file whose layout the report cannot read
        culprit = unreadable_input(args.files or report_inputs())
        print(f"error: {culprit or 'the report inputs'}: {type(exc).__name__}: {exc}; nothing "
              "was written (REPORT.md and report.json are as they were): rerun make reproduce",
              file=sys.stderr)
        return 1
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    print(f"results/REPORT.md: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
