"""lib.modulator.study and plots: the notebook's checks, glue and figure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.claims import CLAIMS_BY_ID, published
from lib.models import load_model
from lib.modulator import plots, study
from lib.modulator.hooks import LayerIndexError


def test_a_causal_lm_is_refused_in_one_line() -> None:
    qwen = load_model("tiny/qwen", dtype="float32")
    with pytest.raises(study.NotAnEncoderError) as err:
        study.check_model(qwen, None)
    message = str(err.value)
    assert "\n" not in message and "decoder-only" in message and "tiny/qwen" in message


def test_layers_out_of_range_and_seed_faithful_on_bert_are_refused(bert) -> None:
    n = len(bert.model.encoder.layer)
    info = study.check_model(bert, [0, n - 1])
    assert info["encoder_blocks"] == n and info["layers"] == [0, n - 1]
    assert info["objective"] == "encoder-token" and info["seq2seq"] is False
    with pytest.raises(LayerIndexError, match=rf"layers \[{n}\] do not exist: .* {n} encoder "
                                              rf"blocks \(0\.\.{n - 1}\)"):
        study.check_model(bert, [0, n])
    with pytest.raises(ValueError, match="seed_faithful applies to T5 only"):
        study.check_model(bert, None, seed_faithful=True)


def test_unmatched_rows_seed_is_kept_or_drawn_and_recorded() -> None:
    assert study.unmatched_rows_seed(7) == {"seed": 7, "drawn": False}
    a, b = study.unmatched_rows_seed(None), study.unmatched_rows_seed(None)
    assert a["drawn"] and b["drawn"] and a["seed"] != b["seed"]
    torch.Generator().manual_seed(a["seed"])  # a valid torch seed


def test_pop_timings_removes_every_wall_time() -> None:
    block = {"train": {"seconds": 1.5, "seconds_per_step": 0.1, "steps": 3},
             "x": [1, 2], "seconds": 9.0}
    found = study.pop_timings(block)
    assert found == {"train/seconds": 1.5, "train/seconds_per_step": 0.1, "seconds": 9.0}
    assert block == {"train": {"steps": 3}, "x": [1, 2]}


def test_claims_table_reads_published_values_and_the_claims_fields() -> None:
    claim = CLAIMS_BY_ID["modulator.a001_preservation"]
    payload: dict = {}
    node = payload
    for step in claim.field[:-1]:
        node = node.setdefault(step, {})
    node[claim.field[-1]] = 0.123456
    table = study.claims_table(payload, published)
    assert table.loc[claim.id, "published"] == claim.value
    assert table.loc[claim.id, "this run"] == 0.12346
    assert table.loc["modulator.a050_pearson", "this run"] == "n/a"  # no §10 in this payload


def test_field_config_takes_the_models_width_and_depth(bert) -> None:
    from lib.modulator.parameters import FieldSection

    cfg = study.field_config(FieldSection().model_dump(), bert.model)
    assert cfg.d_model == bert.model.config.hidden_size
    assert cfg.n_layers == len(bert.model.encoder.layer) and cfg.expert_ks == (1, 2, 4)


def test_figure_draws_with_sections_missing() -> None:
    import matplotlib

    matplotlib.use("Agg")
    train = {"alpha_history": np.full((3, 2), 0.01).tolist(), "alpha_steps": [0, 10, 20],
             "step_loss": [3.0, 2.5, 2.0], "val_loss": [2.2], "n_train": 90, "steps": 3,
             "config": {"batch_size": 32}}
    evaluation = {"relational": {"sets": {"Trained": {"pearson": 0.2}}, "bands": []}}
    fig = plots.modulator_figure("t", {"section9": {"train": train, "evaluation": evaluation},
                                       "section8": None})
    assert len(fig.axes) >= 6
    titles = [ax.get_title() for ax in fig.axes]
    assert any("alpha per layer" in t for t in titles)
