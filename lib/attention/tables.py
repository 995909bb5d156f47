"""Presentation of the attention study's results: pandas tables and one-line descriptions.

The protocol's steps (`lib.attention.study`) return data; the notebooks print what these
functions make of it. A number that is not finite (NaN/Inf, or None: JSON null) reads `n/a`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from lib.attention.nulls import NULL_FIGURES, SHUFFLES, null_reading
from lib.attention.stats import CONTROL_FIGURES
from lib.attention.study import STAND_IN_PAIR, ModelRun, interval_side, modes_differ, pair_subject
from lib.attention.verdicts import COLLAPSE_SIGNS, UNDEFINED, Verdict, is_finite

NOT_AVAILABLE = "n/a"

_PAIR_ROWS = (
    ("Specialization index", "specialization_index"),
    ("Mean head correlation", "mean_head_correlation"),
    ("Mean head variance", "mean_head_variance"),
    ("Effective head ratio", "effective_ratio"),
    ("Early-layer variance", "early_variance"),
    ("Middle-layer variance (L*)", "middle_variance"),
    ("Late-layer variance", "late_variance"),
)


def number(value: Any, spec: str = ".4f") -> str:
    """`value` formatted with `spec`, or "n/a" when it is not a finite number."""
    return format(float(value) + 0.0, spec) if is_finite(value) else NOT_AVAILABLE


def describe_run(run: ModelRun) -> str:
    """One line: architecture, precision, SI with its interval and its head-permutation null,
    seed invariance, timings."""
    a = run.record["architecture"]
    lo, hi = run.si_ci
    null = (run.controls.get("head_permutation") or {}).get("si")
    return (f"{run.name}: {a['attention_kind']} {a['num_layers']} layers x {a['num_heads']} heads "
            f"({a['num_kv_heads']} kv), {run.record['dtype']}, quantization "
            f"{run.record['quantization']} | SI {number(run.metrics['specialization_index'])} "
            f"[{number(lo)}, {number(hi)}]"
            + (f", head-permutation {null_text(null)}" if null else "")
            + f" | {run.seed_invariance['outcome']}"
            + (f" | sanity {'passed' if run.sanity['ok'] else 'FAILED'}" if run.sanity else "")
            + " | load "
            f"{run.timings.get('load_s', 0):.1f} s, "
            f"measure {run.timings.get('measure_s', 0):.1f} s")


def describe_verdict(verdict: Verdict, what: str = "criteria", total: int = 3) -> str:
    """`<code> (<met>/<total> <what>: criterion True, ...)`; `<code>: <reason>` if UNDEFINED."""
    if verdict.code == UNDEFINED:
        return f"{verdict.code}: {verdict.reason}"
    shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in verdict.criteria.items())
    return f"{verdict.code} ({verdict.values['criteria_met']}/{total} {what}: {shown})"


def _interval(interval: Any, spec: str) -> str:
    low, high = interval if interval else (None, None)
    return f"[{number(low, spec)}, {number(high, spec)}]"


def _seed_null_text(null: Mapping[str, Any] | None, metric: str) -> str:
    if not null or null.get("p") is None:
        return "no seed null"
    spec = "+.4f" if metric == "specialization_index" else "+.3f"
    what = "dSI" if metric == "specialization_index" else "d log variance"
    return (f"{what} {number(null['delta'], spec)} {'outside' if null['outside'] else 'inside'} "
            f"its seed null {null['level']:.1%} {_interval(null['interval'], spec)} "
            f"({null['n']} init seeds; p {number(null['p'], '.3f')}, Holm "
            f"{number(null['p_holm'], '.3f')})")


def describe_collapse(verdict: Verdict) -> str:
    """Three lines: the corrected collapse verdict with each independent sign's status, its
    bootstrap interval and its seed null; what the bootstrap alone would read; the seed rule as
    executed. `<code>: <reason>` if UNDEFINED."""
    if verdict.code == UNDEFINED:
        return f"{verdict.code}: {verdict.reason}"
    v = verdict.values
    signs = []
    for label, metric, _ in COLLAPSE_SIGNS:
        status = v["sign_status"][label]
        spec = "+.3e" if "variance" in metric else "+.4f"
        what = "dSI" if metric == "specialization_index" else "d variance"
        interval = (v.get("intervals") or {}).get(metric)
        where = (f"{what} 95% CI {_interval(interval, spec)} "
                 f"{'includes 0' if interval_side(interval) == 'includes 0' else 'excludes 0'}"
                 if interval else f"no interval for {what}")
        null = _seed_null_text((v.get("seed_null") or {}).get(metric), metric)
        signs.append(f"{label}: {status} ({where}; {null})")
    seed = verdict.as_executed or {}
    shown = ", ".join(f"{k.replace('_', ' ')} {x}" for k, x in seed.get("criteria", {}).items())
    met = seed.get("values", {}).get("criteria_met")
    return (f"{verdict.code} (corrected: {v['criteria_met']}/{v['signs']} independent signs "
            f"resolved toward collapse; {'; '.join(signs)})\n"
            f"the prompt bootstrap alone would read {v.get('bootstrap_only', 'n/a')} (it "
            "measures how the figures vary over prompts, not between two checkpoints)\n"
            f"seed rule as executed: {seed.get('code')} ({met}/3 point signs, dSI and "
            f"d correlation counted as two: {shown})")


def describe_rule(verdict: Verdict, what: str = "facts") -> str:
    """A corrected rule and, beside it, the seed's rule as executed: two lines
    (`<code>: <reason>` if UNDEFINED)."""
    if verdict.code == UNDEFINED:
        return f"{verdict.code}: {verdict.reason}"
    facts = verdict.values.get("facts") or verdict.criteria
    shown = ", ".join(f"{k.replace('_', ' ')} "
                      f"{'not resolved' if v is None else v}" for k, v in facts.items())
    line = f"{verdict.code} (corrected, on intervals, each fact once: {shown})"
    if verdict.values.get("note"):
        line += f"\n  {verdict.values['note']}"
    seed = verdict.as_executed
    if seed:
        criteria = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in seed["criteria"].items())
        line += f"\nseed rule as executed: {seed['code']} (point values: {criteria})"
    return line


def seed_null_note(null: Mapping[str, Any] | None) -> str:
    """How a pair's seed null was made: one line."""
    if not null or null.get("reason"):
        return f"seed null: none ({(null or {}).get('reason', 'not measured')})"
    si = null["specialization_index"]
    return (f"seed null: {null['n_models']} init seeds of {null['architecture']} ("
            f"{null['entropy_mode']} entropy, unquantized; reduced: {null.get('reduction')}), "
            f"SI {number(si['mean'], '.4f')} +/- "
            f"{number(si['sd'], '.4f')} over the seeds; a delta is read against this "
            "seed null (the delta / (sd sqrt 2) is t with n - 1 degrees of freedom; the head "
            f"variance on the log scale), the two signs Holm-corrected at {null['alpha']:.0%} "
            "family-wise (calibration.json measures the false-positive rate on null pairs)")


def modes_table(delta: Mapping[str, Any]) -> pd.DataFrame:
    """dSI, d variance and the collapse verdict in every entropy mode the pair was measured
    in, the protocol's first and marked."""
    rows = []
    for mode, m in (delta.get("entropy_modes") or {}).items():
        rows.append({"entropy mode": mode + (" (protocol)" if m["protocol"] else ""),
                     "dSI [95% CI]": f"{number(m['specialization_index'], '+.4f')} "
                                     f"{_interval(m['si_ci'], '+.4f')}",
                     "CI vs 0": interval_side(m["si_ci"]),
                     "dSI seed null 95%": _interval(m.get("seed_null_si_interval"), "+.4f"),
                     "d variance [95% CI]": f"{number(m['mean_head_variance'], '+.2e')} "
                                            f"{_interval(m['variance_ci'], '+.2e')}",
                     "verdict (corrected)": m["verdict"],
                     "seed rule as executed": m["verdict_seed_rule"]})
    return pd.DataFrame(rows).set_index("entropy mode")


def modes_note(delta: Mapping[str, Any], protocol_mode: str) -> str:
    """Which entropy mode the verdict uses, and whether the other mode reads differently."""
    modes = list(delta.get("entropy_modes") or {})
    if len(modes) < 2:
        return f"entropy mode: {protocol_mode} (the protocol's; no other mode from this pass)"
    return (f"the verdict uses the protocol's {protocol_mode} entropy; "
            + ("the other mode reads DIFFERENTLY (verdict or dSI interval against 0): both are "
               "shown, the protocol's decides" if modes_differ(delta) else
               "the other mode reads the same"))


def bootstrap_note(bootstrap: Mapping[str, Any], paired: bool = True) -> str:
    """How the intervals were made: {n_prompts, n_boot, seed, ci} -> one line (`paired`: say
    that a delta resamples the same prompts for both models)."""
    return (f"intervals: percentile {bootstrap['ci']:.0%} bootstrap over the "
            f"{bootstrap['n_prompts']} prompts (resampled with replacement, "
            f"{bootstrap['n_boot']} resamples, seed {bootstrap['seed']}"
            + ("; paired, the same prompts for base and instruct, for a delta)" if paired
               else ")"))


def permutation_note(null: Mapping[str, Any], paired: bool = True) -> str:
    """How the head-permutation null was made: a `head_permutation` block -> one line
    (`paired`: say that a delta shuffles the two models independently)."""
    shuffles = "; ".join(SHUFFLES.values())
    return (f"head-permutation null: each layer shuffled independently ({shuffles}"
            f"), {null['n_permutations']} permutations (seed {null['seed']}"
            + ("; base and instruct shuffled independently for a delta" if paired else "")
            + f"); its {null['ci']:.0%} interval, the value minus the null mean with the null's "
            "sd, and the two-sided p = (1 + #draws at least as far from the null mean) / (1 + n)"
            "; Holm: adjusted over every test of the run (one family, 5% family-wise)")


def pair_heading(base: ModelRun, instruct: ModelRun) -> str:
    """What an instruct - base difference of this pair is: an alignment effect, or nothing but
    a pipeline test for random-init stand-ins."""
    if pair_subject(base, instruct) == STAND_IN_PAIR:
        return f"{STAND_IN_PAIR}: instruct - base of two random initializations"
    return "alignment effect: instruct - base"


def mode_warning(mismatch: Mapping[str, str] | None) -> str | None:
    """The warning to print when a comparison mixes entropy modes, else None."""
    if not mismatch:
        return None
    return (f"WARNING: entropy modes differ: this run {mismatch['this_run']}, reference "
            f"{mismatch['reference_run']} {mismatch['reference']}; the comparison mixes two "
            "definitions of the entropy (padding in or out)")


def pair_table(base: ModelRun, instruct: ModelRun, delta: dict[str, Any]) -> pd.DataFrame:
    """Base, instruct and delta of each specialization metric (rounded for reading)."""
    def fmt(value: float, key: str, signed: bool) -> str:
        spec = ".3e" if "variance" in key else ".4f"
        text = number(value, ("+" if signed else "") + spec)
        return text.replace("-0.0000", "+0.0000") if signed else text

    rows = [(label, fmt(base.metrics[k], k, False), fmt(instruct.metrics[k], k, False),
             fmt(delta[k], k, True)) for label, k in _PAIR_ROWS]
    return pd.DataFrame(rows, columns=["metric", "base", "instruct", "delta"]).set_index("metric")


def group_table(groups: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Within/between KV-group variance and their ratio for base and instruct."""
    keys = ("within_group_variance", "between_group_variance", "within_between_ratio")
    return pd.DataFrame({k: [float(groups[m][k]) for m in groups] for k in keys},
                        index=list(groups)).round(6)


def comparison_table(mha: dict[str, Any], verdict: Verdict,
                     delta: dict[str, Any]) -> pd.DataFrame:
    """dSI with its interval and seed null, its resolved direction, d correlation and the
    verdicts of the MHA reference next to this GQA run."""
    def fmt(value: Any) -> Any:
        return f"{float(value):+.4f}" if is_finite(value) else NOT_AVAILABLE

    seed = (verdict.as_executed or {}).get("code", verdict.code)
    this_null = (delta.get("seed_null") or {}).get("specialization_index") or {}
    return pd.DataFrame({
        "MHA reference": [fmt(mha["delta_si"]), _interval(mha.get("delta_si_ci"), "+.4f"),
                          _interval(mha.get("delta_si_seed_null"), "+.4f"),
                          mha.get("si_sign") or NOT_AVAILABLE, fmt(mha["delta_corr"]),
                          mha["verdict"], mha.get("verdict_corrected") or NOT_AVAILABLE],
        "GQA (this run)": [fmt(delta["specialization_index"]),
                           _interval(delta.get("si_ci"), "+.4f"),
                           _interval(this_null.get("interval"), "+.4f"),
                           (verdict.values.get("sign_status") or {}).get(
                               COLLAPSE_SIGNS[0][0], NOT_AVAILABLE),
                           fmt(delta["mean_head_correlation"]), seed, verdict.code],
    }, index=["dSI", "dSI 95% CI (bootstrap)", "dSI seed null 95%",
              "SI down / correlation up (resolved)", "d correlation (= -dSI, not counted)",
              "verdict (seed rule as executed)", "verdict (corrected)"])


def ladder_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The E08 ladder sorted by size; random-init stand-ins are marked out of the verdict."""
    def fmt(x: Any, spec: str) -> str:
        return "-" if x is None else number(x, spec)

    ordered = sorted(rows, key=lambda r: r["size_b"])
    return pd.DataFrame({
        "model": [r["display"] for r in ordered],
        "size (B)": [fmt(r["size_b"], ".4g") for r in ordered],
        "kind": [r["kind"] for r in ordered],
        "SI": [fmt(r["si"], ".4f") for r in ordered],
        "95% CI": ["-" if not r["si_ci"] else f"[{number(r['si_ci'][0], '.3f')}, "
                   f"{number(r['si_ci'][1], '.3f')}]" for r in ordered],
        "head-perm. null 95%": ["-" if not r.get("si_null") else
                                _interval((r["si_null"].get("low"), r["si_null"].get("high")),
                                          ".3f") for r in ordered],
        "perm. p": ["-" if not r.get("si_null") else number(r["si_null"].get("p"), ".3f")
                    for r in ordered],
        "SI - null mean (null sd)": [
            "-" if not is_finite((r.get("si_null") or {}).get("excess")) else
            f"{number(r['si_null']['excess'], '+.3f')} ({number(r['si_null']['null_std'], '.3f')})"
            for r in ordered],
        "family": [r.get("family") or "-" for r in ordered],
        "rho_head": [fmt(r["rho_head"], ".3f") for r in ordered],
        "rho_kv": [fmt(r["rho_kv"], ".3f") for r in ordered],
        "sanity": [r["sanity"] or "-" for r in ordered],
        "source": ["reference" if r["reference"] else "this run" for r in ordered],
        "in verdict": ["no: random-init stand-in" if r.get("stand_in") else "yes"
                       for r in ordered],
    })


# --------------------------------------------------------------------------- controls

def estimate(value: Mapping[str, Any] | None, signed: bool = False) -> str:
    """'point [low, high]' of a bootstrap estimate; 'n/a' when it is undefined (null)."""
    if not value or not is_finite(value.get("point")):
        return NOT_AVAILABLE
    spec = "+.4f" if signed else ".4f"
    return (f"{number(value['point'], spec)} [{number(value.get('low'), spec)}, "
            f"{number(value.get('high'), spec)}]")


def _figures_table(columns: Mapping[str, Mapping[str, Any]], figures: Sequence[tuple],
                   index: str, signed: Sequence[str],
                   cell: Callable[[Mapping[str, Any] | None, bool], str]) -> pd.DataFrame:
    """One row per (label, getter) of `figures`, one column per block of `columns` ({label:
    block}; the labels in `signed` are deltas) written by `cell`; `why n/a` gives the reasons."""
    rows = []
    for label, get in figures:
        values = {name: get(block) for name, block in columns.items()}
        reasons = dict.fromkeys(v["reason"] for v in values.values() if v and v.get("reason"))
        rows.append({index: label, **{name: cell(v, name in signed) for name, v in values.items()},
                     "why n/a": "; ".join(reasons) or "-"})
    return pd.DataFrame(rows).set_index(index)


def controls_table(columns: Mapping[str, Mapping[str, Any]],
                   signed: Sequence[str] = ("delta",)) -> pd.DataFrame:
    """The architecture controls, one column per controls block ({label: block}; the labels in
    `signed` are deltas), each cell 'point [95% CI]'; `why n/a` gives the reasons of n/a."""
    figures = [(label, lambda block, g=group, k=key: (block.get(g) or {}).get(k))
               for label, group, key in CONTROL_FIGURES]
    return _figures_table(columns, figures, "control", signed, estimate)


def null_text(value: Mapping[str, Any] | None, signed: bool = False) -> str:
    """'null [low, high], p 0.412' of a head-permutation figure; 'n/a' when undefined."""
    if not value or not is_finite(value.get("p")):
        return NOT_AVAILABLE
    spec = "+.4f" if signed else ".4f"
    return (f"null {_interval((value.get('low'), value.get('high')), spec)}, "
            f"p {number(value['p'], '.3f')}")


def _against_null(value: Mapping[str, Any] | None, signed: bool) -> str:
    """'value (null [95%], p; excess +x, null sd y; Holm p)' of a head-permutation test;
    'n/a' when undefined."""
    if not value or not is_finite(value.get("point")):
        return NOT_AVAILABLE
    extra = ""
    if is_finite(value.get("excess")):
        extra = (f"; - null mean {number(value['excess'], '+.4f')}, null sd "
                 f"{number(value.get('null_std'), '.4f')}")
    if value.get("p_adjusted") is not None:
        extra += f"; Holm {number(value['p_adjusted'], '.3f')}"
    return (f"{number(value['point'], '+.4f' if signed else '.4f')} "
            f"({null_text(value, signed)}{extra})")


def permutation_table(columns: Mapping[str, Mapping[str, Any]],
                      signed: Sequence[str] = ("delta",)) -> pd.DataFrame:
    """Each figure against its head-permutation null, one column per controls block
    ({label: block}; the labels in `signed` are deltas), each cell 'value (null [95%], p)';
    `why n/a` gives the reasons of n/a."""
    figures = [(label, lambda block, k=key: (block.get("head_permutation") or {}).get(k))
               for label, key in NULL_FIGURES]
    return _figures_table(columns, figures, "figure", signed, _against_null)


def sink_layers(controls: Mapping[str, Any]) -> str:
    """The mean sink share of each layer, first to last, e.g. '0.412 0.087 ...'."""
    return " ".join(number(x, ".3f") for x in controls["attention_sink"]["per_layer"])


def describe_null(null: Mapping[str, Any]) -> str:
    """One line on a null model: what was built and what was reduced, or why there is none."""
    record = null.get("model")
    if not record:
        return f"none ({null['specialization']['si']['reason']})"
    arch = record["architecture"]
    reduced = record.get("reduction") or "none"
    return (f"{record['name']} ({arch['num_layers']} layers, {arch['num_heads']} query / "
            f"{arch['num_kv_heads']} kv heads, {record['parameters']:,} parameters, "
            f"{record['dtype']}; reduced: {reduced})")


def pair_controls_report(base: Any, instruct: Any, delta_controls: Mapping[str, Any],
                         null: Mapping[str, Any], bootstrap: Mapping[str, Any]) -> str:
    """A pair's architecture controls as the E11 notebooks print them: the null model, the table
    (base, instruct, delta, null) with how its intervals were made (`bootstrap`: the delta's
    `bootstrap` block), the per-layer sink shares of both models, and each figure against its
    head-permutation null."""
    columns = {"base": base.controls, "instruct": instruct.controls, "delta": delta_controls,
               "null (random init)": null}
    return "\n".join([f"null model: {describe_null(null)}", controls_table(columns).to_string(),
                      bootstrap_note(bootstrap),
                      *(f"sink share per layer, {run.name}: {sink_layers(run.controls)}"
                        for run in (base, instruct)),
                      "", "Against the head-permutation null:",
                      permutation_table(columns).to_string(),
                      permutation_note(delta_controls["head_permutation"])])


def null_words(controls: Mapping[str, Any], label: str) -> str | None:
    """What `label`'s SI against its head-permutation null means, in words
    (`lib.attention.nulls.null_reading`); None where there is no null."""
    block = controls.get("head_permutation") or {}
    text = null_reading(block.get("si"), block.get("depth_share"))
    return f"{label}: {text}" if text else None


def beyond_null(columns: Mapping[str, Mapping[str, Any]], alpha: float = 0.05) -> list[str]:
    """The head-permutation tests of `columns` ({label: controls block}) whose Holm-adjusted p
    is at most `alpha`: one line each (the figure, its value, its null and p)."""
    lines = []
    for name, block in columns.items():
        for label, key in NULL_FIGURES:
            test = (block.get("head_permutation") or {}).get(key) or {}
            if test.get("p_adjusted") is not None and test["p_adjusted"] <= alpha:
                lines.append(f"{name}, {label}: {_against_null(test, False)}")
    return lines


def init_line(label: str, init: Mapping[str, Any] | None) -> str:
    """A trained SI against its own architecture's init seeds, one line."""
    against = (init or {}).get("si_against_init")
    if not against:
        return f"{label}: no init seeds ({(init or {}).get('reason', 'none')})"
    if against.get("reason"):
        return f"{label}: {against['reason']}"
    return (f"{label}: SI {number(against['point'])} vs {against['n']} init seeds of its own "
            f"architecture: mean {number(against['init_mean'])}, sd "
            f"{number(against['init_sd'])}, range [{number(against['low'])}, "
            f"{number(against['high'])}] (reduced: {init.get('reduction')}); "
            f"{number(against['excess'], '+.4f')} ({number(against['excess_sd'], '+.1f')} init "
            f"sd), {'outside' if against['outside'] else 'inside'} the range (one more init draw "
            f"lands outside with probability {against['chance_outside']:.2f})")


def calibration_table(payload: Mapping[str, Any]) -> pd.DataFrame:
    """calibration.json (or one run's calibration, {run: block}) as a table: one row per
    (run, rule): architecture, entropy mode, init seeds, null pairs, false-positive rate,
    collapse rate, and the detection rate at each planted fraction."""
    runs = payload.get("runs", payload)
    rows = []
    for run, block in runs.items():
        for rule, r in block["rules"].items():
            rows.append({"run": run, "rule": rule,
                         **({"architecture": block["architecture"],
                             "mode": block["entropy_mode"]} if "architecture" in block else {}),
                         "seeds": block["n_models"],
                         "null pairs": r["n_null_pairs"],
                         "false positives": number(r["false_positive_rate"], ".3f"),
                         "read as collapse": number(r["collapse_rate"], ".3f"),
                         **{f"power {f}": number(r["power"][f], ".2f")
                            for f in sorted(r["power"], key=float)}})
    return pd.DataFrame(rows).set_index(["run", "rule"])


def planted_note(calibration: Mapping[str, Any]) -> str:
    """What each planted fraction does to SI: the mean dSI of the twins, one line."""
    dsi = calibration["planted_dsi"]
    return ("planted fraction -> mean dSI of the twins: " + ", ".join(
        f"{f}: {number(dsi[f], '+.3f')}" for f in sorted(dsi, key=float))
            + "; seed null of the architecture: SI sd "
            f"{number(calibration['seed_null_sd']['specialization_index'], '.4f')} over "
            f"{calibration['n_models']} init seeds")


def trained_seed_line(trained: Mapping[str, Any]) -> str:
    """dSI against the trained seed-variance reference (`study.trained_seed_reference`)."""
    if trained.get("reason"):
        return f"trained seed reference {trained['run']}: {trained['reason']}"
    si = trained["specialization_index"]
    return (f"trained seed reference {trained['run']} ({si['n']} checkpoints that differ only "
            f"in training seed, {trained['entropy_mode']} entropy"
            + ("; ANOTHER entropy mode than this run" if trained["mode_mismatch"] else "")
            + f"): SI sd {number(si['sd'], '.4f')}, two-seed dSI 95% "
            f"{_interval(si['interval'], '+.4f')}; this dSI "
            f"{number(trained['delta_si'], '+.4f')} lies "
            f"{'outside' if trained['outside'] else 'inside'} it (another architecture: a "
            "scale, not this pair's null)")


def trend_line(trend: Mapping[str, Any] | None, min_models: int) -> str:
    """E08's size trend in one line: the slope within one family with its interval, or why
    there is none."""
    if not trend:
        return (f"size trend: none (no family has real models of at least {min_models} sizes; "
                "across families size is confounded with family, objective and attention kind)")
    ci = (f", {trend['ci']:.0%} CI {_interval(trend['slope_ci'], '+.4f')}" if trend["slope_ci"]
          else ", no interval (a model without one): not drawn")
    return (f"size trend within {trend['family']}: {trend['slope_per_decade']:+.4f} SI per "
            f"tenfold size{ci} ({len(trend['models'])} models)")


def seed_spread_line(spread: Mapping[str, Any]) -> str:
    """The SI's spread over trained checkpoints that differ only in training seed, one line."""
    si = spread["specialization_index"]
    return (f"{si['n']} checkpoints of one architecture that differ only in training seed: SI "
            f"{number(si['mean'])} +/- {number(si['sd'])}; two such seeds differ in SI by "
            f"{_interval(si['interval'], '+.4f')} (95%): the trained seed null of dSI that the "
            "paper pair runs name as `trained_seed_reference`")
