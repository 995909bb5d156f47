"""lib.modulator.train: frozen encoder, each objective learns, determinism, atomic save."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lib.claims import published
from lib.modulator.field import FieldModulatorConfig, GeometricFieldModulator
from lib.modulator.hooks import attach
from lib.modulator.lerp import GeometricResidualModulator
from lib.modulator.train import (
    TrainConfig,
    batch_loss,
    freeze,
    load_modulator,
    objective_for,
    save_modulator,
    split_indices,
    train_modulator,
    unchanged,
)

TEXTS = [f"summarize: the {w} is a thing" for w in
         ("dog", "cat", "sun", "sea", "oak", "ice", "ant", "owl", "elm", "fig", "yak", "cow")]
TARGETS = ["d", "c", "s", "e", "o", "i", "a", "w", "l", "f", "y", "k"]


def _lerp(model, alpha: float = 0.1, seed: int = 0) -> GeometricResidualModulator:
    width = getattr(model.config, "d_model", None) or model.config.hidden_size
    return GeometricResidualModulator(width, model.config.vocab_size, 8, alpha,
                                      per_layer_alpha=True, n_layers=6,
                                      generator=torch.Generator().manual_seed(seed))


def _ids(tokenizer) -> list[int]:
    return [tokenizer.encode(t, add_special_tokens=False)[0] for t in TARGETS]


def _fixed_batch_losses(loaded, modulator, objective, steps=6, lr=3e-2) -> list[float]:
    config = TrainConfig(max_input_len=32)
    freeze(loaded.model)
    opt = torch.optim.AdamW(modulator.parameters(), lr=lr)
    target_ids = torch.tensor(_ids(loaded.tokenizer))
    losses = []
    with attach(loaded.model, modulator):
        for _ in range(steps):
            opt.zero_grad()
            loss, _ = batch_loss(loaded.model, loaded.tokenizer, TEXTS, TARGETS, target_ids,
                                 objective, config)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


@pytest.mark.parametrize("objective", ["t5-seed", "t5", "encoder-token"])
def test_a_few_steps_lower_the_loss_on_a_fixed_batch(objective, t5, bert) -> None:
    loaded = bert if objective == "encoder-token" else t5
    losses = _fixed_batch_losses(loaded, _lerp(loaded.model), objective)
    assert losses[-1] < losses[0] - 1e-3


def test_field_modulator_lowers_the_loss_through_the_same_hooks(bert) -> None:
    mod = GeometricFieldModulator(FieldModulatorConfig(d_model=128, initial_alpha=0.3))
    losses = _fixed_batch_losses(bert, mod, "encoder-token")
    assert losses[-1] < losses[0] - 1e-3


def test_objectives_compute_what_they_claim(t5, bert) -> None:
    """t5 = the model's own loss; t5-seed = unshifted decoder, unscaled lm_head (B9)."""
    model, tok = t5.model, t5.tokenizer
    mod = _lerp(model)
    enc = tok(TEXTS[:3], return_tensors="pt", padding=True)
    dec = tok(TARGETS[:3], return_tensors="pt", padding=True)
    labels = dec.input_ids.masked_fill(dec.input_ids == tok.pad_token_id, -100)
    cfg = TrainConfig()
    with torch.no_grad(), attach(model, mod):
        own, _ = batch_loss(model, tok, TEXTS[:3], TARGETS[:3], None, "t5", cfg)
        ref = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, labels=labels)
        seed, _ = batch_loss(model, tok, TEXTS[:3], TARGETS[:3], None, "t5-seed", cfg)
        hidden = model.encoder(input_ids=enc.input_ids,
                               attention_mask=enc.attention_mask).last_hidden_state
        out = model.decoder(input_ids=dec.input_ids, encoder_hidden_states=hidden,
                            encoder_attention_mask=enc.attention_mask).last_hidden_state
        manual = F.cross_entropy((out @ model.shared.weight.T).flatten(0, 1), labels.flatten())
    torch.testing.assert_close(own, ref.loss)
    torch.testing.assert_close(seed, manual)
    b = bert.model
    ids = torch.tensor(_ids(bert.tokenizer)[:3])
    benc = bert.tokenizer(TEXTS[:3], return_tensors="pt", padding=True)
    with torch.no_grad(), attach(b, _lerp(b)):
        loss, pooled = batch_loss(b, bert.tokenizer, TEXTS[:3], None, ids, "encoder-token", cfg)
        h = b(**benc).last_hidden_state
    m = benc.attention_mask.unsqueeze(-1).float()
    torch.testing.assert_close(pooled, (h * m).sum(1) / m.sum(1))
    torch.testing.assert_close(loss, F.cross_entropy(pooled @ b.embeddings.word_embeddings.weight.T,
                                                     ids))
    assert objective_for(model, True) == "t5-seed" and objective_for(b) == "encoder-token"
    with pytest.raises(ValueError, match="encoder-only"):
        objective_for(b, seed_faithful=True)


def test_training_freezes_the_encoder_and_moves_only_the_modulator(t5) -> None:
    model = t5.model
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    mod = _lerp(model, alpha=0.01)
    before = {k: v.clone() for k, v in mod.state_dict().items()}
    run = train_modulator(model, t5.tokenizer, mod, TEXTS, TARGETS,
                          TrainConfig(epochs=1, batch_size=4, max_input_len=32, progress=False))
    assert run.encoder_unchanged and unchanged(model, snapshot)
    assert all(torch.equal(v, snapshot[k]) for k, v in model.state_dict().items())
    assert not any(p.requires_grad for p in model.parameters())
    assert not torch.equal(mod.alpha, before["alpha"])
    assert not torch.equal(mod.proj.weight, before["proj.weight"])
    assert run.objective == "t5" and run.n_train == 10 and run.n_val == 2 and run.steps == 3
    assert run.alpha_history.shape == (1, 6) and run.alpha_steps == [0]


def test_two_runs_give_identical_alpha_trajectories(bert) -> None:
    cfg = TrainConfig(epochs=2, batch_size=3, alpha_every=1, max_input_len=32, progress=False)
    runs = [train_modulator(bert.model, bert.tokenizer, _lerp(bert.model, 0.05, seed=5), TEXTS,
                            TARGETS, cfg, target_ids=_ids(bert.tokenizer)) for _ in range(2)]
    assert runs[0].alpha_history.shape == (8, 6)
    assert np.array_equal(runs[0].alpha_history, runs[1].alpha_history)
    assert runs[0].step_loss == runs[1].step_loss
    assert not np.array_equal(runs[0].alpha_history[0], runs[0].alpha_history[-1])
    field = train_modulator(bert.model, bert.tokenizer, GeometricFieldModulator(
        FieldModulatorConfig(d_model=128)), TEXTS, TARGETS, cfg)
    assert field.alpha_history.shape == (8, 6, 3) and len(field.cv_history) == 2


def test_split_is_the_seeds_permutation() -> None:
    n = int(published("t5small.wordnet_lemmas"))  # the seed's N: 8,425 train, 937 validation
    train, val, rng = split_indices(n, 42)
    perm = np.random.default_rng(42).permutation(n)
    assert (len(train), len(val)) == (8425, 937)
    assert np.array_equal(train, perm[:8425]) and np.array_equal(val, perm[8425:])
    check = np.random.default_rng(42)
    check.permutation(n)
    assert np.array_equal(rng.permutation(5), check.permutation(5))
    with pytest.raises(ValueError, match="non-empty"):
        split_indices(1, 0)


def test_save_is_atomic_and_round_trips(tmp_path) -> None:
    mod = _lerp_plain = GeometricResidualModulator(16, 40, 4, per_layer_alpha=True, n_layers=2)
    with torch.no_grad():
        mod.alpha.copy_(torch.tensor([0.5, -1.5]))
    path = save_modulator(mod, tmp_path / "out" / "mod.safetensors", {"objective": "t5"})
    assert sorted(p.name for p in path.parent.iterdir()) == ["mod.safetensors"]
    fresh = load_modulator(GeometricResidualModulator(16, 40, 4, per_layer_alpha=True,
                                                      n_layers=2,
                                                      generator=torch.Generator().manual_seed(9)),
                           path)
    for k, v in _lerp_plain.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.metadata() == {"objective": "t5"}


def test_bad_training_input_raises(bert) -> None:
    with pytest.raises(ValueError, match="as many targets"):
        train_modulator(bert.model, bert.tokenizer, _lerp(bert.model), TEXTS, TARGETS[:3])
    with pytest.raises(ValueError, match="val_fraction"):
        TrainConfig(val_fraction=1.0)
    with pytest.raises(ValueError, match="single tokens"):
        train_modulator(bert.model, bert.tokenizer, _lerp(bert.model), TEXTS[:2],
                        ["two words", "x"])
