"""lib.modulator.parameters: the modulator's parameter files load, defaults are the owners',
bad keys give one line; lib.modulator.study's checks refuse a causal LM and missing layers."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml

from lib.claims import CLAIMS, RESOLUTIONS, lookup
from lib.modulator import pipeline
from lib.modulator.field import PHASE_BOUNDARY, FieldModulatorConfig
from lib.modulator.generation import SWEEP_ALPHAS
from lib.modulator.parameters import ModulatorParameters
from lib.modulator.train import TrainConfig
from lib.params import ParameterError, load_parameters

FILES = {
    "embedded": ("modulator_minilm", "modulator_tiny-t5"),
    "paper": ("modulator_t5-small-as-executed", "modulator_t5-small-corrected"),
}
MINIMAL = {"experiment": "modulator", "run": "x", "profile": "embedded", "model": "tiny/t5"}


def _write(tmp_path: Path, keys: dict) -> Path:
    path = tmp_path / "parameters" / keys["profile"] / f"modulator_{keys['run']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(keys))
    return path


def _error(path: Path) -> str:
    with pytest.raises(ParameterError) as err:
        load_parameters(path, "modulator")
    assert "\n" not in str(err.value), "errors are one line"
    return str(err.value)


@pytest.mark.parametrize("profile, name", [(p, n) for p, names in FILES.items() for n in names])
def test_the_repository_files_load(profile: str, name: str) -> None:
    params = load_parameters(f"parameters/{profile}/{name}.yaml", "modulator")
    assert (params.experiment, params.profile) == ("modulator", profile)
    assert f"modulator_{params.run}" == name
    if profile == "paper":
        assert params.model == "google-t5/t5-small" and params.max_items is None
        assert params.resources.model_dump() == {"gpu": 1, "gpu_memory_gb": 16, "mem_mb": 32000,
                                       "runtime": 120}


def test_as_executed_and_corrected_differ_exactly_in_the_defect_switches() -> None:
    executed = load_parameters("parameters/paper/modulator_t5-small-as-executed.yaml")
    corrected = load_parameters("parameters/paper/modulator_t5-small-corrected.yaml")
    switches = {"seed_faithful", "eval_disjoint_from_anchors", "unmatched_rows_seed"}
    ignore = {"run", "description", "parameter_file", "parameter_sha256"}
    differ = {k for k in type(executed).model_fields
              if k not in ignore and getattr(executed, k) != getattr(corrected, k)}
    assert differ == switches
    assert (executed.seed_faithful, executed.eval_disjoint_from_anchors,
            executed.unmatched_rows_seed) == (True, False, None)
    assert corrected.seed_faithful is False and corrected.eval_disjoint_from_anchors
    assert isinstance(corrected.unmatched_rows_seed, int)


def test_defaults_are_the_seeds_from_the_owning_modules(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, MINIMAL), "modulator")
    train = TrainConfig()
    for key in ("epochs", "batch_size", "lr", "weight_decay", "clip", "max_input_len",
                "max_target_len", "val_fraction", "alpha_every", "seed", "max_steps"):
        assert getattr(params.training, key) == getattr(train, key), key
    field = FieldModulatorConfig()
    assert params.field.expert_ks == list(field.expert_ks)
    assert params.field.alpha_max == field.alpha_max
    assert params.sweep.alphas == list(SWEEP_ALPHAS)
    # the §8 and evaluation sizes are the pipeline's keyword defaults (kept in step by hand)
    build = inspect.signature(pipeline.procrustes_modulator).parameters
    for key in ("n_anchor", "n_geo", "seed", "k_neighbors", "temperature", "scale_factor",
                "initial_alpha"):
        assert getattr(params.pipeline, key) == build[key].default, key
    evaluate = inspect.signature(pipeline.evaluate_modulator).parameters
    for key in ("seed", "n_rel", "n_pairs", "similarity", "n_simplices", "n_boot"):
        assert getattr(params.evaluation, key) == evaluate[key].default, key
    assert params.layers is None and params.eval_disjoint_from_anchors is True


def test_sections_switch_off_with_null(tmp_path: Path) -> None:
    keys = MINIMAL | {"training": None, "field": None, "generation": None, "sweep": None}
    params = load_parameters(_write(tmp_path, keys), "modulator")
    assert all(getattr(params, k) is None for k in ("training", "field", "generation", "sweep"))


@pytest.mark.parametrize("keys, expected", [
    ({"trainig": {}}, r"trainig: unknown key \(known: .*training.*\)"),
    ({"training": {"epoch": 2}}, r"training\.epoch: unknown key \(known: epochs, "),
    ({"field": {"training": {"lr": "0.001"}}}, r"field\.training\.lr: expected a number"),
    ({"max_items": 3}, r"max_items: 3 is below the minimum 5"),
    ({"layers": [-1]}, r"layers\[0\]: -1 is below the minimum 0"),
    ({"pipeline": {"n_anchor": 64, "n_geo": 64}}, r"n_geo \(64\) must be smaller than n_anchor"),
    ({"max_items": 100}, r"pipeline.n_anchor \(3000\) exceeds max_items \(100\)"),
    ({"evaluation": {"similarity": "lch"}}, r"evaluation\.similarity: 'lch' is not one of"),
    ({"dtype": "float33"}, r"dtype: .*float33"),
    ({"evaluation": {"n_boot": 0}}, r"evaluation\.n_boot: 0 is below the minimum 1"),
    ({"model": "tiny/t6"}, r"model: unknown model 'tiny/t6'"),
    ({"field": {"expert_ks": [1, 1, 2]}},  # once one expert gated twice, with two alphas
     r"field\.expert_ks: 1 is listed twice \(\[1, 1, 2\]\): give each value once"),
    ({"pipeline": {"scale_factor": 1e30}}, r"pipeline\.scale_factor: 1e\+30 is above the "
     r"maximum 100 \(the §8 target's norm in units of the encoder's mean representation norm"),
])
def test_bad_keys_give_one_line(tmp_path: Path, keys: dict, expected: str) -> None:
    message = _error(_write(tmp_path, MINIMAL | keys))
    assert message.startswith(str(tmp_path))
    assert re.search(expected, message), message


def test_claims_name_fields_the_notebook_writes() -> None:
    """Each modulator claim points at the as-executed or corrected paper run, and its field path
    exists in a payload laid out as the notebook writes it (study.headline's inputs)."""
    mod = [c for c in CLAIMS if c.id.startswith("modulator.")]
    assert mod and all(c.result in ("paper/modulator_t5-small-as-executed",
                                    "paper/modulator_t5-small-corrected") for c in mod)
    relational = {"sets": {name: {"pearson": 0.1, "gradient": 0.2, "relative_lift_pearson": 0.3,
                                  "relative_lift_spearman": 0.4}
                           for name in ("Procrustes", "Trained")}}
    payload = {
        "procrustes": {"evaluation": {"relational": relational, "preservation": {"mean": 0.9}}},
        "trained": {"evaluation": {"relational": relational},
                    "train": {"alpha_monotonic_increasing_with_depth": True}},
        "field": {"params": 38},
        "alpha_sweep": {"by_alpha": {"0.5": {"pearson": 0.1, "gradient": 0.2,
                                             "preservation": 0.3}},
                        "phase_boundary": PHASE_BOUNDARY},
    }
    for claim in mod:
        assert isinstance(lookup(payload, claim.field), float | int | bool), claim.id
    defects = {r.get("defect") for r in RESOLUTIONS}
    assert {"B7", "B8", "B9", "B11", "B12"} <= defects
    lift = next(r for r in RESOLUTIONS if "152" in r["topic"])
    assert "(r_mod - r_orig) / r_orig" in lift["taken"] and lift["as_executed"]


def test_model_registers_under_its_experiment_name() -> None:
    from lib.params import experiments

    assert experiments()["modulator"] is ModulatorParameters


def test_a_model_without_an_encoder_is_refused_before_any_load(tmp_path: Path) -> None:
    for name in ("tiny/qwen", "embedded/gemma-3-270m"):
        message = _error(_write(tmp_path, {**MINIMAL, "model": name}))
        assert f"model: {name} has no text encoder to modulate" in message
