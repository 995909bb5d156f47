"""lib.bench: one run of every benchmark; rows with measured ratios, goals and value checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib import bench
from lib.memory import PeakRSS, status_kib
from lib.terrain import bench as terrain_bench


def test_row_ratio_and_table() -> None:
    fast = bench.row("area", "fast thing", 0.5, 10.0, "s", ">= 10x", True, 0.0, "a note")
    slow = bench.row("area", "memory thing", 300.0, 150.0, "MB", "ours < reference", False)
    assert fast["ratio"] == 20.0 and slow["ratio"] == 0.5
    text = bench.table({"quick": True, "areas": {"area": [fast, slow]}, "seconds": {"area": 1.0},
                        "total_s": 1.0})
    lines = text.splitlines()
    assert lines[0].startswith("== area")
    assert "20.0x" in lines[2] and lines[2].rstrip().endswith("yes")
    assert "0.5x" in lines[4] and lines[4].rstrip().endswith("NO") and "300.0 MB" in lines[4]
    assert lines[3].strip() == "a note"


def test_peak_rss_counts_a_freed_block_and_nests() -> None:
    with PeakRSS() as outer:
        block = np.ones(80 * 2**20 // 8)  # 80 MiB, touched
        del block
        with PeakRSS() as inner:  # resets the kernel counter: the outer peak must survive
            small = np.ones(2**20 // 8)
            del small
    assert status_kib("VmRSS") > 0 and outer.exact == inner.exact
    if outer.exact:  # Linux with a writable /proc/self/clear_refs
        assert outer.mb >= 75 and inner.mb < 40, (outer.mb, inner.mb)
    else:
        assert outer.mb >= 0 and inner.mb >= 0


def test_unknown_area_raises() -> None:
    with pytest.raises(ValueError, match="unknown benchmark area"):
        bench.run(quick=True, areas=["pentachora", "nope"])


@pytest.mark.slow
def test_quick_run_of_every_area(capsys: pytest.CaptureFixture[str]) -> None:
    """Every area but attention, whose quick run tests/attention/test_bench.py makes once and
    turns into these rows (`attention_rows`)."""
    others = [a for a in bench.bench_areas() if a != "attention"]
    result = bench.main(["--quick", *[x for a in others for x in ("--area", a)]])
    out = capsys.readouterr().out
    assert list(result["areas"]) == others and "attention" in bench.bench_areas()
    for area, rows in result["areas"].items():
        assert rows and f"== {area}" in out
        for r in rows:
            assert r["ours"] > 0 and r["reference"] > 0, r
            assert r["ratio"] == pytest.approx(r["reference"] / r["ours"]), r
            assert r["goal"] and isinstance(r["met"], bool), r
            assert r["what"][:58] in out
    rows = result["areas"]
    assert all(r["max_diff"] <= 1e-12 for r in rows["terrain WordNet"])  # identical to NLTK
    weights = rows["weight battery"]
    assert len(weights) == 2 and weights[0]["max_diff"] <= terrain_bench.WEIGHTS_REL_DIFF
    assert weights[1]["met"] == (weights[1]["ours"] < weights[1]["reference"])
    assert json.loads(out.strip().splitlines()[-1])["quick"] is True
