"""lib.preflight on a modulator's `layers` and on BERT-family encoders (meta-device forward)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lib import preflight
from lib.paths import PARAMETERS

BERT = "google-bert/bert-large-uncased"


def _file(tmp_path: Path, stem: str, data: dict) -> Path:
    """`data` as <tmp>/paper/<stem>.yaml."""
    path = tmp_path / "paper" / f"{stem}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def _modulator(tmp_path: Path, **changes: object) -> Path:
    stem = "modulator_t5-small-corrected"
    data = yaml.safe_load((PARAMETERS / "paper" / f"{stem}.yaml").read_text()) | changes
    return _file(tmp_path, stem, data)


def _bert(tmp_path: Path, experiment: str, **sections: object) -> Path:
    return _file(tmp_path, f"{experiment}_bert-large", {
        "experiment": experiment, "run": "bert-large", "profile": "paper", "model": BERT,
        "resources": {"gpu": 1, "gpu_memory_gb": 16, "mem_mb": 32000, "runtime": 60},
        **sections})


def test_modulator_layers_in_the_model_pass(tmp_path: Path) -> None:
    [row] = preflight.check_file(_modulator(tmp_path, layers=[0, 1]))  # used to raise TypeError
    assert row.ok, row.problems
    assert "layers [0, 1]" in row.checks and "modulator blocks 6" in row.checks


def test_modulator_layers_beyond_the_model_fail_naming_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert preflight.main([str(_modulator(tmp_path, layers=[0, 6]))]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "  modulator_t5-small-corrected: layers [6] do not exist: google-t5/t5-small has 6 "
        "encoder blocks (0..5); fix `layers` in the parameter file")


def test_a_missing_file_is_one_error_line_not_a_traceback(
        capsys: pytest.CaptureFixture) -> None:
    assert preflight.main(["parameters/paper/nope.yaml"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1, out.err
    assert out.err.startswith("error: parameter file 'parameters/paper/nope.yaml' not found (")
    assert "Available: " in out.err and "parameters/paper/E11_mistral-7b.yaml" in out.err


@pytest.mark.parametrize("experiment, sections", [
    ("terrain", {"layers": {}, "wordnet": {}}),
    ("modulator", {"layers": [0, 23]}),
])
def test_bert_encoder_sections_pass_on_the_meta_device(tmp_path: Path, experiment: str,
                                                       sections: dict) -> None:
    [row] = preflight.check_file(_bert(tmp_path, experiment, **sections))
    assert row.ok, row.problems  # used to fail: Tensor.item() cannot be called on meta tensors
    assert "encoder hooks 25" in row.checks  # embeddings and the 24 layers all fired
