"""Parameter files: typed models per experiment, defaults, one-line errors naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
import yaml
from hang import HANG_S

from lib import params as params_module
from lib.attention.entropy import MODES
from lib.attention.parameters import E11Parameters
from lib.attention.stats import BOOTSTRAP_CI, BOOTSTRAP_N, BOOTSTRAP_SEED, SEEDS
from lib.models import known_models
from lib.models.base import QUANTIZATIONS
from lib.params import (
    EXPERIMENTS,
    LOADER_KEYS,
    ParameterError,
    RunParameters,
    available,
    experiments,
    load_parameters,
    register,
    result_name,
)
from lib.paths import ROOT, shown

E11_MIN = {"experiment": "E11", "run": "x", "profile": "embedded", "base": "tiny/llama-gqa",
           "instruct": "tiny/llama-gqa-instruct"}
E08_MIN = {"experiment": "E08", "run": "x", "profile": "embedded",
           "models": [{"name": "tiny/phi"}]}


def _write(tmp_path: Path, keys: dict, name: str | None = None,
           folder: str = "embedded") -> Path:
    """A parameter file laid out as <tmp>/parameters/<folder>/<experiment>_<run>.yaml."""
    path = tmp_path / "parameters" / folder / (name or f"{keys['experiment']}_{keys['run']}.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(keys))
    return path


def _error(path: Path, experiment: str | None = None, overrides: dict | None = None) -> str:
    with pytest.raises(ParameterError) as err:
        load_parameters(path, experiment, overrides)
    message = str(err.value)
    assert "\n" not in message, "errors are one line"
    return message


# ------------------------------------------------------------------ the repository's files


@pytest.mark.parametrize("path", available())
def test_every_parameter_file_in_the_repository_loads(path: str) -> None:
    experiment = Path(path).name.split("_", 1)[0]
    params = load_parameters(path, experiment)
    assert isinstance(params, EXPERIMENTS[experiment])  # the model, read by attribute
    assert params.profile == Path(path).parent.name
    assert result_name(params) == Path(path).stem, "file name must be <experiment>_<run>.yaml"
    assert params.parameter_file == path and len(params.parameter_sha256) == 64
    # the dump is a fixed point: validating it again gives the same dict
    plain = params.model_dump(exclude=set(LOADER_KEYS))
    again = EXPERIMENTS[experiment].model_validate(plain, context={"folder": None})
    assert again.model_dump(exclude=set(LOADER_KEYS)) == plain


def test_paper_falcon_and_phi_load_with_native_classes() -> None:
    files = [a for a in available() if a.startswith("parameters/paper/")]
    checked = 0
    for path in files:
        params = load_parameters(path)
        names = [getattr(params, "base", None), getattr(params, "instruct", None)]
        names += [m.name for m in getattr(params, "models", [])]
        if any(n and ("falcon" in n.lower() or "phi" in n.lower()) for n in names):
            assert params.trust_remote_code is False, path
            checked += 1
    assert checked == 4  # Falcon-7B, Falcon-40B, the Phi ladder, the Phi-3 references


@pytest.mark.integration
def test_validating_every_file_loads_no_transformers() -> None:
    """Validation is cheap by construction: a fresh interpreter validates every file without
    importing transformers (its import alone is seconds); `make bench` is where time is measured."""
    code = (
        "import sys\n"
        "from lib.params import available, load_parameters\n"
        "files = available()\n"
        "for a in files: load_parameters(a)\n"
        "print(len(files), 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=HANG_S, check=True)
    count, transformers = out.stdout.split()
    assert int(count) == len(available()) > 30
    assert transformers == "False"


# ---------------------------------------------------------------------------- defaults


def test_defaults_are_the_e11_v3_protocol_from_the_owning_modules(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, E11_MIN), "E11")
    assert params.max_length == 128 and params.dtype == "bfloat16"
    assert params.seeds == list(SEEDS) and params.entropy_mode == "masked"
    assert params.bootstrap.model_dump() == {"n": BOOTSTRAP_N, "seed": BOOTSTRAP_SEED,
                                             "ci": BOOTSTRAP_CI}
    assert params.use_chat_template is False and params.cross_scale is None
    assert params.resources.model_dump() == {"gpu": 0, "gpu_memory_gb": 0, "mem_mb": 8000,
                                             "runtime": 30}
    assert params.parameter_overrides == {}


def test_bootstrap_sub_keys_default_individually(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, {**E11_MIN, "bootstrap": {"n": 100}}), "E11")
    assert params.bootstrap.model_dump() == {"n": 100, "seed": BOOTSTRAP_SEED,
                                             "ci": BOOTSTRAP_CI}


def test_ladder_entries_keep_only_the_keys_given(tmp_path: Path) -> None:
    keys = {**E08_MIN, "models": [{"name": "tiny/phi"}, {"name": "tiny/phi3", "size_b": 2}]}
    params = load_parameters(_write(tmp_path, keys), "E08")
    assert [m.model_dump() for m in params.models] == [{"name": "tiny/phi"},
                                                       {"name": "tiny/phi3", "size_b": 2.0}]


def test_overrides_apply_last_and_are_recorded(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, E11_MIN), "E11", {"seeds": [7]})
    assert params.seeds == [7] and params.parameter_overrides == {"seeds": [7]}


def test_choices_are_the_owning_modules_constants(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, {**E11_MIN, "entropy_mode": "maskd"}))
    assert message.startswith(f"{shown(tmp_path)}/parameters/embedded/E11_x.yaml: entropy_mode: "
                              "'maskd' is not one of ")
    assert all(f"'{m}'" in message for m in MODES)
    message = _error(_write(tmp_path, {**E11_MIN, "quantization": "3bit"}))
    assert all(f"'{q}'" in message for q in QUANTIZATIONS)


# --------------------------------------------------------------- missing and unknown keys


@pytest.mark.parametrize("keys, expected", [
    ({k: v for k, v in E11_MIN.items() if k != "instruct"}, "instruct: field required"),
    ({**E11_MIN, "cross_scale": {"claim": "falcon7b"}}, "cross_scale.run: field required"),
    ({**E08_MIN, "models": [{"display": "no name"}]}, "models[0].name: field required"),
    ({**E11_MIN, "cross_scale": {"run": "E11_x", "claimm": "falcon7b"}},
     "cross_scale.claimm: unknown key (known: run, claim)"),
    ({**E11_MIN, "resources": {"gpus": 1}},
     "resources.gpus: unknown key (known: gpu, gpu_memory_gb, mem_mb, runtime)"),
    ({**E11_MIN, "bootstrap": {"n": 100, "sed": 1}},
     "bootstrap.sed: unknown key (known: n, seed, ci)"),
    ({**E08_MIN, "models": [{"name": "tiny/phi", "size": 1}]},
     "models[0].size: unknown key (known: name, display, size_b, family)"),
])
def test_missing_and_unknown_keys_at_any_depth(tmp_path: Path, keys: dict, expected: str) -> None:
    path = _write(tmp_path, keys)
    assert _error(path) == f"{shown(path)}: {expected}"


def test_unknown_top_level_key_lists_the_experiments_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "entropy": "masked"})
    known = ", ".join(E11Parameters.model_fields)
    assert _error(path) == f"{shown(path)}: entropy: unknown key (known: {known})"


# ------------------------------------------------------------------- types and ranges


@pytest.mark.parametrize("keys, expected", [
    ({"seeds": 42}, "seeds: expected a list, got 42 (int)"),
    ({"seeds": [42, "123"]}, "seeds[1]: expected an integer, got '123' (str)"),
    ({"seeds": []}, "seeds: must not be empty"),
    ({"max_length": "128"}, "max_length: expected an integer, got '128' (str)"),
    ({"max_length": 128.0}, "max_length: expected an integer, got 128.0 (float)"),
    ({"max_length": 1}, "max_length: 1 is below the minimum 2"),
    ({"trust_remote_code": "no"}, "trust_remote_code: expected true or false, got 'no' (str)"),
    ({"bootstrap": {"n": 0}}, "bootstrap.n: 0 is below the minimum 1"),
    ({"bootstrap": {"ci": 1.0}}, "bootstrap.ci: 1.0 must be less than 1"),
    ({"bootstrap": 100}, "bootstrap: expected a mapping, got 100 (int)"),
    ({"dtype": "bf16"},
     "dtype: unknown dtype 'bf16'; use e.g. 'bfloat16', 'float16', 'float32'"),
    ({"seeds": [1, 1, 2]}, "seeds: 1 is listed twice ([1, 1, 2]): give each value once"),
])
def test_wrong_types_and_out_of_range_values(tmp_path: Path, keys: dict, expected: str) -> None:
    path = _write(tmp_path, {**E11_MIN, **keys})
    assert _error(path) == f"{shown(path)}: {expected}"


def test_several_problems_are_listed_on_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "seeds": 42, "max_length": 1})
    assert _error(path) == (f"{shown(path)}: max_length: 1 is below the minimum 2; "
                            "seeds: expected a list, got 42 (int)")


def test_bad_run_characters(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "run": "a b"})
    assert _error(path) == f"{shown(path)}: run: 'a b' must be letters, digits, '-', '_' or '.'"


def test_a_run_name_that_would_overflow_a_file_name_is_refused(tmp_path: Path) -> None:
    """`<experiment>_<run>.json` and its temporary `.<name>.<random>.tmp` must fit in the file
    system's 255 bytes: a 235-character run once failed at figure save, after the computation."""
    assert len(f".E11-T_{'r' * params_module.MAX_RUN_NAME}.json.abcdefgh.tmp") < 255
    path = _write(tmp_path, {**E11_MIN, "run": "r" * 235})
    assert _error(path) == (
        f"{shown(path)}: run: 235 characters, above the maximum {params_module.MAX_RUN_NAME} (the "
        "run names result, figure and temporary files, `.<experiment>_<run>.json.<random>.tmp`, "
        "and a file name has at most 255 bytes): shorten it")
    path = _write(tmp_path, {**E11_MIN, "run": "r" * params_module.MAX_RUN_NAME})
    assert load_parameters(path).run == "r" * params_module.MAX_RUN_NAME


# ------------------------------------------------------------------------ the YAML itself


def _write_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "parameters" / "embedded" / "E11_x.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(E11_MIN) + text)
    return path


def test_an_alias_bomb_is_refused_in_one_short_line(tmp_path: Path) -> None:
    """400 bytes of nested aliases once expanded into a 226 MB error message."""
    levels = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 8))
    path = _write_text(tmp_path, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                       + levels + f"description: [{', '.join(['*l7'] * 9)}]\n")
    line = len(yaml.safe_dump(E11_MIN).splitlines()) + 1
    assert _error(path) == (f"{shown(path)}: line {line}, column 5: anchors and aliases are "
                            "refused (&l0): write the value out in full")


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = _write_text(tmp_path, "base: tiny/phi\n")
    assert _error(path).startswith(f"{shown(path)}: line 6, column 1: key 'base' is given twice "
                                   "(first on line 1)")


def test_exponents_without_a_dot_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 (PyYAML) read `1e30` as a string; the parameter files follow YAML 1.2."""
    path = _write_text(tmp_path, "bootstrap: {ci: 1e-1}\n")
    assert load_parameters(path).bootstrap.ci == 0.1
    path = _write_text(tmp_path, "bootstrap: {ci: 1e30}\n")
    assert _error(path) == f"{shown(path)}: bootstrap.ci: 1e+30 must be less than 1"


def test_a_file_that_is_not_utf8_is_refused_as_such(tmp_path: Path) -> None:
    path = _write_text(tmp_path, "")
    path.write_bytes(path.read_bytes() + "description: caf\xe9\n".encode("latin-1"))
    offset = path.read_bytes().index(b"\xe9")
    assert _error(path) == (f"{shown(path)}: not UTF-8 text (byte 0xe9 at position {offset}): "
                            "save it as UTF-8")


# ------------------------------------------------------------------------ registry names


def test_unknown_tiny_name_is_found_before_any_model_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "instruct": "tiny/llama-gqa-instruc"})
    assert _error(path) == (
        f"{shown(path)}: instruct: unknown model 'tiny/llama-gqa-instruc' (did you mean "
        f"'tiny/llama-gqa-instruct'?); known tiny/embedded models: {', '.join(known_models())}")


def test_unknown_embedded_name_in_a_ladder(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E08_MIN, "models": [{"name": "embedded/gemma-3-270"}]})
    assert _error(path).startswith(
        f"{shown(path)}: models[0].name: unknown model 'embedded/gemma-3-270' (did you mean "
        "'embedded/gemma-3-270m'?); known tiny/embedded models: embedded/")


def test_hub_ids_are_not_checked_offline(tmp_path: Path) -> None:
    keys = {**E11_MIN, "base": "tiiuae/falcon-7b", "instruct": "tiiuae/falcon-7b-instruct"}
    assert load_parameters(_write(tmp_path, keys), "E11").base == "tiiuae/falcon-7b"


def test_unknown_claims_are_named(tmp_path: Path) -> None:
    mha = _write(tmp_path, {**E11_MIN, "run": "tiny-mha"})
    keys = {**E11_MIN, "experiment": "E11-T", "mha_reference": {"run": mha.stem,
                                                                 "claim": "mistral8b"}}
    message = _error(_write(tmp_path, keys))
    assert "mha_reference.claim: unknown claim group 'mistral8b' (known: " in message
    assert "mistral7b" in message
    keys = {**E08_MIN, "references": {"run": "E08_x", "published": [
        {"claim": "phi3mini.sj", "display": "d", "size_b": 3.8, "kind": "MHA"}]}}
    message = _error(_write(tmp_path, keys))
    assert message.endswith("references.published[0].claim: unknown claim 'phi3mini.sj'; "
                            "close ids in lib/claims.yaml: phi3mini.si, phi3medium.si")


# -------------------------------------------------------------------------- reference runs


def test_reference_run_must_be_defined_in_the_same_folder(tmp_path: Path) -> None:
    _write(tmp_path, {**E11_MIN, "run": "tiny-mha"})
    keys = {**E11_MIN, "experiment": "E11-T", "run": "tiny-gqa",
            "mha_reference": {"run": "E11_tiny-mah", "claim": "mistral7b"}}
    path = _write(tmp_path, keys)
    folder = tmp_path / "parameters" / "embedded"
    assert _error(path) == (
        f"{shown(path)}: mha_reference.run: no parameter file "
        f"{shown(folder / 'E11_tiny-mah.yaml')} defines run E11_tiny-mah "
        "(available: E11-T_tiny-gqa, E11_tiny-mha)")
    keys["mha_reference"]["run"] = "E11_tiny-mha"
    assert load_parameters(_write(tmp_path, keys)).mha_reference.model_dump() == {
        "run": "E11_tiny-mha", "claim": "mistral7b"}


def test_a_reference_in_the_other_profile_does_not_count(tmp_path: Path) -> None:
    _write(tmp_path, {**E11_MIN, "run": "mistral-7b", "profile": "paper"}, folder="paper")
    keys = {**E11_MIN, "experiment": "E11-T", "mha_reference": {"run": "E11_mistral-7b"}}
    assert "mha_reference.run: no parameter file" in _error(_write(tmp_path, keys))


def test_repository_reference_names_resolve_in_their_own_profile() -> None:
    message = _error(ROOT / "parameters" / "embedded" / "E11-T_tiny-gqa.yaml", "E11-T",
                     {"mha_reference": {"run": "E11_mistral-7b", "claim": "mistral7b"}})
    assert message.startswith(
        "parameters/embedded/E11-T_tiny-gqa.yaml: mha_reference.run (from OVERRIDES): no "
        "parameter file parameters/embedded/E11_mistral-7b.yaml defines run E11_mistral-7b")


# -------------------------------------------------------------- file name and folder


def test_run_disagreeing_with_the_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "run": "x"}, name="E11_y.yaml")
    assert _error(path) == (f"{shown(path)}: run 'x' disagrees with the file name E11_y.yaml "
                            "(expected run: y)")


def test_experiment_disagreeing_with_the_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, E11_MIN, name="p.yaml")
    assert _error(path) == (f"{shown(path)}: experiment 'E11' disagrees with the file name "
                            "p.yaml (expected a file named E11_<run>.yaml)")


def test_profile_disagreeing_with_the_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "profile": "paper"})
    assert _error(path) == (f"{shown(path)}: profile 'paper' disagrees with the folder "
                            f"{shown(path.parent)}/ (a paper file belongs in parameters/paper/)")


def test_unknown_profile_lists_the_profiles(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "profile": "laptop"}, folder="laptop")
    assert _error(path) == (f"{shown(path)}: profile: 'laptop' is not one of 'embedded' or "
                            "'paper'")


def test_overrides_are_validated_the_same_way() -> None:
    path = "parameters/embedded/E11_tiny-mqa.yaml"
    assert _error(ROOT / path, "E11", {"seeds": 42}) == (
        f"{path}: seeds (from OVERRIDES): expected a list, got 42 (int)")
    assert _error(ROOT / path, "E11", {"run": "other"}) == (
        f"{path}: run 'other' disagrees with the file name E11_tiny-mqa.yaml "
        "(expected run: tiny-mqa)")


# ------------------------------------------------------------------- file-level errors


def test_file_for_another_notebook_is_refused(tmp_path: Path) -> None:
    assert "is a parameter file for E11, not E08: pick one of parameters/embedded/E08_" in (
        _error(_write(tmp_path, E11_MIN), "E08"))


def test_unknown_experiment_lists_the_known(tmp_path: Path) -> None:
    path = _write(tmp_path, {**E11_MIN, "experiment": "E12"})
    known = ", ".join(sorted(experiments()))
    assert _error(path) == (f"{shown(path)}: experiment: 'E12' is not a known experiment "
                            f"(known: {known})")


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "parameters" / "embedded" / "E11_x.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("experiment: [E11\n")
    assert _error(path).startswith(f"{shown(path)}: not valid YAML: ")
    path.write_text("- E11\n")
    assert _error(path) == f"{shown(path)}: expected a mapping of keys to values, got list"


def test_missing_file_lists_available() -> None:
    with pytest.raises(ParameterError, match="E11_tiny-mqa.yaml"):
        load_parameters("parameters/embedded/nope.yaml")


# ---------------------------------------------------------------------------- registry


def test_a_new_experiment_is_one_class_and_one_register_call(tmp_path: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setattr(params_module, "EXPERIMENTS", dict(experiments()))

    class Probe(RunParameters):
        experiment: Literal["probe"]
        rank: int = 3

    register(Probe)
    path = _write(tmp_path, {"experiment": "probe", "run": "a", "profile": "embedded"})
    assert load_parameters(path, "probe").rank == 3
    assert _error(path, "probe", {"rank": "3"}).endswith(
        "rank (from OVERRIDES): expected an integer, got '3' (str)")
    with pytest.raises(TypeError, match="registered twice"):
        class Again(RunParameters):
            experiment: Literal["probe"]

        register(Again)
    with pytest.raises(TypeError, match="without _"):
        class Underscored(RunParameters):
            experiment: Literal["a_b"]

        register(Underscored)


@pytest.mark.parametrize("key", ["parameter_file", "parameter_sha256", "parameter_overrides"])
def test_what_the_loader_sets_cannot_come_from_the_file(tmp_path: Path, key: str) -> None:
    assert _error(_write(tmp_path, {**E11_MIN, key: "x"})).endswith(
        f"{key}: set by the loader, not by the file; remove it")
