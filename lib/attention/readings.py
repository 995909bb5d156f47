"""What the attention results say, in words, for the report and each notebook's findings.

Every line is computed from results payloads ({"<profile>/<name>": payload} or one payload):

- `null_lines`: every model's SI minus the mean of its head-permutation null, with the null's
  spread, and what a typical draw means (set by depth, not by which head does what);
- `init_lines`: each real model's SI against its *own* architecture at initialization (several
  seeds, its own tokenizer and full vocabulary), model by model: no stand-ins pooled in, no
  model counted twice;
- `beyond_null_lines`: the head-permutation tests of real models that survive Holm over their
  run's family (KV-aware shuffles for the group figures): the findings to put in front;
- `mode_lines`: pairs whose entropy modes read differently, both shown, the protocol's named;
- `ladder_lines`: what E08's ladder can and cannot decide;
- `multiplicity_lines`: each family of tests and how it is corrected;
- `SI_RANGE`: why SI can exceed 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.attention.nulls import NULL_FIGURES, null_reading
from lib.attention.study import interval_side, is_stand_in
from lib.attention.verdicts import is_finite

SI_RANGE = ("SI = 1 - the mean correlation of the heads' layer profiles; correlations lie in "
            "[-1, 1], so SI lies in [0, 2] and exceeds 1 when the profiles are anti-correlated "
            "on average (some heads' entropy rising with depth where others' falls), as random "
            "initializations often are.")
PAIR = ("E11", "E11-T")


def models(results: Mapping[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any],
                                                                  dict[str, Any] | None]]:
    """(label, model block, its null-model block) of every measured model, each model once (its
    first run in key order): E08 models, and the base and instruct of E11 / E11-T pairs."""
    seen: set[str] = set()
    out = []
    for key, payload in sorted(results.items()):
        if payload.get("experiment") == "E08":
            found = [(m.get("display") or name, m, m.get("null_model"))
                     for name, m in payload.get("models", {}).items()]
        elif payload.get("experiment") in PAIR:
            found = [(f"{payload.get('run', key)} {side}", payload[side],
                      payload.get("null_model") if side == "base" else None)
                     for side in ("base", "instruct") if side in payload]
        else:
            continue
        for label, block, null in found:
            name = (block.get("model") or {}).get("name", label)
            if name not in seen:
                seen.add(name)
                out.append((label, block, null))
    return out


def null_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Each model's SI against its head-permutation null: SI - null mean, the null's sd, p,
    and what that means."""
    lines = []
    for label, block, _ in models(results):
        perm = (block.get("controls") or {}).get("head_permutation") or {}
        text = null_reading(perm.get("si"), perm.get("depth_share"))
        if text:
            tag = " (random-init stand-in)" if is_stand_in(block.get("model")) else ""
            lines.append(f"- {label}{tag}: {text}")
    return lines


def init_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Each real model's SI against its own architecture's init seeds, model by model."""
    lines = []
    for label, block, null in models(results):
        if is_stand_in(block.get("model")):
            continue
        init = (null or {}).get("init_seeds") or {}
        against = init.get("si_against_init") or {}
        if against.get("point") is None or against.get("reason"):
            continue
        lines.append(
            f"- {label}: SI {against['point']:.3f} vs {against['n']} init seeds of its own "
            f"architecture ({init.get('architecture')}, reduced: {init.get('reduction')}): "
            f"{against['init_mean']:.3f} +/- {against['init_sd']:.3f}, range "
            f"[{against['low']:.3f}, {against['high']:.3f}]; "
            f"{'outside' if against['outside'] else 'inside'} the range "
            f"({against['excess_sd']:+.1f} init sd).")
    return lines


def beyond_null_lines(results: Mapping[str, dict[str, Any]], alpha: float = 0.05,
                      ) -> list[str]:
    """The head-permutation tests of real models whose Holm-adjusted p (over their run's
    family) is at most `alpha`, with the same figure at initialization where measured."""
    labels = dict((key, label) for label, key in NULL_FIGURES)
    lines = []
    for label, block, null in models(results):
        if is_stand_in(block.get("model")):
            continue
        perm = (block.get("controls") or {}).get("head_permutation") or {}
        init = (null or {}).get("head_permutation") or {}
        for key, test in perm.items():
            if not isinstance(test, dict) or test.get("p_adjusted") is None \
                    or test["p_adjusted"] > alpha:
                continue
            at_init = init.get(key) or {}
            lines.append(
                f"- {label}, {labels.get(key, key)}: {test['point']:.3f} against its null "
                f"[{test['low']:.3f}, {test['high']:.3f}] (mean {test['null_mean']:.3f}, sd "
                f"{test['null_std']:.3f}; p {test['p']:.3f}, Holm {test['p_adjusted']:.3f})"
                + (f"; {at_init['point']:.3f} at initialization"
                   if is_finite(at_init.get("point")) else "") + ".")
    return lines


def mode_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Pairs whose entropy modes read differently (verdict, or dSI's interval against 0): both
    modes, and which one the protocol uses."""
    lines = []
    for _, payload in sorted(results.items()):
        if payload.get("experiment") not in PAIR:
            continue
        modes = (payload.get("delta") or {}).get("entropy_modes") or {}
        if len({(m["verdict"], interval_side(m["si_ci"])) for m in modes.values()}) < 2:
            continue
        shown = "; ".join(
            f"{mode}{' (the protocol)' if m['protocol'] else ''}: dSI "
            f"{m['specialization_index']:+.3f} [{m['si_ci'][0]:+.3f}, {m['si_ci'][1]:+.3f}], "
            f"{m['verdict']}" for mode, m in modes.items())
        lines.append(f"- {payload['experiment']} {payload['run']}: the entropy mode changes the "
                     f"reading ({shown}); the verdict is the protocol's.")
    return lines


def ladder_lines(payload: Mapping[str, Any]) -> list[str]:
    """What an E08 ladder can and cannot decide: the corrected verdict's note, the seed rule
    as executed beside it, and the models whose SI is a typical null draw."""
    verdict = payload.get("verdict") or {}
    values = verdict.get("values") or {}
    seed = (verdict.get("as_executed") or {}).get("code")
    lines = [f"- E08 {payload.get('run')}: {verdict.get('code')}"
             + (f" ({values['note']})" if values.get("note") else "")
             + (f"; the seed rule as executed reads {seed} at point values" if seed else "")
             + "."]
    if values.get("typical_null_draws"):
        lines.append("- Their SIs are typical draws of the head-permutation null: "
                     + ", ".join(values["typical_null_draws"]) + ".")
    return lines


def multiplicity_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Each family of tests the runs correct together, with its method and size."""
    lines = []
    for key, payload in sorted(results.items()):
        family = payload.get("multiplicity") or (payload.get("delta") or {}).get("multiplicity")
        if family:
            lines.append(f"- {key}: {family['what']}: {family['size']} tests, "
                         f"{family['method_name']}, {family['alpha']:.0%}; "
                         f"{len(family['rejected'])} rejected.")
        null = (payload.get("delta") or {}).get("seed_null") or {}
        if payload.get("experiment") in PAIR and is_finite(null.get("alpha")):
            lines.append(f"- {key}: the two collapse signs against their seed null, Holm at "
                         f"{null['alpha']:.0%} family-wise.")
    return lines
