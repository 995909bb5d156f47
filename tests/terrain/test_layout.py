"""lib.terrain.layout: the terrain results file fits its typed layout, a wrong-typed or missing
key is refused naming it (also when the notebook saves), and every claim path is checked
against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from payloads import MISSING, changed

from lib.claims import _RESOLUTIONS, CLAIMS, _field_paths, lookup
from lib.layout import layout_of, path_problem, result_problem
from lib.notebook import Run
from lib.params import load_parameters
from lib.terrain.layout import Battery, SeedSpread, TerrainResult

TINY = "parameters/embedded/terrain_tiny-t5.yaml"


def _terrain_paths() -> list[tuple[str, tuple[str, ...]]]:
    """(where, field) of every claim, baseline and resolution path into a terrain result."""
    return [(where, field) for where, result, field in _field_paths(CLAIMS, _RESOLUTIONS)
            if result.split("/", 1)[1].startswith("terrain_")]


def test_the_terrain_line_registers_its_layout() -> None:
    assert layout_of("terrain") is TerrainResult


def test_a_run_shaped_payload_fits(terrain_payload: dict[str, Any]) -> None:
    assert result_problem(terrain_payload, "terrain") is None
    result = TerrainResult.model_validate(terrain_payload)
    # the producers' blocks are read as the declared models, not kept as free dicts
    assert isinstance(result.weights.trained, Battery)
    assert result.weights.trained.init is not None
    assert all(isinstance(s, SeedSpread) for s in result.weights.init_spread.quantities.values())
    assert result.wordnet.effects.fake_root.fake_root_share is not None
    assert result.headline.weights_measured == "trained"
    # what the layout leaves free is kept as written
    assert result.model_dump()["embedding"]["norms"] == terrain_payload["embedding"]["norms"]


def test_every_claim_path_is_in_the_layout_and_in_a_run_shaped_payload(
        terrain_payload: dict[str, Any]) -> None:
    paths = _terrain_paths()
    assert len(paths) > 20  # the registry's terrain claims were read
    assert [(w, f) for w, f in paths if path_problem(TerrainResult, f)] == []
    missing = []
    for where, field in paths:
        try:
            lookup(terrain_payload, field)
        except KeyError as exc:
            missing.append(f"{where}: {exc.args[0]}")
    assert missing == []


@pytest.mark.parametrize(("path", "named"), [
    (("wordnet", "effects", "B10"), "'B10' is not a key of wordnet/effects"),
    (("embedding", "pentachora", "cv_ratio"), "'cv_ratio' is not a key of embedding/pentachora"),
    (("weights", "trained", "qk", "summary", "decoder/cross", "seed", "pos"),
     "'pos' is not a key of weights/trained/qk/summary/decoder/cross/seed"),
    (("headline", "q_sparsty"), "'q_sparsty' is not a key of headline"),
])
def test_a_claim_path_not_in_the_layout_is_named(path: tuple[str, ...], named: str) -> None:
    problem = path_problem(TerrainResult, path)
    assert problem is not None and problem.startswith(named)
    assert "TerrainResult" in problem


def test_keyed_blocks_take_any_key_and_free_blocks_end_the_check() -> None:
    quantity = ("weights", "init_spread", "quantities", "q_sparsity/self_attn_q", "high")
    assert path_problem(TerrainResult, quantity) is None
    assert path_problem(TerrainResult, ("layers", "encoder", "per_layer")) is None
    assert path_problem(TerrainResult, ("provenance", "code", "files")) is None


@pytest.mark.parametrize(("path", "value", "says"), [
    (("model",), MISSING, "model: Field required"),
    (("wordnet", "effects", "fake_root", "fake_root_share"), MISSING,
     "wordnet/effects/fake_root/fake_root_share: Field required"),
    (("weights", "trained", "q_sparsity", "self_attn_q"), "0.9",
     "weights/trained/q_sparsity/self_attn_q: Input should be a valid number"),
    (("embedding", "vocab"), 99.0, "embedding/vocab: Input should be a valid integer"),
    (("embedding", "pentachora", "cv_vs_reference", "distinguishable"), "yes",
     "embedding/pentachora/cv_vs_reference/distinguishable: Input should be a valid boolean"),
    (("headline", "weights_measured"), "random",
     "headline/weights_measured: Input should be 'trained' or 'initialization'"),
    (("experiment",), "E11", "experiment: Input should be 'terrain'"),
])
def test_a_wrong_typed_or_missing_key_is_refused_naming_it(
        terrain_payload: dict[str, Any], path: tuple[str, ...], value: Any, says: str) -> None:
    problem = result_problem(changed(terrain_payload, path, value), "terrain")
    assert problem is not None and problem.startswith(says), problem
    assert problem.endswith("(the TerrainResult layout)")


def test_a_non_finite_number_is_refused(terrain_payload: dict[str, Any]) -> None:
    bad = changed(terrain_payload, ("embedding", "spectrum", "pr_over_dim"), float("nan"))
    assert result_problem(bad, "terrain").startswith("embedding/spectrum/pr_over_dim: ")
    # null is how a results file writes an undefined number: accepted
    assert result_problem(changed(terrain_payload, ("embedding", "spectrum", "pr_over_dim"), None),
                          "terrain") is None


def test_the_notebook_saves_a_fitting_payload_and_refuses_another(
        terrain_payload: dict[str, Any], tmp_path: Path) -> None:
    params = load_parameters(TINY, "terrain")
    run = Run(params, "terrain_tiny-t5", "embedded", True, 1, tmp_path / "r.json",
              tmp_path / "f.png")
    with pytest.raises(ValueError, match="terrain_tiny-t5: the results do not fit their "
                                         "layout: headline: Field required"):
        run.save(changed(terrain_payload, ("headline",), MISSING))
    assert not run.results_file.exists()
    assert run.save(terrain_payload) == run.results_file
    assert json.loads(run.results_file.read_text())["run"] == terrain_payload["run"]
