"""lib.modulator.layout and lib.modulator.renames: the modulator results file fits its typed
layout, every claim path is checked against it, and a results file written before the renaming
fits it under the new names (`lib.renames`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from payloads import skeleton

from lib.claims import _RESOLUTIONS, CLAIMS, _field_paths
from lib.layout import layout_of, path_problem, result_problem
from lib.modulator.layout import ModulatorResult
from lib.modulator.renames import RENAMES
from lib.renames import renamed, renames_of


def _modulator_paths() -> list[tuple[str, tuple[str, ...]]]:
    return [(where, field) for where, result, field in _field_paths(CLAIMS, _RESOLUTIONS)
            if result.split("/", 1)[1].startswith("modulator_")]


def _old(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` as the code before the renaming wrote it: each rename undone, deepest first
    (a path names the old keys; a top-level key is found under its new name)."""
    out = copy.deepcopy(payload)
    top = {old: new for old, new in RENAMES["modulator"] if "." not in old}
    for old, new in sorted(RENAMES["modulator"], key=lambda r: -r[0].count(".")):
        *parents, last = old.split(".")
        node: Any = out
        for i, key in enumerate(parents):
            node = node.get(top.get(key, key) if i == 0 else key)
            if not isinstance(node, dict):
                break
        if isinstance(node, dict) and new in node:
            node[last] = node.pop(new)
    return out


def test_the_modulator_line_registers_its_layout_and_renames() -> None:
    assert layout_of("modulator") is ModulatorResult
    assert renames_of("modulator")[0][0].count(".") >= 1  # deepest first
    assert {new for _, new in RENAMES["modulator"]} >= {
        "procrustes", "trained", "alpha_sweep", "generation", "field"}


def test_the_smallest_payload_fits_and_a_seed_section_key_is_refused() -> None:
    payload = skeleton(ModulatorResult) | {"experiment": "modulator"}
    assert result_problem(payload, "modulator") is None
    old = copy.deepcopy(payload)
    old["section8"] = old.pop("procrustes")
    problem = result_problem(old, "modulator")
    assert problem is not None and problem.startswith("procrustes: Field required")


def test_a_results_file_written_before_the_renaming_fits_under_the_new_names() -> None:
    payload = skeleton(ModulatorResult) | {"experiment": "modulator"}
    payload["procrustes"]["pipeline"]["unmatched"]["unmatched_rows"] = 7
    payload["effects"]["anchor_evaluation"]["difference"] = {"pearson": 0.01}
    payload["headline"] = {"anchors_pearson": 0.2, "held_out_pearson": 0.19}
    old = _old(payload)
    assert {"section8", "section9", "section10", "section11", "section12"} <= set(old)
    assert "B8" in old["section8"]["pipeline"] and "B8" in old["effects"]
    assert old["headline"] == {"b8_pearson_as_executed": 0.2, "b8_pearson_corrected": 0.19}
    assert result_problem(old, "modulator") is not None
    assert renamed(old, "modulator") == payload  # the same values under the new names


def test_every_claim_path_is_in_the_layout() -> None:
    paths = _modulator_paths()
    assert len(paths) >= 20  # the registry's modulator claims and resolution effects were read
    assert [(w, f) for w, f in paths if path_problem(ModulatorResult, f)] == []


@pytest.mark.parametrize(("path", "named"), [
    (("section8", "evaluation"), "'section8' is not a key of the top"),
    (("effects", "B8"), "'B8' is not a key of effects"),
    (("headline", "b8_pearson_corrected"), "'b8_pearson_corrected' is not a key of headline"),
])
def test_an_old_claim_path_is_named(path: tuple[str, ...], named: str) -> None:
    problem = path_problem(ModulatorResult, path)
    assert problem is not None and problem.startswith(named) and "ModulatorResult" in problem
