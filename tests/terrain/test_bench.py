"""The terrain benchmark areas' rows (lib.terrain.bench)."""

from __future__ import annotations

import math

import pytest

from lib.terrain import bench as terrain_bench
from lib.terrain.simplex import pentachoron_benchmark


def test_max_rel_diff() -> None:
    assert terrain_bench.max_rel_diff({"a": {"x": 2.0, "n": 3}}, {"a": {"x": 2.0, "n": 3}}) == 0.0
    assert terrain_bench.max_rel_diff({"a": 1.0, "b": 4.0},
                                      {"a": 1.0, "b": 5.0}) == pytest.approx(0.2)
    assert terrain_bench.max_rel_diff({"a": math.nan}, {"a": math.nan}) == 0.0
    assert terrain_bench.max_rel_diff({"a": 1.0}, {"b": 1.0}) == math.inf


def test_pentachoron_row_checks_values_and_goal() -> None:
    (r,) = terrain_bench.pentachoron_rows(quick=True)
    again = pentachoron_benchmark(**terrain_bench.PENTACHORON_QUICK)
    assert r["max_diff"] == again["max_abs_diff"]  # the volumes, not the times, are repeatable
    assert again["same_validity"] and again["max_rel_diff"] < terrain_bench.PENTACHORON_REL_DIFF
    assert r["ratio"] == r["reference"] / r["ours"] > 0
    assert r["met"] == (r["ratio"] >= terrain_bench.PENTACHORON_SPEEDUP)
