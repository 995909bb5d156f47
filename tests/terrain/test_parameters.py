"""The terrain experiment's parameter model: sections switched on by their blocks, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lib.params import (
    MAX_PAIRS,
    MAX_SIMPLICES,
    WORDNET_LEMMAS,
    ParameterError,
    available,
    load_parameters,
)
from lib.terrain.parameters import (
    MAX_PAIRWISE_ROWS,
    SECTIONS,
    WORDNET_SYNSETS,
    TerrainParameters,
)
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
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


@pytest.mark.parametrize("path", [p for p in available() if "/terrain_" in p])
def test_every_terrain_file_loads_with_a_section(path: str) -> None:
    params = load_parameters(path, "terrain")
    assert isinstance(params, TerrainParameters)
    assert any(getattr(params, s) is not None for s in SECTIONS)


def test_sections_take_the_seeds_defaults(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, {**MIN, "wordnet": {"stability": {}},
                                               "weights": {}}), "terrain")
    assert isinstance(params, TerrainParameters) and params.wordnet and params.weights
    wn = params.wordnet
    assert (wn.seed, wn.n_rel, wn.n_pairs, wn.n_simplices) == (42, 3000, 500_000, 1000)
    assert wn.stability is not None and wn.stability.model_dump() == {
        "n_seeds": 50, "n_rel": 2000, "n_pairs": 200_000, "n_simplices": 500, "n_chains": 1000}
    assert params.weights.thresholds == list(THRESHOLDS)
    assert params.embedding is None and params.projection is None


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
    assert isinstance(params, TerrainParameters) and params.weights and params.embedding
    assert params.weights.init_seeds == 1 and params.embedding.init_seeds == 0
    assert params.weights.init_spread_qk is True
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


# values a file could once give that failed minutes later: refused at load, naming the key


def test_thresholds_must_hold_the_q_sparsity_threshold(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, MIN | {"weights": {"thresholds": [1e-4, 1e-3, 1e-2]}}))
    assert "weights.thresholds: must include 0.1 (the \"Q sparsity\" share" in message


def test_trained_false_needs_the_init_baseline(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, MIN | {"weights": {"trained": False}}))
    assert ("weights: trained: false with init_baseline: false measures nothing: set "
            "init_baseline: true") in message


@pytest.mark.parametrize("section", ["wordnet", "stability"])
def test_n_rel_below_three_is_refused(tmp_path: Path, section: str) -> None:
    block = {"n_rel": 2} if section == "wordnet" else {"stability": {"n_rel": 2}}
    key = "wordnet.n_rel" if section == "wordnet" else "wordnet.stability.n_rel"
    message = _error(_write(tmp_path, MIN | {"wordnet": block}))
    assert f"{key}: 2 is below the minimum 3 (2 lemmas give at most one WordNet similarity" \
        in message


@pytest.mark.parametrize("model", ["random/tiny/t5", "random/google-t5/t5-small"])
def test_random_models_are_refused_in_terrain(tmp_path: Path, model: str) -> None:
    inner = model.removeprefix("random/")
    message = _error(_write(tmp_path, MIN | {"model": model, "weights": {}}))
    assert (f"model: {model} is an architecture at random initialization, which terrain does not "
            f"measure (it reads real weights): use {inner} itself") in message
    message = _error(_write(tmp_path, MIN | {"projection": {"source": model}}))
    assert f"projection.source: {model} is an architecture at random initialization" in message


@pytest.mark.parametrize("keys, expected", [
    ({"embedding": {"n_simplices": 10**10}},
     f"embedding.n_simplices: 10,000,000,000 is above the maximum {MAX_SIMPLICES:,}"),
    ({"wordnet": {"n_pairs": 10**12}},
     f"wordnet.n_pairs: 1,000,000,000,000 is above the maximum {MAX_PAIRS:,}"),
    ({"wordnet": {"stability": {"n_pairs": 10**12}}},
     f"wordnet.stability.n_pairs: 1,000,000,000,000 is above the maximum {MAX_PAIRS:,}"),
    ({"wordnet": {"n_rel": 10**6}},
     f"wordnet.n_rel: 1,000,000 is above the maximum {WORDNET_LEMMAS:,} (the distinct lemma "
     "names of WordNet 3.0"),
    ({"wordnet": {"stability": {"n_chains": 10**6}}},
     f"wordnet.stability.n_chains: 1,000,000 is above the maximum {WORDNET_SYNSETS:,}"),
    ({"wordnet": {"stability": {"n_seeds": 10**9}}},
     "wordnet.stability.n_seeds: 1,000,000,000 is above the maximum 1,000"),
    ({"embedding": {"n_cosine": 10**6}},
     f"embedding.n_cosine: 1,000,000 is above the maximum {MAX_PAIRWISE_ROWS:,} (all n(n-1)/2"),
    ({"embedding": {"n_pca": 10**9}}, "embedding.n_pca: 1,000,000,000 is above the maximum"),
    ({"projection": {"source": "tiny/t5", "n_test": 1}},
     "projection.n_test: 1 is below the minimum 2"),
])
def test_absurd_terrain_sizes_are_refused(tmp_path: Path, keys: dict, expected: str) -> None:
    assert expected in _error(_write(tmp_path, MIN | keys))


def test_the_seeds_sizes_still_load(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, MIN | {
        "embedding": {}, "wordnet": {"stability": {}},
        "weights": {"trained": False, "init_baseline": True}}), "terrain")
    assert isinstance(params, TerrainParameters) and params.wordnet and params.embedding
    assert params.wordnet.n_pairs == 500_000 and params.embedding.n_simplices == 1000
