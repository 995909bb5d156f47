"""Every published claim checked against the regenerated results: a status per claim and its
baseline.

`check_claims(results)` reads the results payloads ({"<profile>/<name>": payload}; without them,
the workflow's results folder) and gives one row per claim of `lib.claims`: the published value
(or band, or ordering), the regenerated value (read from the results file and field the claim
names), the difference and a status: `reproduced` (within tolerance), `differs`, `in band` /
`outside band`, `asserted, not testable` (the field echoes an input), `undefined` (the run
stored null), `missing field` (naming it and the parameter file to rerun) or `not yet run`
(naming the parameter file and hardware it needs). Beside it the claim's baseline
(initialization, a permutation null, a Gaussian reference) and whether the value is
indistinguishable from it, decided by the baseline's own sampling distribution (several
initialization seeds or an analytic interval), never by the claim's tolerance. A claim whose
check passes but whose baseline passes it too is `random weights give it too` (`its null ...`,
`its reference ...`), counted apart from the reproduced ones. `lib.report` renders the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.claims import CLAIMS, Claim, lookup
from lib.results import find_result
from lib.stats.values import is_finite

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


def payload_of(result: str, results: Mapping[str, dict[str, Any]] | None) -> dict[str, Any] | None:
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
    payload = payload_of(claim.result, results) if claim.result is not None else None
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
    distribution alone (as the line that stores it computed it: the interval of several
    initialization seeds or an analytic one, a null's interval, a reference's interval of the
    difference), never by the
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
    payload = payload_of(b.result, results)
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

    A spread {source, low, high, ...} (initialization seeds or analytic, as the line stores it)
    or a null block {null_mean, low, high, p}: x inside [low, high], which is what it gives; a
    reference block {reference_cv, difference_ci, distinguishable}: as its flag says, giving
    its reference_cv; a bare number: one value without a spread, so no decision (never the
    claim's tolerance), giving that value."""
    if isinstance(value, dict) and "distinguishable" in value:
        ref, ci = value.get("reference_cv"), value.get("difference_ci")
        shown = (f"{fmt(ref)}; difference [{fmt(ci[0], True)}, {fmt(ci[1], True)}] "
                 f"({value.get('n_boot', '-')} resamples, {value.get('level', 0):.0%})"
                 if ci else f"{fmt(ref)}")
        flag = value["distinguishable"]
        gives = (float(ref), float(ref)) if is_finite(ref) else None
        return shown, None if flag is None else not flag, gives
    if isinstance(value, dict) and "low" in value:
        low, high, p = value.get("low"), value.get("high"), value.get("p")
        if not (is_finite(low) and is_finite(high)):
            return f"{NOT_AVAILABLE} ({value.get('reason') or 'undefined'})", None, None
        low, high = float(low), float(high)
        interval = f"[{fmt(low)}, {fmt(high)}]"
        if value.get("source") == "initialization seeds":
            shown = (f"{fmt(value['mean'])} ± {fmt(value['sd'])} over {value['k']} seeds; "
                     f"{value['level']:.0%} interval {interval}")
        elif value.get("source") == "analytic":
            shown = f"analytic {value['level']:.0%} interval {interval}"
        else:
            shown = f"[{low:.4f}, {high:.4f}]" + (f", p = {float(p):.3f}" if is_finite(p) else "")
        return shown, None if x is None else bool(low <= x <= high), (low, high)
    if not is_finite(value):
        return NOT_AVAILABLE, None, None
    return f"{fmt(float(value))} ({NO_SPREAD})", None, (float(value), float(value))


def check_claims(results: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every claim's row (`check_claim`), the ordered ones after the claims they read."""
    rows: dict[str, dict[str, Any]] = {}
    for c in sorted(CLAIMS, key=lambda c: c.ordered is not None):
        rows[c.id] = check_claim(c, results, rows)
    return [rows[c.id] for c in CLAIMS]


def fmt(value: Any, signed: bool = False) -> str:
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
