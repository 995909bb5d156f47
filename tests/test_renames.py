"""lib.renames: old results files under the new key names, and the diff that proves a renaming
changed no value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib import renames
from lib.lines import hook, lines

TABLE = [("a.b", "measured"), ("a", "alpha"), ("runs.*.B8", "unmatched"),
         ("rows.code", "defect", {"B1": "first", "B9": "ninth"})]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Experiment `x` renames by `TABLE`, deepest first, as `renames_of` gives them."""
    ordered = sorted(TABLE, key=lambda r: -r[0].count("."))
    monkeypatch.setattr(renames, "renames_of", lambda e: ordered if e == "x" else [])


OLD = {"experiment": "x", "a": {"b": 1.5, "c": 2}, "runs": {"m": {"B8": [1, 2]}, "n": {"B8": 3}},
       "rows": [{"code": "B1"}, {"code": "B2", "v": None}], "provenance": {"code": "old"}}
NEW = {"experiment": "x", "alpha": {"measured": 1.5, "c": 2},
       "runs": {"m": {"unmatched": [1, 2]}, "n": {"unmatched": 3}},
       "rows": [{"defect": "first"}, {"defect": "B2", "v": None}], "provenance": {"code": "new"}}


def test_an_old_file_is_renamed_at_every_depth_through_wildcards_and_lists(table) -> None:
    assert renames.renamed(OLD, "x") == {**NEW, "provenance": OLD["provenance"]}
    assert OLD["a"] == {"b": 1.5, "c": 2}  # the old payload is left as it was


def test_a_rename_onto_a_key_that_is_there_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(renames, "renames_of", lambda e: [("a.b", "c")])
    with pytest.raises(ValueError, match="'c' is there already"):
        renames.renamed(OLD, "x")


def test_the_same_values_under_new_names_differ_in_nothing_but_provenance(table) -> None:
    assert renames.differences(OLD, NEW, "x") == []
    changed = json.loads(json.dumps(NEW))
    changed["alpha"]["measured"] = 1.5000001
    changed["runs"]["n"]["extra"] = 0
    del changed["rows"][1]["v"]
    assert renames.differences(OLD, changed, "x") == [
        "only before: rows[1].v", "only after: runs.n.extra",
        "differs: alpha.measured: 1.5 -> 1.5000001"]
    assert renames.differences(OLD, NEW, "other") != []  # no renames for `other`


def _write(folder: Path, name: str, payload: object) -> None:
    (folder / "embedded").mkdir(parents=True, exist_ok=True)
    (folder / "embedded" / name).write_text(json.dumps(payload))


def test_diff_compares_folders_file_by_file_and_exits_by_what_it_found(
        table, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, payload in ((old, OLD), (new, NEW)):
        _write(folder, "x_run.json", payload)
        _write(folder, "list.json", [1, 2])
    assert renames.main(["diff", str(old), str(new)]) == 0
    assert capsys.readouterr().out.strip() == (
        "2 results files compared: the same values under the new names")
    _write(new, "list.json", [1, 3])
    _write(new, "x_other.json", NEW)
    assert renames.main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["embedded/list.json: differs", f"embedded/x_other.json: not in {old}",
                   "2 results files compared: 2 differences"]
    assert renames.main(["diff", str(old), str(tmp_path / "none")]) == 2


def test_every_line_renames_keys_to_new_names_and_the_table_lists_them_all() -> None:
    rows = renames.table()
    assert rows[:2] == ["| experiment | old key path | new key |", "|---|---|---|"]
    listed = 0
    for line in lines().values():
        if line.renames is None:
            continue
        for experiment, pairs in hook(line.renames).items():
            assert experiment in line.experiments
            for old, new, *values in pairs:
                assert "." not in new and new != "*"
                assert old.split(".")[-1] != new or values and all(
                    a != b for v in values for a, b in v.items())  # a key or a value renamed
                assert any(r.startswith(f"| {experiment} | `{old}` | `{new}`") for r in rows)
                listed += 1
    assert listed == len(rows) - 2 and listed > 0
