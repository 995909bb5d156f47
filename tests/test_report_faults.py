"""lib.report on a results file that lacks a claim's field: a status naming it, never a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sealed import write_sealed

from lib import checks, claims, report, results

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
def test_a_results_file_without_the_field_says_which_field(folder: Path,
                                                           claim: claims.Claim) -> None:
    path = write_sealed(folder / f"{claim.result}.json", _without(claim))
    rows = report.write_report([path])  # used to raise KeyError
    row = next(r for r in rows if r["id"] == claim.id)
    field = "/".join(claim.field)
    assert row["status"] == checks.MISSING and row["regenerated"] is None
    assert row["needs"] == (f"results/{claim.result}.json: field {field} missing at "
                            f"{claim.field[-1]!r}; rerun {claim.parameters}")
    others = [r for r in rows if r["result"] == f"results/{claim.result}.json" and r is not row]
    assert others and all(r["status"] == checks.REPRODUCED for r in others)
    text = (folder / "REPORT.md").read_text()
    line = next(x for x in text.splitlines() if f"`{claim.id}`" in x)
    cells = [c.strip() for c in line.split("|")]
    assert cells[3:5] == ["-", "-"] and cells[6:8] == ["**missing field**", row["needs"]]
    assert "1 missing a field, " in text
    machine = json.loads((folder / "report.json").read_text())
    assert next(r for r in machine["claims"] if r["id"] == claim.id)["status"] == "missing field"


def test_a_missing_section_names_the_first_missing_step(folder: Path) -> None:
    payload = {k: v for k, v in _without(NUMERIC).items() if k != NUMERIC.field[0]}
    row = checks.check_claim(NUMERIC, {NUMERIC.result: payload})
    assert row["status"] == checks.MISSING
    assert f"missing at {NUMERIC.field[0]!r}" in row["needs"]


def test_a_null_field_stays_undefined_not_missing(folder: Path) -> None:
    row = checks.check_claim(NUMERIC, {NUMERIC.result: _without(NUMERIC, math.nan, drop=False)})
    assert row["status"] == checks.UNDEFINED and "needs" not in row


@pytest.mark.parametrize("payload", [{"base": [1, 2]}, {"base": None, "verdict": 3},
                                     {"headline": "x", "model": []}],
                         ids=["list", "null", "strings"])
def test_a_results_file_the_report_cannot_read_changes_neither_file(
        folder: Path, capsys: pytest.CaptureFixture, payload: dict) -> None:
    """A results file of the right name and provenance whose layout is not a result's: one
    line naming it, and REPORT.md and report.json both left as they were (the audit found a new
    report.json beside a stale REPORT.md)."""
    good = write_sealed(folder / f"{NUMERIC.result}.json", _without(NUMERIC, NUMERIC.value,
                                                                     drop=False))
    assert report.main([str(good)]) == 0
    before = {name: (folder / name).read_bytes() for name in ("REPORT.md", "report.json")}
    bad = write_sealed(folder / "embedded" / "terrain_minilm.json", payload)
    capsys.readouterr()
    assert report.main([str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "embedded/terrain_minilm.json: " in err
    assert {name: (folder / name).read_bytes() for name in before} == before
