"""What the embedded runs show, computed from their results (never typed), and what they cannot.

`findings(results)` reads the results payloads ({"<profile>/<name>": payload}): the SI of each
model against its head-permutation null and its own architecture at initialization, the
modulator's held-out gain with its interval,
whether the short training can test the alpha claim, the band checks, and the claims whose value
is indistinguishable from random weights or from its null. `findings_lines` renders them for the
report, `findings_for(payload, experiment)` for one result (the notebooks print it), and
`cannot_show_lines()` says what no embedded run can show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.attention import readings
from lib.attention.study import is_stand_in
from lib.attention.verdicts import is_finite
from lib.models.embedded import EMBEDDED
from lib.modulator.bootstrap import AT_THE_EDGE, ROUNDING_MARGIN
from lib.modulator.bootstrap import gain_verdict as modulator_gain_verdict
from lib.report import (
    GIVEN_BY_BASELINE,
    IN_BAND,
    INDISTINGUISHABLE,
    NOT_RUN,
    OUTSIDE,
    check_claims,
)

PAIR = ("E11", "E11-T")


def _si(value: Any) -> float | None:
    return float(value) if is_finite(value) else None


def si_findings(results: Mapping[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The attention results in words (`lib.attention.readings`): the head-permutation tests of
    real models that survive Holm (first), every model's SI against its permutation null, and
    each real model's SI against its own architecture's init seeds, model by model."""
    return {"beyond_null": readings.beyond_null_lines(results),
            "against_null": readings.null_lines(results),
            "against_init": readings.init_lines(results)}


def _interval(block: dict[str, Any], key: str) -> list[float] | None:
    ci = block.get(key)
    return [float(ci[0]), float(ci[1])] if ci and all(is_finite(v) for v in ci) else None


def gain_verdict(ci: list[float] | None) -> str:
    """'gains' (interval above 0), 'loses' (below), 'gains nothing' (contains 0), 'undefined',
    or "at the edge" when a bound is within the processors' rounding of 0
    (`lib.modulator.bootstrap.gain_verdict`, which states the margin)."""
    return modulator_gain_verdict(ci)


# (label, section, set) of each modulator a payload measures, in the notebook's order
MODULATORS = (("Procrustes (§8, alpha 0.01)", "section8", "Procrustes"),
              ("trained (§9)", "section9", "Trained"), ("field (§12)", "section12", "Field"))


def _lift(block: dict[str, Any], label: str) -> dict[str, Any]:
    ci = _interval(block, "relative_lift_pearson_ci")
    return {"label": label, "lift_pearson": _si(block.get("relative_lift_pearson")),
            "lift_ci": ci, "verdict": gain_verdict(ci), "n_boot": block.get("n_boot"),
            "level": block.get("level")}


def _relational(section: dict[str, Any] | None) -> dict[str, Any]:
    section = section or {}
    return ((section.get("evaluation") or section).get("relational") or {})


def modulator_findings(payload: dict[str, Any]) -> dict[str, Any]:
    """One modulator payload: the trained (§9) modulator's relative Pearson lift with its
    interval (top-level keys), every modulator's (`modulators`), B8's effect on the lift, and
    the alpha test."""
    s9 = payload.get("section9") or {}
    relational = _relational(s9)
    trained = (relational.get("sets") or {}).get("Trained") or {}
    ci = _interval(trained, "relative_lift_pearson_ci")
    n_boot = trained.get("n_boot", relational.get("n_boot"))
    level = trained.get("level", relational.get("level"))
    pairs = relational.get("pairs") or {}
    alpha = (s9.get("train") or {}).get("alpha_test") or {}
    modulators = []
    for label, section, name in MODULATORS:
        block = (_relational(payload.get(section)).get("sets") or {}).get(name)
        if block:
            modulators.append(_lift(block, label))
    b8 = (payload.get("effects") or {}).get("B8") or {}
    effect = ({side: _lift(b8[side], side) | {k: _si(b8[side].get(k)) for k in (
        "pearson", "original_pearson")} for side in ("as_executed", "corrected")}
              if "as_executed" in b8 and "corrected" in b8 else None)
    return {"lift_pearson": _si(trained.get("relative_lift_pearson")), "lift_ci": ci,
            "n_boot": n_boot, "level": level, "verdict": gain_verdict(ci),
            "held_out": pairs.get("eval_disjoint_from_anchors"), "modulators": modulators,
            "b8": effect, "alpha_test": alpha.get("verdict"), "alpha_steps": alpha.get("steps"),
            "alpha_reason": alpha.get("reason")}


def findings(results: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Everything the embedded results (keys "embedded/...") show: si, modulator (per real
    run), bands (the band claims of embedded runs), indistinguishable (claims whose value, or
    whose baseline, an embedded run measured, and whose value is a typical value of that
    baseline; the value compared is the published one until its own run is made)."""
    embedded = {k: p for k, p in results.items() if k.startswith("embedded/")}
    modulator = {k: modulator_findings(p) for k, p in sorted(embedded.items())
                 if p.get("experiment") == "modulator"
                 and not is_stand_in({"source": _name(p).split("/", 1)[0]})}
    rows = check_claims(results)

    def local(where: str | None) -> bool:
        return bool(where) and where.startswith("results/embedded/")

    bands = [{"id": r["id"], "statement": r["statement"], "value": r["regenerated"],
              "band": r["published"], "status": r.get("check", r["status"])}
             for r in rows if r.get("check", r["status"]) in (IN_BAND, OUTSIDE)
             and local(r["result"])]
    # issue 24: claims the check passes whose baseline passes it too (no evidence)
    given = [{"id": r["id"], "statement": r["statement"], "status": r["status"],
              "value": r["regenerated"], "baseline": r["baseline"]["label"],
              "shown": r["baseline"]["shown"]}
             for r in rows if r["status"] in GIVEN_BY_BASELINE.values() and local(r["result"])]
    same = [{"id": r["id"], "statement": r["statement"], "baseline": r["baseline"]["label"],
             "status": r["baseline"]["status"], "compared": r["baseline"]["compared"]}
            for r in rows
            if (r.get("baseline") or {}).get("status") in INDISTINGUISHABLE.values()
            and (local(r["result"]) or local(r["baseline"]["result"]))]
    return {"si": si_findings(embedded), "modulator": modulator, "bands": bands,
            "given_by_baseline": given, "indistinguishable": same}


def _fmt4(value: Any) -> str:
    return f"{float(value):.4g}" if is_finite(value) else "n/a"


def _name(payload: dict[str, Any]) -> str:
    model = payload.get("model")
    return model.get("name", "") if isinstance(model, dict) else str(model or "")


def _si_lines(si: dict[str, list[str]]) -> list[str]:
    return [*si["beyond_null"], *si["against_null"], *si["against_init"]]


def _lift_text(m: dict[str, Any]) -> str:
    ci = (f" [{m['lift_ci'][0]:+.1%}, {m['lift_ci'][1]:+.1%}]" if m["lift_ci"] else
          " (no interval)")
    return f"{m['lift_pearson']:+.1%}{ci}: {m['verdict']}"


def _b8_parts(a: dict[str, Any], c: dict[str, Any]) -> str:
    """B8's Pearson effect split: the token sets' own (the unmodulated encoder's Pearson on each)
    plus the modulator's lift (r_mod - r_orig on each); empty without the four Pearsons."""
    r = [x.get(k) for x in (a, c) for k in ("pearson", "original_pearson")]
    if any(v is None for v in r):
        return ""
    sets, lift = r[1] - r[3], (r[0] - r[1]) - (r[2] - r[3])
    return (f"Pearson {r[0]:.4f} vs {r[2]:.4f} ({r[0] - r[2]:+.4f}) = the token sets "
            f"{sets:+.4f} (the unmodulated encoder's {r[1]:.4f} vs {r[3]:.4f}) + the "
            f"modulator's lift {lift:+.4f}; relative ")


def _modulator_line(run: str, m: dict[str, Any]) -> list[str]:
    lines = []
    where = "held-out pairs" if m.get("held_out") else "evaluation pairs"
    measured = [x for x in m.get("modulators", []) if x["lift_pearson"] is not None]
    if measured:
        first = measured[0]
        boot = (f" ({first['n_boot']} resamples over the evaluation lemmas, "
                f"{float(first['level']):.0%})" if first["n_boot"] and first["level"] else "")
        lines.append(f"- {run}: relative Pearson lift over the unmodulated encoder on {where}"
                     f"{boot}: " + "; ".join(f"{x['label']} {_lift_text(x)}" for x in measured)
                     + " (\"gains nothing\": the interval contains 0).")
    elif m["lift_pearson"] is not None:
        lines.append(f"- {run}: the trained modulator's relative Pearson lift on {where}: "
                     f"{_lift_text(m | {'lift_pearson': m['lift_pearson']})}.")
    if any(AT_THE_EDGE in x["verdict"] for x in [*measured, m, *(m.get("b8") or {}).values()]):
        lines.append(f"- {run}: \"at the edge\": an interval bound within {ROUNDING_MARGIN:g} "
                     "of 0, where processors' rounding could put it on either side: that lift's "
                     "verdict is not robust.")
    if m.get("b8"):
        a, c = m["b8"]["as_executed"], m["b8"]["corrected"]
        if a["lift_pearson"] is not None and c["lift_pearson"] is not None:
            lines.append(f"- {run}: B8, the §8 modulator scored on its own anchors as the seed did "
                         f"vs on held-out lemmas: {_b8_parts(a, c)}lift {_lift_text(a)} vs "
                         f"{_lift_text(c)}.")
    if m["alpha_test"]:
        steps = f" in {m['alpha_steps']} steps" if m["alpha_steps"] is not None else ""
        lines.append(f"- {run}: alpha with depth is {m['alpha_test']}{steps}"
                     + (f" ({m['alpha_reason'].removeprefix('not testable: ')})."
                        if m["alpha_reason"] else "."))
    return lines


def findings_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Markdown bullets of `findings(results)`."""
    f = findings(results)
    lines = _si_lines(f["si"])
    for run, m in f["modulator"].items():
        lines += _modulator_line(run, m)
    if f["bands"]:
        inside = [b for b in f["bands"] if b["status"] == IN_BAND]
        lines.append(f"- Universal bands: {len(inside)} of {len(f['bands'])} checks of the "
                     "embedded models in band: " + "; ".join(
                         f"`{b['id']}` {b['value']:.3f} ({b['status']} "
                         f"{b['band'][0]}-{b['band'][1]})" for b in f["bands"]) + ".")
    if f["given_by_baseline"]:
        lines.append("- Passed, but no evidence (the baseline passes the claim's check too): "
                     + "; ".join(f"`{x['id']}` {_fmt4(x['value'])} ({x['status']}: "
                                 f"{x['baseline']}, {x['shown']})"
                                 for x in f["given_by_baseline"]) + ".")
    if f["indistinguishable"]:
        lines.append("- Indistinguishable from their baseline: " + "; ".join(
            f"`{x['id']}` ({x['status']}, {x['baseline']}; {x['compared']} value)"
            for x in f["indistinguishable"]) + ".")
    return lines or ["- No embedded run has been made yet (`make reproduce`)."]


def findings_for(payload: dict[str, Any], experiment: str) -> list[str]:
    """The findings of one results payload (a notebook prints them)."""
    if experiment in ("E08", *PAIR):
        return _si_lines(si_findings({"x": payload}))
    if experiment == "modulator":
        return _modulator_line(payload.get("run", "this run"), modulator_findings(payload))
    key = f"{payload.get('profile')}/{experiment}_{payload.get('run')}"
    from lib.claims import CLAIMS

    lines = []
    for row in check_claims({key: payload}):
        claim = next(c for c in CLAIMS if c.id == row["id"])
        if claim.result != key or row["status"] == NOT_RUN:
            continue
        check = row.get("check", row["status"])
        if check in (IN_BAND, OUTSIDE):
            lines.append(f"- {row['statement']}: {row['regenerated']:.4g} ({check} "
                         f"{row['published'][0]}-{row['published'][1]})")
        base = row.get("baseline") or {}
        if row["status"] in GIVEN_BY_BASELINE.values():
            lines.append(f"- {row['statement']}: {row['regenerated']:.4g} passes the claim's "
                         f"check, but {row['status']} ({base['label']}: {base['shown']}): no "
                         "evidence")
        if base.get("status") in INDISTINGUISHABLE.values():
            lines.append(f"- {row['statement']}: {base['status']} ({base['label']}: "
                         f"{base['shown']})")
    return lines


def cannot_show_lines() -> list[str]:
    """What no embedded run can show."""
    gguf = ", ".join(n.split("/", 1)[1] for n, s in EMBEDDED.items() if s.kind == "gguf")
    return [
        "- Tiny random-initialized models (`tiny/...`, `random/...`, `init/...`) test the "
        "machinery only: their numbers are no evidence for or against any claim.",
        f"- The embedded {gguf} weights are dequantized 4-bit GGUF files, not the released bf16 "
        "weights: sparsity counts of |w| < threshold and rank / participation-ratio figures "
        "measure the dequantized quantization grid.",
        "- The paper-scale claims (Mistral, Falcon, Phi-3, T5 up to XXL, Qwen3.5) need the GPU "
        "runs of `parameters/paper/`: until they are made the table below reads 'not yet run'.",
    ]
