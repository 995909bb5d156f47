"""lib.report on a results file that lacks a claim's field: a status naming it, never a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from payloads import MISSING, changed, claims_payload, layout_payload
from sealed import write_sealed

from lib import checks, claims, report, results
from lib.layout import layout_of

STRING = next(c for c in claims.CLAIMS if c.result and isinstance(c.value, str))
NUMERIC = next(c for c in claims.CLAIMS if c.result and not isinstance(c.value, str))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private results folder."""
    for module in (report, results):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    return tmp_path / "results"


def _without(claim: claims.Claim, value: object = None, drop: bool = True) -> dict:
    """Every claim of `claim`'s results file at its published value, `claim`'s field left out
    (or set to `value` when not `drop`)."""
    payload: dict = {}
    for other in (c for c in claims.CLAIMS if c.result == claim.result):
        node = payload
        for key in other.field[:-1]:
            node = node.setdefault(key, {})
        node[other.field[-1]] = other.value
    node = payload
    for key in claim.field[:-1]:
        node = node[key]
    if drop:
        del node[claim.field[-1]]
    else:
        node[claim.field[-1]] = value
    return payload


@pytest.mark.parametrize("claim", [NUMERIC, STRING], ids=["number", "string"])
def test_a_results_file_without_a_claims_field_is_left_out_naming_the_field(
        folder: Path, claim: claims.Claim) -> None:
    """The claim's field is in its result's layout, so a file without it does not fit: left out
    in one line naming the field (it used to raise KeyError), its claims not yet run."""
    path = write_sealed(folder / f"{claim.result}.json",
                        changed(claims_payload(claim.result), claim.field, MISSING))
    rows = report.write_report([path])
    assert next(r for r in rows if r["id"] == claim.id)["status"] == checks.NOT_RUN
    machine = json.loads((folder / "report.json").read_text())
    [line] = machine["refused"]
    assert line == (f"{claim.result}.json: {'/'.join(claim.field)}: Field required (the "
                    f"{result_problem_layout(claim)} layout); rerun it with make reproduce")
    assert f"- {line}" in (folder / "REPORT.md").read_text()


def result_problem_layout(claim: claims.Claim) -> str:
    """The name of the layout of `claim`'s results file."""
    layout = layout_of(claim.result.split("/")[-1].split("_", 1)[0])
    assert layout is not None
    return layout.__name__


def test_a_missing_section_names_the_first_missing_step(folder: Path) -> None:
    payload = {k: v for k, v in _without(NUMERIC).items() if k != NUMERIC.field[0]}
    row = checks.check_claim(NUMERIC, {NUMERIC.result: payload})
    assert row["status"] == checks.MISSING
    assert f"missing at {NUMERIC.field[0]!r}" in row["needs"]


def test_a_null_field_stays_undefined_not_missing(folder: Path) -> None:
    row = checks.check_claim(NUMERIC, {NUMERIC.result: _without(NUMERIC, math.nan, drop=False)})
    assert row["status"] == checks.UNDEFINED and "needs" not in row


@pytest.mark.parametrize("payload", [{"embedding": [1, 2]}, {"layers": 3}, {"run": 7}],
                         ids=["list", "number", "not-a-string"])
def test_a_results_file_that_does_not_fit_its_layout_is_left_out_naming_the_key(
        folder: Path, payload: dict) -> None:
    """A results file of the right name and provenance whose keys are not its layout's: left
    out of the report in one line naming the file and the key; the other files reported."""
    good = write_sealed(folder / f"{NUMERIC.result}.json", claims_payload(NUMERIC.result))
    bad = write_sealed(folder / "embedded" / "terrain_minilm.json",
                       {**layout_payload("terrain", {}), **payload})
    assert report.main([str(good), str(bad)]) == 0
    machine = json.loads((folder / "report.json").read_text())
    [line] = machine["refused"]
    assert line.startswith("embedded/terrain_minilm.json: ") and next(iter(payload)) in line
    assert "(the TerrainResult layout)" in line
    row = next(r for r in machine["claims"] if r["id"] == NUMERIC.id)
    assert row["status"] == checks.REPRODUCED


@pytest.mark.parametrize("text", ["[1, 2]", '{"rows": 3}'], ids=["list", "rows"])
def test_a_derived_file_the_report_cannot_read_changes_neither_file(
        folder: Path, capsys: pytest.CaptureFixture, text: str) -> None:
    """A derived file (made by a line's own rule) the report cannot read: one line naming it,
    and REPORT.md and report.json both left as they were (the audit found a new report.json
    beside a stale REPORT.md)."""
    good = write_sealed(folder / f"{NUMERIC.result}.json", claims_payload(NUMERIC.result))
    assert report.main([str(good)]) == 0
    before = {name: (folder / name).read_bytes() for name in ("REPORT.md", "report.json")}
    bad = folder / "embedded" / "summary.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(text)
    capsys.readouterr()
    assert report.main([str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "summary.json" in err
    assert {name: (folder / name).read_bytes() for name in before} == before
