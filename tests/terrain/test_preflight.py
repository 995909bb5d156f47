"""lib.terrain.preflight: the rows of a terrain run, offline (`make preflight`): the catalog, the
hooks and the memory of what the run builds or streams."""

from __future__ import annotations

from pathlib import Path

import pytest

# the helpers the preflight tests share (tests/test_preflight.py, tests/test_preflight_faults.py)
from test_preflight import _copy, _fail
from test_preflight_faults import BERT, _bert

from lib import preflight
from lib.models.presets import meta_model
from lib.params import load_parameters
from lib.terrain import preflight as terrain_preflight


def test_an_initialization_run_is_noted_and_not_checked_as_a_preset() -> None:
    params = load_parameters("parameters/embedded/terrain_init-t5-small.yaml", "terrain")
    [row] = terrain_preflight.terrain_rows(params)
    assert (row.run, row.model) == ("terrain_init-t5-small", "init/t5-small")
    assert row.ok and row.checks == []
    assert row.notes == ["an initialization from lib/terrain/weights/baseline.py: not a preset"]


def test_the_catalog_check_fails_on_names_no_rule_explains(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    # the class's own names (attention.q_proj) instead of the checkpoint's (attention.query)
    def class_names(name: str) -> terrain_preflight.MetaSource:
        model = preflight.meta_model_of(name)
        return terrain_preflight.MetaSource(name, model.state_dict(),
                                            preflight.config_of(name).to_dict())

    monkeypatch.setattr(terrain_preflight, "meta_source", class_names)
    [line] = _fail(capsys, _copy(tmp_path, "terrain_dinov2-large"))
    assert line == ("terrain_dinov2-large: facebook/dinov2-large: the battery would miss weights: "
                    "no attention layer found")


def test_a_streamed_run_over_its_host_memory_fails(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    path = _copy(tmp_path, "terrain_qwen3.5-4b-to-0.8b",
                 {"resources": {"gpu": 0, "mem_mb": 2000, "runtime": 30}})
    [line] = _fail(capsys, path)
    assert line.startswith("terrain_qwen3.5-4b-to-0.8b: Qwen/Qwen3.5-0.8B needs ~")
    assert line.endswith("GiB of host memory (streamed), resources.mem_mb gives 2.0 GiB: raise it")


def test_a_bert_encoder_that_cannot_run_still_fails(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    broken = meta_model(preflight.config_of(BERT))
    with torch.device("meta"):  # layer 3's output projection no longer takes the MLP's width
        broken.encoder.layer[3].output.dense = torch.nn.Linear(7, 1024)
    monkeypatch.setattr(terrain_preflight, "meta_model_of", lambda name: broken)
    [row] = preflight.check_file(_bert(tmp_path, "terrain", layers={}))
    assert not row.ok
    assert row.problems[0].startswith(f"{BERT}: the encoder hooks do not attach: ")
