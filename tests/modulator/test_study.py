"""lib.modulator.study: the notebook's checks, glue, headline and tables."""

from __future__ import annotations

import pytest
import torch

from lib.claims import CLAIMS_BY_ID, published
from lib.models import load_model
from lib.modulator import study
from lib.modulator.hooks import LayerIndexError
from lib.modulator.layout import Headline
from lib.modulator.parameters import FieldSection


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
    payload: dict = {"settings": {"seed_faithful": True}}  # as executed: the seed's own rows
    node = payload
    for step in claim.field[:-1]:
        node = node.setdefault(step, {})
    node[claim.field[-1]] = 0.123456
    table = study.claims_table(payload, published)
    assert table.loc[claim.id, "published"] == claim.value
    assert table.loc[claim.id, "this run"] == 0.12346
    assert table.loc["modulator.a050_pearson", "this run"] == "n/a"  # no §10 in this payload
    assert not any(i.startswith("modulator.corrected.") for i in table.index)
    # a corrected run is compared with the corrected rows only
    payload["settings"]["seed_faithful"] = False
    corrected = study.claims_table(payload, published)
    assert "modulator.corrected.a001_preservation" in corrected.index
    assert "modulator.a001_preservation" not in corrected.index


def test_field_config_takes_the_models_width_and_depth(bert) -> None:
    cfg = study.field_config(FieldSection(), bert.model)
    assert cfg.d_model == bert.model.config.hidden_size
    assert cfg.n_layers == len(bert.model.encoder.layer) and cfg.expert_ks == (1, 2, 4)


def test_headline_and_tables_carry_intervals_the_anchor_effect_and_the_alpha_test() -> None:
    row = {"pearson": 0.2, "spearman": 0.1, "gradient": 0.01, "delta_pearson": 0.0,
           "delta_spearman": 0.0, "relative_lift_pearson": 0.5, "relative_lift_spearman": 0.1,
           "pearson_ci": [0.15, 0.25], "relative_lift_pearson_ci": None, "level": 0.95}
    evaluation = {"relational": {"sets": {"Trained": row}}}
    table = study.relational_table(evaluation)
    assert table.loc["Trained", "pearson_ci 95% CI (lemmas resampled)"] == "[0.1500, 0.2500]"
    assert table.loc["Trained", "relative_lift_pearson_ci 95% CI (lemmas resampled)"] == (
        "undefined")
    test = {"verdict": "not testable", "monotonic_increasing": None,
            "reason": "not testable: alphas moved 0 (mean |Δ logit|) from init in 3 steps, < 0.1"}
    train = {"final_alpha_mean": 0.01, "final_alpha_std": 0.0, "distance_to": {"0.5": 0.49},
             "alpha_monotonic_increasing_with_depth": None, "alpha_test": test}
    assert study.distance_line(train).endswith(test["reason"])
    anchors = {"as_executed": {"pearson": 0.3}, "corrected": {"pearson": 0.1},
               "difference": {"pearson": 0.2}}
    out = study.headline({"trained": {"train": train, "evaluation": evaluation},
                          "effects": {"anchor_evaluation": anchors}})
    assert out["alpha_test"] == "not testable" and out["alpha_monotonic"] is None
    assert out["trained_pearson_ci"] == [0.15, 0.25]
    assert out["anchors_minus_held_out_pearson"] == 0.2 and out["held_out_pearson"] == 0.1
    assert out["anchors_pearson"] == 0.3
    assert Headline.model_validate(out).trained_pearson == 0.2  # the headline fits its layout


def test_effects_table_shows_the_anchor_and_pairing_effects_both_ways() -> None:
    arm = {"pearson": 0.24, "pearson_ci": [0.2, 0.28], "relative_lift_pearson": -0.003,
           "relative_lift_pearson_ci": [-0.007, None]}
    effects = {"anchor_evaluation": {
                   "as_executed": arm, "corrected": arm | {"pearson": 0.22},
                   "difference": {"pearson": 0.02, "relative_lift_pearson": 0.0}},
               "pentachoron_pairing": {
                   "as_executed": {"cv_modulated": 0.34}, "corrected": {"cv_modulated": 0.31},
                   "difference": {"cv_modulated": 0.03}}}
    table = study.effects_table(effects)
    assert list(table.index) == ["B8", "B8", "B11"]  # labelled by the seed's defect codes
    assert table.iloc[0]["as executed"] == "+0.2400 [+0.2000, +0.2800]"
    assert table.iloc[0]["corrected"].startswith("+0.2200") and table.iloc[0]["difference"] == \
        "+0.0200"
    assert table.iloc[1]["as executed"] == "-0.0030"  # an interval with an undefined end: left out
    assert table.iloc[2]["difference"] == "+0.0300"
    assert study.effects_table({}).empty


def test_the_anchor_pearson_effect_is_split_into_the_token_sets_and_the_modulator() -> None:
    """Issue 24: the embedded run's +0.0142 was almost all the unmodulated encoder's difference
    between the two token sets (0.2380 vs 0.2234); the modulator's lift part was -0.0004."""
    a = {"pearson": 0.2370, "original_pearson": 0.2380, "delta_pearson": -0.0010,
         "relative_lift_pearson": -0.0042}
    c = {"pearson": 0.2228, "original_pearson": 0.2234, "delta_pearson": -0.0006,
         "relative_lift_pearson": -0.0024}
    diff = {k: a[k] - c[k] for k in a}
    table = study.effects_table({"anchor_evaluation": {"as_executed": a, "corrected": c,
                                                       "difference": diff}})
    assert list(table["number"]) == [label for _, label in study.ANCHOR_ROWS]
    assert list(table["difference"]) == ["+0.0142", "+0.0146", "-0.0004", "-0.0018"]
    assert "token sets" in table.iloc[1]["number"] and "modulator" in table.iloc[2]["number"]
    out = study.headline({"effects": {"anchor_evaluation": {"as_executed": a, "corrected": c,
                                                            "difference": diff}}})
    assert out["anchors_minus_held_out_token_sets"] == pytest.approx(0.0146)
    assert out["anchors_minus_held_out_modulator"] == pytest.approx(-0.0004)
