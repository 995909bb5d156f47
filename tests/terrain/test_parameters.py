"""The terrain experiment's parameter model: sections switched on by their blocks, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lib.params import ParameterError, available, load_parameters
from lib.terrain.parameters import SECTIONS
from lib.terrain.weights.battery import THRESHOLDS

MIN = {"experiment": "terrain", "run": "x", "profile": "embedded", "model": "tiny/t5"}


def _write(tmp_path: Path, keys: dict) -> Path:
    path = tmp_path / "parameters" / "embedded" / f"terrain_{keys['run']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(keys))
    return path


def _error(path: Path) -> str:
    with pytest.raises(ParameterError) as err:
        load_parameters(path, "terrain")
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("path", [p for p in available() if "/terrain_" in p])
def test_every_terrain_file_loads_with_a_section(path: str) -> None:
    params = load_parameters(path, "terrain")
    assert any(params[s] for s in SECTIONS)


def test_sections_take_the_seeds_defaults(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, {**MIN, "wordnet": {"stability": {}},
                                               "weights": {}}), "terrain")
    wn = params["wordnet"]
    assert (wn["seed"], wn["n_rel"], wn["n_pairs"], wn["n_simplices"]) == (42, 3000, 500_000, 1000)
    assert wn["stability"] == {"n_seeds": 50, "n_rel": 2000, "n_pairs": 200_000,
                               "n_simplices": 500, "n_chains": 1000}
    assert params["weights"]["thresholds"] == list(THRESHOLDS)
    assert params["embedding"] is None and params["projection"] is None


def test_no_section_is_an_error(tmp_path: Path) -> None:
    assert _error(_write(tmp_path, MIN)).endswith(
        "give at least one section: embedding, layers, wordnet, weights, projection")


def test_unknown_section_key_and_initialization(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, {**MIN, "wordnet": {"n_pair": 5}}))
    assert "wordnet.n_pair: unknown key" in message
    message = _error(_write(tmp_path, {**MIN, "model": "init/t5-smal",
                                       "weights": {"trained": False, "init_baseline": True}}))
    assert "model: unknown initialization 'init/t5-smal'; known: init/t5-small" in message
    message = _error(_write(tmp_path, {**MIN, "model": "init/t5-small", "weights": {}}))
    assert "is an initialization only" in message


def test_unknown_registry_model_fails_before_any_load(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, {**MIN, "model": "tiny/t6", "weights": {}}))
    assert "model: unknown model 'tiny/t6'" in message


def test_encoder_sections_on_a_decoder_are_refused_before_any_load(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, {**MIN, "model": "embedded/smollm2-135m-instruct",
                                       "wordnet": {}}))
    assert "wordnet: embedded/smollm2-135m-instruct has no text encoder to run" in message
    load_parameters(_write(tmp_path, {**MIN, "model": "embedded/smollm2-135m-instruct",
                                      "weights": {}}), "terrain")  # the battery needs none


def test_init_seeds_spread_an_initialization_baseline(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, {**MIN, "weights": {}, "embedding": {}}), "terrain")
    assert params["weights"]["init_seeds"] == 1 and params["embedding"]["init_seeds"] == 0
    assert params["weights"]["init_spread_qk"] is True
    message = _error(_write(tmp_path, {**MIN, "weights": {"init_seeds": 5}}))
    assert "init_seeds: 5 spreads the initialization baseline: set init_baseline: true" in message
    message = _error(_write(tmp_path, {**MIN, "weights": {"init_baseline": True,
                                                           "init_seeds": 0}}))
    assert "give 1 or more" in message
    message = _error(_write(tmp_path, {**MIN, "embedding": {"init_seeds": 3,
                                                             "init_quantities": ["pr"]}}))
    assert "'pr': list some of spectrum/pr_over_dim" in message
    assert "above the maximum 100" in _error(_write(tmp_path, {**MIN, "embedding": {
        "init_seeds": 101}}))
