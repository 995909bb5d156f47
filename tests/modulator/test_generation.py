"""lib.modulator.generation: token diff, seq2seq generation, encoder-only not applicable."""

from __future__ import annotations

import torch

from lib.models import load_model
from lib.modulator.generation import compare_generation, generation_alpha_sweep, token_diff
from lib.modulator.lerp import GeometricResidualModulator

PROMPT = "summarize: a triangle is a polygon with three edges"


def _lerp(model, alpha: float) -> GeometricResidualModulator:
    return GeometricResidualModulator(128, model.config.vocab_size, 8, alpha,
                                      per_layer_alpha=True, n_layers=6,
                                      generator=torch.Generator().manual_seed(0))


def test_token_diff_counts_positions_and_length() -> None:
    assert token_diff([1, 2, 3, 4], [1, 5, 3]) == {"diffs": 2, "max_len": 4}
    assert token_diff([7, 8], [7, 8]) == {"diffs": 0, "max_len": 2}
    assert token_diff([], [1, 2, 3]) == {"diffs": 3, "max_len": 3}


def test_alpha_zero_generates_identically_and_sampling_is_seeded(t5) -> None:
    same = compare_generation(t5.model, t5.tokenizer, _lerp(t5.model, 0.0), PROMPT,
                              max_new_tokens=12)
    assert same["applicable"] and same["identical"] and same["diffs"] == 0
    state = torch.random.get_rng_state()
    mod = _lerp(t5.model, 0.9)
    a = compare_generation(t5.model, t5.tokenizer, mod, PROMPT, max_new_tokens=12,
                           temperature=1.0, seed=3)
    b = compare_generation(t5.model, t5.tokenizer, mod, PROMPT, max_new_tokens=12,
                           temperature=1.0, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert (a["original"], a["modulated"]) == (b["original"], b["modulated"])
    assert a["seed"] == 3 and len(a["original"]) > 0
    diff = token_diff(t5.tokenizer.encode(a["original"]), t5.tokenizer.encode(a["modulated"]))
    assert a["diffs"] == diff["diffs"]


def test_alpha_sweep_restores_the_alphas(t5) -> None:
    mod = _lerp(t5.model, 0.01)
    before = mod.alpha.detach().clone()
    out = generation_alpha_sweep(t5.model, t5.tokenizer, mod, PROMPT, [0.0, 0.5],
                                 max_new_tokens=6)
    assert [r["alpha"] for r in out["rows"]] == [0.0, 0.5]
    assert out["rows"][0]["identical"]
    assert torch.equal(mod.alpha, before)


def test_encoder_only_models_are_not_applicable() -> None:
    bert = load_model("tiny/bert", dtype="float32")
    mod = _lerp(bert.model, 0.1)
    out = compare_generation(bert.model, bert.tokenizer, mod, PROMPT)
    assert out["applicable"] is False and "encoder-only" in out["reason"]
    assert generation_alpha_sweep(bert.model, bert.tokenizer, mod, PROMPT, [0.1])[
        "applicable"] is False
