"""What the embedded runs show, computed from their results (never typed), and what they cannot.

Each line of research says what its own runs show (`lib.lines`: `findings`, `run_findings`,
`cannot_show`); this module adds what every line shares, read off the claims
(`lib.checks`): the band checks of embedded runs, the claims a baseline passes too (no
evidence), and the claims indistinguishable from their baseline. `findings(results)` is the
machine form (report.json), `findings_lines` the report's opening, `findings_for(payload,
experiment)` one run's lines (its notebook prints them), `cannot_show_lines()` what no embedded
run can show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.checks import (
    GIVEN_BY_BASELINE,
    IN_BAND,
    INDISTINGUISHABLE,
    NOT_RUN,
    OUTSIDE,
    check_claims,
)
from lib.claims import CLAIMS
from lib.lines import hook, line_of, lines
from lib.models.embedded import EMBEDDED
from lib.stats.values import is_finite


def findings(results: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Everything the embedded results (keys "embedded/...") show: each line's lines (`lines`),
    bands (the band claims of embedded runs), given_by_baseline (passed, but the baseline passes
    too), indistinguishable (claims whose value, or whose baseline, an embedded run measured,
    and whose value is a typical value of that baseline; the value compared is the published
    one until its own run is made)."""
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
    return {"lines": {name: hook(line.findings)(results) for name, line in lines().items()},
            "bands": bands, "given_by_baseline": given, "indistinguishable": same}


def _fmt4(value: Any) -> str:
    return f"{float(value):.4g}" if is_finite(value) else "n/a"


def findings_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Markdown bullets of `findings(results)`."""
    f = findings(results)
    out = [text for line_lines in f["lines"].values() for text in line_lines]
    if f["bands"]:
        inside = [b for b in f["bands"] if b["status"] == IN_BAND]
        out.append(f"- Universal bands: {len(inside)} of {len(f['bands'])} checks of the "
                     "embedded models in band: " + "; ".join(
                         f"`{b['id']}` {b['value']:.3f} ({b['status']} "
                         f"{b['band'][0]}-{b['band'][1]})" for b in f["bands"]) + ".")
    if f["given_by_baseline"]:
        out.append("- Passed, but no evidence (the baseline passes the claim's check too): "
                     + "; ".join(f"`{x['id']}` {_fmt4(x['value'])} ({x['status']}: "
                                 f"{x['baseline']}, {x['shown']})"
                                 for x in f["given_by_baseline"]) + ".")
    if f["indistinguishable"]:
        out.append("- Indistinguishable from their baseline: " + "; ".join(
            f"`{x['id']}` ({x['status']}, {x['baseline']}; {x['compared']} value)"
            for x in f["indistinguishable"]) + ".")
    return out or ["- No embedded run has been made yet (`make reproduce`)."]


def findings_for(payload: dict[str, Any], experiment: str) -> list[str]:
    """The findings of one results payload (a notebook prints them): its line's own, then what
    the claims read off it."""
    out = hook(line_of(experiment).run_findings)(payload)
    key = f"{payload.get('profile')}/{experiment}_{payload.get('run')}"
    for row in check_claims({key: payload}):
        claim = next(c for c in CLAIMS if c.id == row["id"])
        if claim.result != key or row["status"] == NOT_RUN:
            continue
        check = row.get("check", row["status"])
        if check in (IN_BAND, OUTSIDE):
            out.append(f"- {row['statement']}: {row['regenerated']:.4g} ({check} "
                       f"{row['published'][0]}-{row['published'][1]})")
        base = row.get("baseline") or {}
        if row["status"] in GIVEN_BY_BASELINE.values():
            out.append(f"- {row['statement']}: {row['regenerated']:.4g} passes the claim's "
                       f"check, but {row['status']} ({base['label']}: {base['shown']}): no "
                       "evidence")
        if base.get("status") in INDISTINGUISHABLE.values():
            out.append(f"- {row['statement']}: {base['status']} ({base['label']}: "
                       f"{base['shown']})")
    return out


def cannot_show_lines() -> list[str]:
    """What no embedded run can show."""
    gguf = ", ".join(n.split("/", 1)[1] for n, s in EMBEDDED.items() if s.kind == "gguf")
    return [
        "- Tiny random-initialized models (`tiny/...`, `random/...`, `init/...`) test the "
        "machinery only: their numbers are no evidence for or against any claim.",
        f"- The embedded {gguf} weights are dequantized 4-bit GGUF files, not the released bf16 "
        "weights: sparsity counts of |w| < threshold and rank / participation-ratio figures "
        "measure the dequantized quantization grid.",
        *(text for line in lines().values() for text in hook(line.cannot_show)()),
    ]
