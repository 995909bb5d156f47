"""The results layouts of E11, E11-T and E08 (lib.attention.layout): what the protocol's steps
save fits; a key missing or of the wrong type is refused, naming it; every claim path of
lib/claims.yaml on an attention run is in its layout, and one that is not is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from payloads import MISSING, changed

from lib.attention import study, verdicts
from lib.attention.layout import E08Result, E11Result, E11TResult
from lib.attention.multiplicity import permutation_family
from lib.attention.parameters import (
    AttentionParameters,
    E08Parameters,
    PermutationNull,
    SeedNull,
)
from lib.attention.prompts import load_prompts
from lib.attention.specialization import gqa_group_metrics
from lib.attention.verdicts import SEED_NULL_MIN
from lib.claims import CLAIMS
from lib.layout import layout_of, path_problem, result_problem
from lib.notebook import Run
from lib.params import load_parameters, result_name
from lib.results import to_jsonable

LAYOUTS = {"E11": E11Result, "E11-T": E11TResult, "E08": E08Result}


def light(params: AttentionParameters) -> AttentionParameters:
    """`params` with the fewest init seeds and 100 permutations: the same keys, sooner."""
    return params.model_copy(update={"seed_null": SeedNull(n=SEED_NULL_MIN),
                                     "permutation_null": PermutationNull(n=100)})


@pytest.fixture(scope="module")
def e11(pair) -> dict[str, Any]:
    """An E11 payload of the keys its notebook saves, from the protocol's steps."""
    params, base, instruct = pair
    params = light(params)
    prompts = load_prompts(params.prompt_set)
    delta = study.compare_pair(params, base, instruct)
    return to_jsonable({
        "experiment": "E11", "run": params.run, "profile": params.profile,
        "description": params.description,
        "methodology": study.methodology(params, prompts, [base, instruct]),
        "base": base.block(), "instruct": instruct.block(), "delta": delta,
        "null_model": study.null_model(params, params.base, prompts,
                                       base.metrics["specialization_index"]),
        "verdict": study.collapse_verdict(base, instruct, delta).as_dict(),
        "pre_collapsed": verdicts.pre_collapsed(
            base.metrics["specialization_index"], base.metrics["mean_head_correlation"],
            delta["specialization_index"], base.si_ci, delta["si_ci"]).as_dict(),
        "cross_scale": None, "calibration": None, "trained_seed_null": None,
        "provenance": {}})


def as_e11t(pair, e11: dict[str, Any]) -> dict[str, Any]:
    """`e11` as E11-T saves a pair: each side's GQA group metrics, the MHA comparison."""
    _, base, instruct = pair
    kv = base.record["architecture"]["num_kv_heads"]
    payload = {k: v for k, v in e11.items() if k not in ("pre_collapsed", "cross_scale")}
    return to_jsonable({**payload, "experiment": "E11-T", "mha_comparison": None,
                        "base": {**e11["base"], "gqa": gqa_group_metrics(base.profile, kv)},
                        "instruct": {**e11["instruct"],
                                     "gqa": gqa_group_metrics(instruct.profile, kv)}})


@pytest.fixture(scope="module")
def e08() -> dict[str, Any]:
    """An E08 payload of the keys its notebook saves: one tiny model, measured."""
    params = load_parameters("parameters/embedded/E08_tiny-phi-references.yaml", "E08",
                             {"bootstrap": {"n": 50}})
    assert isinstance(params, E08Parameters)
    params = light(params)
    prompts = load_prompts(params.prompt_set)
    entry = params.models[0]
    run = study.measure_with_sanity_variants(params, entry.name, prompts)
    row = study.ladder_row(entry, run)
    verdict = study.ladder_verdict([row], params.si_target, params.si_tolerance)
    family = permutation_family({row["display"]: run.controls["head_permutation"]}, "the ladder")
    model = {**run.block(), "display": row["display"], "size_b": row["size_b"],
             "null_model": study.null_model(params, entry.name, prompts, row["si"])}
    return to_jsonable({
        "experiment": "E08", "run": params.run, "profile": params.profile,
        "description": params.description,
        "methodology": study.methodology(params, prompts, [run]), "models": {run.name: model},
        "references": [], "verdict": verdict.as_dict(), "trend": None, "multiplicity": family,
        "seed_spread": None, "provenance": {}})


def test_each_experiment_names_its_layout() -> None:
    assert {experiment: layout_of(experiment) for experiment in LAYOUTS} == LAYOUTS


def test_what_the_protocol_saves_fits(pair, e11: dict[str, Any], e08: dict[str, Any]) -> None:
    assert result_problem(e11, "E11") is None
    assert result_problem(as_e11t(pair, e11), "E11-T") is None
    assert result_problem(e08, "E08") is None
    # a pair payload is no ladder, and a ladder no pair
    assert result_problem(e11, "E08").startswith("models: Field required (the E08Result layout)")
    assert result_problem(e08, "E11").startswith("base: Field required (the E11Result layout)")


@pytest.mark.parametrize("path, value, problem", [
    (("base", "specialization_index"), "0.75", "base/specialization_index: Input should be a "
                                                "valid number"),
    (("delta", "si_ci_excludes_zero"), "yes", "delta/si_ci_excludes_zero: Input should be a "
                                              "valid boolean"),
    (("delta", "entropy_modes", "masked", "si_ci"), 0.1, "delta/entropy_modes/masked/si_ci: "
                                                          "Input should be a valid list"),
    (("verdict", "code"), MISSING, "verdict/code: Field required"),
    (("instruct", "controls", "head_permutation", "si"), MISSING,
     "instruct/controls/head_permutation/si: Field required"),
    (("methodology", "entropy_mode"), MISSING, "methodology/entropy_mode: Field required"),
])
def test_a_key_missing_or_of_the_wrong_type_is_refused_naming_it(
        e11: dict[str, Any], path: tuple[str, ...], value: Any, problem: str) -> None:
    assert result_problem(changed(e11, path, value), "E11") == (
        f"{problem} (the E11Result layout)")


def test_a_ladder_model_without_its_label_is_refused(e08: dict[str, Any]) -> None:
    [name] = e08["models"]
    assert result_problem(changed(e08, ("models", name, "display"), MISSING), "E08") == (
        f"models/{name}/display: Field required (the E08Result layout)")


def test_a_run_saves_only_what_fits(pair, e11: dict[str, Any], tmp_path: Path) -> None:
    params = pair[0]
    run = Run(params, result_name(params), params.profile, True, params.threads,
              tmp_path / "r.json", tmp_path / "r.png")
    with pytest.raises(ValueError, match=r"^E11_tiny-mqa: the results do not fit their layout: "
                                         r"verdict/code: Field required"):
        run.save(changed(e11, ("verdict", "code"), MISSING))
    assert not run.results_file.exists()
    assert run.save(e11) == run.results_file and run.results_file.is_file()


def test_every_claim_path_on_an_attention_run_is_in_its_layout() -> None:
    paths = [(c.result, c.field) for c in CLAIMS if c.result and c.field]
    paths += [(c.baseline.result, c.baseline.field) for c in CLAIMS
              if c.baseline is not None and c.baseline.result and c.baseline.field]
    ours = [(result.split("/")[1].split("_")[0], tuple(field)) for result, field in paths
            if result.split("/")[1].split("_")[0] in LAYOUTS]
    assert {experiment for experiment, _ in ours} == {"E11", "E08"}  # the paper's claims
    assert [(e, f) for e, f in ours if path_problem(LAYOUTS[e], f) is not None] == []


@pytest.mark.parametrize("experiment, path, problem", [
    ("E11", ("base", "specialisation_index"),
     "'specialisation_index' is not a key of base in the E11Result layout"),
    ("E11", ("verdict", "as_executed", "verdict"),
     "'verdict' is not a key of verdict/as_executed in the E11Result layout"),
    ("E11-T", ("pre_collapsed", "code"), "'pre_collapsed' is not a key of the top in the "
                                         "E11TResult layout"),
    ("E08", ("models", "any/model", "controls", "head_permutation", "sii"),
     "'sii' is not a key of models/any/model/controls/head_permutation in the E08Result layout"),
])
def test_a_claim_path_outside_the_layout_is_named(experiment: str, path: tuple[str, ...],
                                                  problem: str) -> None:
    assert path_problem(LAYOUTS[experiment], path) == problem
