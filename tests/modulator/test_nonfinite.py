"""A training loss that turns inf/NaN stops the run at once, naming the step, the loss and the key
to lower; nothing NaN is saved (the validator's LR bound is bypassed: the config is built here)."""

from __future__ import annotations

import re

import pytest
import torch

from lib.modulator.field import FieldModulatorConfig, GeometricFieldModulator
from lib.modulator.lerp import GeometricResidualModulator
from lib.modulator.pipeline import field_modulator_step, prepare_data, train_step
from lib.modulator.train import TrainConfig, TrainingDivergedError, save_modulator, train_modulator
from lib.terrain.wordnet import MatchedLemma, ensure_wordnet

TEXTS = [f"summarize: the {w} is a thing" for w in
         ("dog", "cat", "sun", "sea", "oak", "ice", "ant", "owl", "elm", "fig", "yak", "cow")]
TARGETS = ["d", "c", "s", "e", "o", "i", "a", "w", "l", "f", "y", "k"]
HUGE_LR = TrainConfig(epochs=3, batch_size=3, max_input_len=32, lr=1e30, progress=False)


def _lerp(model) -> GeometricResidualModulator:
    width = getattr(model.config, "d_model", None) or model.config.hidden_size
    return GeometricResidualModulator(width, model.config.vocab_size, 8, 0.1,
                                      per_layer_alpha=True, n_layers=6,
                                      generator=torch.Generator().manual_seed(0))


def _diverges(loaded, modulator, key: str) -> None:
    ids = [loaded.tokenizer.encode(t, add_special_tokens=False)[0] for t in TARGETS]
    with pytest.raises(TrainingDivergedError) as err:
        train_modulator(loaded.model, loaded.tokenizer, modulator, TEXTS, TARGETS, HUGE_LR,
                        target_ids=ids)
    message = str(err.value)
    assert "\n" not in message
    assert re.fullmatch(
        r"modulator training diverged: the (training loss|gradient norm) at step \d+ is "
        rf"(nan|inf|-inf) \(not finite\), so training stopped and nothing was saved; lower "
        rf"{re.escape(key)}\.lr \(now 1e\+30\) in the parameter file", message), message


def test_a_nan_loss_stops_lerp_training_naming_training_lr(bert, t5) -> None:
    _diverges(bert, _lerp(bert.model), "training")
    _diverges(t5, _lerp(t5.model), "training")  # the t5 objective


def test_a_nan_loss_stops_field_training_naming_field_training_lr(bert) -> None:
    _diverges(bert, GeometricFieldModulator(FieldModulatorConfig(d_model=128)), "field.training")


def test_a_loss_not_finite_before_any_update_blames_how_the_modulator_was_built(bert) -> None:
    """A projection scaled past float32 (`pipeline.scale_factor: 1e30` once) makes the very first
    loss NaN: no update has been made, so the message names the scale factor, not the lr."""
    modulator = _lerp(bert.model)
    with torch.no_grad():
        modulator.proj.weight.mul_(1e30)  # what the §8 projection becomes at scale_factor 1e30
    ids = [bert.tokenizer.encode(t, add_special_tokens=False)[0] for t in TARGETS]
    config = TrainConfig(epochs=1, batch_size=3, max_input_len=32, progress=False)
    with pytest.raises(TrainingDivergedError) as err:
        train_modulator(bert.model, bert.tokenizer, modulator, TEXTS, TARGETS, config,
                        target_ids=ids, built_by="pipeline.scale_factor (now 1e+30)")
    assert re.fullmatch(
        r"modulator training diverged: the training loss at step 0 is (nan|inf) \(not finite\) "
        r"before any update, so training stopped and nothing was saved; training\.lr \(now "
        r"0\.001\) has not acted yet: the modulator as built gives it: check "
        r"pipeline\.scale_factor \(now 1e\+30\) and the model's dtype", str(err.value)), err.value


def test_a_usual_lr_trains_without_a_complaint(bert) -> None:
    ids = [bert.tokenizer.encode(t, add_special_tokens=False)[0] for t in TARGETS]
    run = train_modulator(bert.model, bert.tokenizer, _lerp(bert.model), TEXTS, TARGETS,
                          TrainConfig(epochs=1, batch_size=3, max_input_len=32, progress=False),
                          target_ids=ids)
    assert run.steps == 4 and all(torch.isfinite(torch.tensor(run.step_loss)))


def test_the_pipeline_saves_nothing_when_training_diverges(bert, tmp_path) -> None:
    ensure_wordnet()
    from nltk.corpus import wordnet

    synsets = [wordnet.synset(f"{w}.n.01") for w in ("dog", "cat", "wolf", "fox", "horse", "cow",
                                                      "sheep", "goat", "lion", "tiger")]
    matched = [MatchedLemma(s.lemmas()[0].name(), s, 4 + i, s.definition())
               for i, s in enumerate(synsets)]
    data = prepare_data(bert.model, bert.tokenizer, matched=matched, progress=False)
    with pytest.raises(TrainingDivergedError, match=r"lower training\.lr"):
        train_step(data, bert.model, bert.tokenizer, _lerp(bert.model), HUGE_LR,
                   save_path=tmp_path / "lerp.safetensors")
    with pytest.raises(TrainingDivergedError, match=r"lower field\.training\.lr"):
        field_modulator_step(data, bert.model, bert.tokenizer, train_config=HUGE_LR,
                             save_path=tmp_path / "field.safetensors", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_modulator_holding_nan(tmp_path) -> None:
    mod = GeometricResidualModulator(16, 40, 4, per_layer_alpha=True, n_layers=2)
    with torch.no_grad():
        mod.proj.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"not saving mod\.safetensors: 1 tensors hold inf or "
                                         r"NaN \(e\.g\. proj\.weight\)"):
        save_modulator(mod, tmp_path / "mod.safetensors")
    assert list(tmp_path.iterdir()) == []
