"""Results files: atomic, deterministic, JSON-safe; references read from runs or claims."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sealed import write_sealed

from lib import claims, results
from lib.checks import DIFFERS, NOT_RUN, REPRODUCED, check_claim
from lib.integrity import canonical_sha256


def test_write_json_is_sorted_and_json_safe(tmp_path: Path) -> None:
    path = results.write_json(tmp_path / "a" / "r.json",
                              {"b": np.float32(0.5), "a": np.arange(3), "c": math.inf,
                               "d": np.bool_(True)})
    text = path.read_text()
    written = json.loads(text)
    assert written.pop("content_sha256") == canonical_sha256(written)  # lib.integrity
    assert written == {"a": [0, 1, 2], "b": 0.5, "c": None, "d": True}
    assert text.index('"a"') < text.index('"b"')
    assert not list(path.parent.glob(".*tmp"))


def test_interrupted_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    path = results.write_json(tmp_path / "r.json", {"v": 1})

    def boom(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        results.write_json(path, {"v": 2})
    assert json.loads(path.read_text())["v"] == 1
    assert list(tmp_path.iterdir()) == [path]


def test_paths_are_deterministic_and_profile_separated() -> None:
    a = results.results_path("embedded", "E11_x")
    b = results.results_path("paper", "E11_x")
    assert a != b and a.name == b.name == "E11_x.json"


def test_reference_prefers_the_run_and_labels_published(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    ref = claims.reference("paper", "E11_mistral-7b", ("base", "specialization_index"),
                           "mistral7b.base_si")
    assert ref.published and ref.value == claims.CLAIMS_BY_ID["mistral7b.base_si"].value
    assert "published" in ref.source
    write_sealed(tmp_path / "paper" / "E11_mistral-7b.json",
                 {"base": {"specialization_index": 0.5}})
    ref = claims.reference("paper", "E11_mistral-7b", ("base", "specialization_index"),
                           "mistral7b.base_si")
    assert (ref.value, ref.published) == (0.5, False)


def test_reference_without_run_or_claim_says_what_to_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    with pytest.raises(FileNotFoundError, match="parameters/embedded/E11_tiny-mha.yaml"):
        claims.reference("embedded", "E11_tiny-mha", ("base", "specialization_index"), None)


def test_claim_status(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    claim = claims.CLAIMS_BY_ID["falcon7b.base_si"]
    row = check_claim(claim)
    assert row["status"] == NOT_RUN and "E11_falcon-7b.yaml" in row["needs"]
    path = tmp_path / "paper" / "E11_falcon-7b.json"
    write_sealed(path, {"base": {"specialization_index": claim.value + 0.001}})
    assert check_claim(claim)["status"] == REPRODUCED
    write_sealed(path, {"base": {"specialization_index": claim.value + 0.05}})
    row = check_claim(claim)
    assert row["status"] == DIFFERS and row["difference"] == pytest.approx(0.05)


def test_every_spec_claim_is_registered_once() -> None:
    ids = [c.id for c in claims.CLAIMS]
    assert len(ids) == len(set(ids))
    values = {c.id: c.value for c in claims.CLAIMS}
    assert values["mistral7b.delta_si"] == pytest.approx(
        values["mistral7b.instruct_si"] - values["mistral7b.base_si"])
    assert str(values["modulator.phase_boundary"]) == next(
        r["taken"] for r in claims.RESOLUTIONS if r["topic"] == "phase boundary constant")
    for c in claims.CLAIMS:
        if c.result is not None:
            assert c.field and c.parameters and Path(results.ROOT, c.parameters).is_file(), c.id


def test_results_are_readable_by_others(tmp_path: Path) -> None:
    old = results.os.umask(0o022)
    try:
        path = results.write_json(tmp_path / "r.json", {"v": 1})
    finally:
        results.os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
