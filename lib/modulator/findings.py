"""What the modulator runs show, computed from their results: the held-out lift of each
modulator with its interval (resampling the evaluation lemmas), B8's effect split into the token
sets' own and the modulator's, and whether training could test alpha with depth. The report's
opening (`findings`) and the notebook's closing lines (`run_findings`), through `lib.lines`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.modulator.bootstrap import AT_THE_EDGE, ROUNDING_MARGIN
from lib.modulator.bootstrap import gain_verdict as modulator_gain_verdict
from lib.stats.values import is_finite


def _interval(block: dict[str, Any], key: str) -> list[float] | None:
    ci = block.get(key)
    return [float(ci[0]), float(ci[1])] if ci and all(is_finite(v) for v in ci) else None


def gain_verdict(ci: list[float] | None) -> str:
    """'gains' (interval above 0), 'loses' (below), 'gains nothing' (contains 0), 'undefined',
    or "at the edge" when a bound is within the processors' rounding of 0
    (`lib.modulator.bootstrap.gain_verdict`, which states the margin)."""
    return modulator_gain_verdict(ci)


# (label, results key, set) of each modulator a payload measures, in the notebook's order
MODULATORS = (("Procrustes (§8, alpha 0.01)", "procrustes", "Procrustes"),
              ("trained (§9)", "trained", "Trained"), ("field (§12)", "field", "Field"))


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
    interval (top-level keys), every modulator's (`modulators`), B8's effect on the lift
    (`anchor_effect`: on the anchors as executed vs held out), and the alpha test."""
    trained_block = payload.get("trained") or {}
    relational = _relational(trained_block)
    trained = (relational.get("sets") or {}).get("Trained") or {}
    ci = _interval(trained, "relative_lift_pearson_ci")
    n_boot = trained.get("n_boot", relational.get("n_boot"))
    level = trained.get("level", relational.get("level"))
    pairs = relational.get("pairs") or {}
    alpha = (trained_block.get("train") or {}).get("alpha_test") or {}
    modulators = []
    for label, section, name in MODULATORS:
        block = (_relational(payload.get(section)).get("sets") or {}).get(name)
        if block:
            modulators.append(_lift(block, label))
    anchors = (payload.get("effects") or {}).get("anchor_evaluation") or {}
    effect = ({side: _lift(anchors[side], side) | {k: _si(anchors[side].get(k)) for k in (
        "pearson", "original_pearson")} for side in ("as_executed", "corrected")}
              if "as_executed" in anchors and "corrected" in anchors else None)
    return {"lift_pearson": _si(trained.get("relative_lift_pearson")), "lift_ci": ci,
            "n_boot": n_boot, "level": level, "verdict": gain_verdict(ci),
            "held_out": pairs.get("eval_disjoint_from_anchors"), "modulators": modulators,
            "anchor_effect": effect, "alpha_test": alpha.get("verdict"),
            "alpha_steps": alpha.get("steps"), "alpha_reason": alpha.get("reason")}


def _lift_text(m: dict[str, Any]) -> str:
    ci = (f" [{m['lift_ci'][0]:+.1%}, {m['lift_ci'][1]:+.1%}]" if m["lift_ci"] else
          " (no interval)")
    return f"{m['lift_pearson']:+.1%}{ci}: {m['verdict']}"


def _anchor_parts(a: dict[str, Any], c: dict[str, Any]) -> str:
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
    arms = (m.get("anchor_effect") or {}).values()
    if any(AT_THE_EDGE in x["verdict"] for x in [*measured, m, *arms]):
        lines.append(f"- {run}: \"at the edge\": an interval bound within {ROUNDING_MARGIN:g} "
                     "of 0, where processors' rounding could put it on either side: that lift's "
                     "verdict is not robust.")
    if m.get("anchor_effect"):
        a, c = m["anchor_effect"]["as_executed"], m["anchor_effect"]["corrected"]
        if a["lift_pearson"] is not None and c["lift_pearson"] is not None:
            lines.append(f"- {run}: B8, the §8 modulator scored on its own anchors as the seed did "
                         f"vs on held-out lemmas: {_anchor_parts(a, c)}lift {_lift_text(a)} vs "
                         f"{_lift_text(c)}.")
    if m["alpha_test"]:
        steps = f" in {m['alpha_steps']} steps" if m["alpha_steps"] is not None else ""
        lines.append(f"- {run}: alpha with depth is {m['alpha_test']}{steps}"
                     + (f" ({m['alpha_reason'].removeprefix('not testable: ')})."
                        if m["alpha_reason"] else "."))
    return lines


def _si(value: Any) -> float | None:
    return float(value) if is_finite(value) else None


def _name(payload: dict[str, Any]) -> str:
    model = payload.get("model")
    return model.get("name", "") if isinstance(model, dict) else str(model or "")


def findings(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The embedded real-model modulator runs' lines (a tiny model's run claims nothing)."""
    lines = []
    for key, payload in sorted(results.items()):
        if (key.startswith("embedded/") and payload.get("experiment") == "modulator"
                and not _name(payload).startswith(("tiny/", "random/"))):
            lines += _modulator_line(key, modulator_findings(payload))
    return lines


def run_findings(payload: dict[str, Any]) -> list[str]:
    """One modulator run's lines (its notebook prints them)."""
    return _modulator_line(payload.get("run", "this run"), modulator_findings(payload))
