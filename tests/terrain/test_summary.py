"""lib.terrain.summary: the cross-run summary reads exactly the results given, one row per run
that the workflow made and that fits the results layout; any other is listed, never a row."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sealed import write_sealed

from lib import results
from lib.terrain import summary


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for module in (summary, results):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    return tmp_path / "results" / "embedded"


def test_a_run_gives_its_headline_row_and_its_battery_row(
        folder: Path, terrain_payload: dict[str, Any]) -> None:
    path = write_sealed(folder / "terrain_tiny-t5.json", terrain_payload)
    out = summary.write_summary("embedded", [path])
    assert out["refused"] == []
    [row] = out["rows"]
    assert row == {"run": "tiny-t5", "model": "tiny/t5", **terrain_payload["headline"]}
    [battery] = out["cross_architecture"]
    assert battery["model"] == "tiny/t5"
    assert battery["volume CV"] == terrain_payload["embedding"]["pentachora"]["cv"]
    written = json.loads((folder / "terrain_summary.json").read_text())
    assert {k: v for k, v in written.items() if k != "content_sha256"} == out
    text = (folder / "terrain_summary.md").read_text()
    assert "## Weight battery across architectures (§5)" in text and "| tiny/t5 |" in text
    assert (folder.parents[1] / "figures" / "embedded" / "terrain_summary.png").is_file()


def test_a_file_that_does_not_fit_the_layout_is_listed_not_read(
        folder: Path, terrain_payload: dict[str, Any]) -> None:
    bad = copy.deepcopy(terrain_payload)
    bad["weights"]["trained"]["cross_layer_summary"]["max_abs_mean"] = "0.1"
    path = write_sealed(folder / "terrain_tiny-t5.json", bad)
    out = summary.write_summary("embedded", [path])
    assert out["rows"] == [] and out["cross_architecture"] == []
    [line] = out["refused"]
    assert line.startswith("embedded/terrain_tiny-t5.json: weights/trained/cross_layer_summary/"
                           "max_abs_mean: Input should be a valid number")
    assert line in (folder / "terrain_summary.md").read_text()


def test_another_experiments_result_gives_no_row(
        folder: Path, terrain_payload: dict[str, Any]) -> None:
    other = write_sealed(folder / "E11_tiny-mha.json", {"experiment": "E11", "run": "tiny-mha"})
    terrain = write_sealed(folder / "terrain_tiny-t5.json", terrain_payload)
    out = summary.write_summary("embedded", [other, terrain])
    assert [r["run"] for r in out["rows"]] == ["tiny-t5"]
