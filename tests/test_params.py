"""Parameter files: defaults layered under each file, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lib.params import ParameterError, available, load_parameters, result_name


def _write(tmp_path: Path, **keys) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(keys))
    return path


E11_MIN = {"experiment": "E11", "run": "x", "profile": "embedded", "base": "tiny/llama-gqa",
           "instruct": "tiny/llama-gqa-instruct"}


@pytest.mark.parametrize("path", available())
def test_every_parameter_file_in_the_repository_loads(path: str) -> None:
    experiment = Path(path).name.split("_", 1)[0]
    params = load_parameters(path, experiment)
    assert params["profile"] == Path(path).parent.name
    assert result_name(params) == Path(path).stem, "file name must be <experiment>_<run>.yaml"


def test_defaults_are_the_e11_v3_protocol(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, **E11_MIN), "E11")
    assert params["max_length"] == 128 and params["dtype"] == "bfloat16"
    assert params["seeds"] == [42, 123, 456] and params["entropy_mode"] == "masked"
    assert params["use_chat_template"] is False and len(params["parameter_sha256"]) == 64


def test_overrides_apply_last(tmp_path: Path) -> None:
    params = load_parameters(_write(tmp_path, **E11_MIN), "E11", {"seeds": [7]})
    assert params["seeds"] == [7]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"unknown key\(s\) \['entropy'\]"):
        load_parameters(_write(tmp_path, **E11_MIN, entropy="masked"), "E11")


def test_missing_key_is_named(tmp_path: Path) -> None:
    keys = dict(E11_MIN)
    del keys["instruct"]
    with pytest.raises(ParameterError, match=r"missing required key\(s\) \['instruct'\]"):
        load_parameters(_write(tmp_path, **keys), "E11")


def test_bad_choice_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="entropy_mode='maskd' is not one of"):
        load_parameters(_write(tmp_path, **E11_MIN, entropy_mode="maskd"), "E11")


def test_file_for_another_notebook_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="parameter file for E11, not E08"):
        load_parameters(_write(tmp_path, **E11_MIN), "E08")


def test_missing_file_lists_available() -> None:
    with pytest.raises(ParameterError, match="E11_tiny-mqa.yaml"):
        load_parameters("parameters/embedded/nope.yaml")


def test_reference_must_name_a_run(tmp_path: Path) -> None:
    keys = {**E11_MIN, "experiment": "E11-T", "mha_reference": {"claim": "mistral7b"}}
    with pytest.raises(ParameterError, match="'mha_reference' must be a mapping with a 'run'"):
        load_parameters(_write(tmp_path, **keys), "E11-T")
