"""Values a parameter file could once give that failed minutes later (or trained into NaN): each is
now refused at load, in one line naming the file and the key, before any model loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lib.params import ParameterError, load_parameters

TERRAIN = {"experiment": "terrain", "run": "x", "profile": "embedded", "model": "tiny/t5"}
MODULATOR = {"experiment": "modulator", "run": "x", "profile": "embedded", "model": "tiny/t5"}


def _error(tmp_path: Path, keys: dict) -> str:
    """Write `keys` as <tmp>/parameters/<profile>/<experiment>_<run>.yaml; its one-line error."""
    path = tmp_path / "parameters" / keys["profile"] / f"{keys['experiment']}_{keys['run']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(keys))
    with pytest.raises(ParameterError) as err:
        load_parameters(path, keys["experiment"])
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


# ------------------------------------------------------------------ non-finite numbers, LR


@pytest.mark.parametrize("text, key", [
    ("training: {lr: .inf}", "training.lr"),
    ("field: {training: {lr: .inf}}", "field.training.lr"),
    ("training: {lr: .nan}", "training.lr"),
    ("pipeline: {temperature: .inf}", "pipeline.temperature"),
    ("field: {alpha_max: .nan}", "field.alpha_max"),
])
def test_inf_and_nan_are_refused_for_every_float_key(tmp_path: Path, text: str, key: str) -> None:
    keys = MODULATOR | yaml.safe_load(text)  # YAML's own .inf / .nan, as a file would write them
    message = _error(tmp_path, keys)
    assert re.search(rf"{re.escape(key)}: (inf|nan) is not a finite number", message), message


def test_inf_is_refused_in_the_other_experiments_too(tmp_path: Path) -> None:
    message = _error(tmp_path, TERRAIN | {"weights": {"thresholds": [0.1, float("inf")]}})
    assert "weights.thresholds[1]: inf is not a finite number" in message


@pytest.mark.parametrize("keys, expected", [
    ({"training": {"lr": 1e30}}, "training.lr: 1e+30 is above the maximum 1"),
    ({"field": {"training": {"lr": 5.0}}}, "field.training.lr: 5.0 is above the maximum 1"),
    ({"training": {"lr": 0.0}}, "training.lr: 0.0 must be greater than 0"),
    ({"training": {"weight_decay": 100.0}}, "training.weight_decay: 100.0 is above the maximum 1"),
    ({"field": {"gradient_scale": 100.0, "training": {"lr": 0.1}}},
     "training.lr x gradient_scale (0.1 x 100) is the experts' learning rate and exceeds 1"),
])
def test_learning_rates_lie_in_a_sane_range(tmp_path: Path, keys: dict, expected: str) -> None:
    assert expected in _error(tmp_path, MODULATOR | keys)


# ---------------------------------------------------------------------------- modulator


def test_modulator_n_rel_below_three_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, MODULATOR | {"evaluation": {"n_rel": 2}})
    assert "evaluation.n_rel: 2 is below the minimum 3" in message


@pytest.mark.parametrize("max_items, n_anchor", [(600, 600), (602, 600)])
def test_disjoint_evaluation_needs_lemmas_beyond_the_anchors(tmp_path: Path, max_items: int,
                                                             n_anchor: int) -> None:
    keys = MODULATOR | {"max_items": max_items, "pipeline": {"n_anchor": n_anchor}}
    message = _error(tmp_path, keys)
    assert (f"max_items ({max_items}) leaves {max_items - n_anchor} lemmas beyond "
            f"pipeline.n_anchor ({n_anchor}) to evaluate on, and eval_disjoint_from_anchors "
            "needs at least 3") in message
    path = tmp_path / "parameters" / "embedded" / "modulator_x.yaml"
    path.write_text(yaml.safe_dump(keys | {"eval_disjoint_from_anchors": False}))
    load_parameters(path, "modulator")  # evaluating on the anchors (B8 as executed) is fine


@pytest.mark.parametrize("model", ["Qwen/Qwen3.5-0.8B", "meta-llama/Llama-3.1-8B",
                                   "tiiuae/falcon-7b", "microsoft/phi-2",
                                   "facebook/dinov2-large"])
def test_a_hub_model_without_a_text_encoder_is_refused_from_its_preset(tmp_path: Path,
                                                                      model: str) -> None:
    message = _error(tmp_path, MODULATOR | {"model": model, "profile": "paper"})
    assert f"model: {model} has no text encoder to modulate" in message


def test_hub_encoders_and_unknown_hub_ids_still_load(tmp_path: Path) -> None:
    for model in ("google-t5/t5-small", "google-bert/bert-large-uncased", "someone/unknown"):
        path = tmp_path / "parameters" / "paper" / "modulator_x.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(MODULATOR | {"model": model, "profile": "paper"}))
        assert load_parameters(path, "modulator").model == model


def test_k_neighbors_beyond_the_anchors_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, MODULATOR | {"pipeline": {"n_anchor": 32, "n_geo": 8,
                                                         "k_neighbors": 40}})
    assert "k_neighbors (40) exceeds n_anchor (32)" in message
