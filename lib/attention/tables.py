"""Presentation of the attention study's results: pandas tables and one-line descriptions.

The protocol's steps (`lib.attention.study`) return data; the notebooks print what these
functions make of it. A number that is not finite (NaN/Inf, or None: JSON null) reads `n/a`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from lib.attention.nulls import NULL_FIGURES
from lib.attention.stats import CONTROL_FIGURES
from lib.attention.study import STAND_IN_PAIR, ModelRun, pair_subject
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


def describe_collapse(verdict: Verdict) -> str:
    """Two lines: the corrected collapse verdict with each independent sign's status and
    interval, and the seed rule as executed; `<code>: <reason>` if UNDEFINED."""
    if verdict.code == UNDEFINED:
        return f"{verdict.code}: {verdict.reason}"
    v = verdict.values
    signs = []
    for label, metric, _ in COLLAPSE_SIGNS:
        status = v["sign_status"][label]
        spec = "+.3e" if "variance" in metric else "+.4f"
        what = "dSI" if metric == "specialization_index" else "d variance"
        interval = (v.get("intervals") or {}).get(metric)
        where = (f"{what} 95% CI {_interval(interval, spec)}" if interval
                 else f"no interval for {what}")
        note = " includes 0" if status == "not resolved" and interval else ""
        signs.append(f"{label}: {status} ({where}{note})")
    seed = verdict.as_executed or {}
    shown = ", ".join(f"{k.replace('_', ' ')} {x}" for k, x in seed.get("criteria", {}).items())
    met = seed.get("values", {}).get("criteria_met")
    return (f"{verdict.code} (corrected: {v['criteria_met']}/{v['signs']} independent signs "
            f"resolved toward collapse; {'; '.join(signs)})\n"
            f"seed rule as executed: {seed.get('code')} ({met}/3 point signs, dSI and "
            f"d correlation counted as two: {shown})")


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
    return (f"head-permutation null: the heads of each layer shuffled independently, "
            f"{null['n_permutations']} permutations (seed {null['seed']}"
            + ("; base and instruct shuffled independently for a delta" if paired else "")
            + f"); its {null['ci']:.0%} interval and the two-sided p = (1 + #draws at least as "
            "far from the null mean) / (1 + n)")


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
    """dSI, d correlation and verdict of the MHA reference next to this GQA run."""
    def fmt(value: Any) -> Any:
        return round(float(value), 4) if is_finite(value) else NOT_AVAILABLE

    seed = (verdict.as_executed or {}).get("code", verdict.code)
    return pd.DataFrame({
        "MHA reference": [fmt(mha["delta_si"]), fmt(mha["delta_corr"]), mha["verdict"],
                          mha.get("verdict_corrected") or NOT_AVAILABLE],
        "GQA (this run)": [fmt(delta["specialization_index"]),
                           fmt(delta["mean_head_correlation"]), seed, verdict.code],
    }, index=["dSI", "d correlation (= -dSI)", "verdict (seed rule as executed)",
              "verdict (corrected)"])


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
    """'value (null [95%], p)' of a head-permutation figure; 'n/a' when undefined."""
    if not value or not is_finite(value.get("point")):
        return NOT_AVAILABLE
    return f"{number(value['point'], '+.4f' if signed else '.4f')} ({null_text(value, signed)})"


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
