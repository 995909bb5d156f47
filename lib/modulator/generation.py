"""Generation with and without modulation (seed 004 §11) and the token-diff measure.

Seq2seq models generate from `generate(encoder_outputs=...)`: the encoder runs once unmodulated
and once with the modulator hooked in; the decoder is the same. Encoder-only models cannot
generate: `compare_generation` returns a "not applicable" record instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lib.modulator.hooks import attach, encoder_of

# §11's inputs (seed 004 L4367-4400): data, kept as the seed wrote them
PROMPTS = (
    "summarize: The cat is a small domesticated carnivorous mammal with soft fur, a short snout, "
    "and retractable claws. It is widely kept as a pet and valued for companionship and ability "
    "to hunt vermin.",
    "translate English to German: The geometric structure of language is a universal attractor.",
    "summarize: Mathematics is the study of numbers, quantities, shapes, and patterns. It uses "
    "rigorous logical reasoning and abstraction to understand structures that exist "
    "independently of physical reality.",
    "summarize: A dog is a domesticated descendant of the wolf, characterized by loyalty and "
    "trainability.",
    "summarize: A wolf is a large wild canine that lives and hunts in packs across the Northern "
    "Hemisphere.",
    "summarize: Love is a complex set of emotions, behaviors, and beliefs associated with strong "
    "feelings of affection, protectiveness, warmth, and respect for another person.",
    "summarize: Seven is a prime number that comes after six and before eight in the natural "
    "number sequence.",
)
SWEEP_PROMPT = ("summarize: A triangle is a polygon with three edges and three vertices. It is one "
                "of the basic shapes in geometry.")
SWEEP_ALPHAS = (0.01, 0.05, 0.10, 0.20, 0.50)  # §11's sweep (§10 measures the same alphas)
MAX_NEW_TOKENS = 128  # the seed's talk() default; its alpha sweep used 64
SWEEP_MAX_NEW_TOKENS = 64


def token_diff(a: Sequence[int], b: Sequence[int]) -> dict[str, int]:
    """Positional mismatches over the common length plus |Δlen|, out of the longer length."""
    common = min(len(a), len(b))
    diffs = sum(int(x != y) for x, y in zip(a[:common], b[:common], strict=True))
    return {"diffs": diffs + abs(len(a) - len(b)), "max_len": max(len(a), len(b))}


def is_seq2seq(model: nn.Module) -> bool:
    """True for encoder-decoder models (the ones that generate from encoder outputs)."""
    return bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))


def not_applicable(model: nn.Module) -> dict[str, Any]:
    """The record returned for encoder-only models."""
    return {"applicable": False,
            "reason": f"generation is skipped for encoder-only models "
                      f"({type(model).__name__}): it has no decoder to generate with"}


@torch.inference_mode()
def _generate(model: nn.Module, tokenizer: Any, inputs: Any, encoder_outputs: Any,
              max_new_tokens: int, temperature: float, top_p: float,
              seed: int | None) -> str:
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": temperature > 0}
    if temperature > 0:
        kwargs.update(temperature=temperature, top_p=top_p)
        torch.manual_seed(seed)  # generate() samples from torch's global generator
    out = model.generate(encoder_outputs=encoder_outputs, attention_mask=inputs.attention_mask,
                         **kwargs)
    return tokenizer.decode(out[0], skip_special_tokens=True)


def compare_generation(model: nn.Module, tokenizer: Any, modulator: nn.Module, prompt: str, *,
                       max_new_tokens: int = 64, temperature: float = 0.0, top_p: float = 0.9,
                       seed: int = 0, layers: Sequence[int] | None = None) -> dict[str, Any]:
    """Original and modulated continuations of `prompt` and their token diff.

    Greedy at `temperature` 0 (the seed's `talk`); sampled with `top_p` otherwise, with torch
    seeded by `seed` before each of the two generations so both draw the same stream. The diff
    re-encodes the decoded texts with the tokenizer's special tokens, as the seed did.
    """
    if not is_seq2seq(model):
        return not_applicable(model)
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    from transformers.modeling_outputs import BaseModelOutput

    device = next(model.parameters()).device
    inputs = tokenizer(prompt, return_tensors="pt").to(device)
    encoder = encoder_of(model)
    with torch.inference_mode():
        orig_enc = encoder(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask)
        with attach(model, modulator, layers):
            mod_hidden = encoder(input_ids=inputs.input_ids,
                                 attention_mask=inputs.attention_mask).last_hidden_state
    mod_enc = BaseModelOutput(last_hidden_state=mod_hidden)
    with torch.random.fork_rng(devices=[]):
        original = _generate(model, tokenizer, inputs, orig_enc, max_new_tokens, temperature,
                             top_p, seed)
        modulated = _generate(model, tokenizer, inputs, mod_enc, max_new_tokens, temperature,
                              top_p, seed)
    diff = token_diff(tokenizer.encode(original), tokenizer.encode(modulated))
    return {"applicable": True, "prompt": prompt, "original": original, "modulated": modulated,
            "identical": original == modulated, **diff, "temperature": temperature,
            "seed": seed if temperature > 0 else None}


def generation_alpha_sweep(model: nn.Module, tokenizer: Any, modulator: nn.Module, prompt: str,
                           alphas: Sequence[float], *, max_new_tokens: int = 64,
                           layers: Sequence[int] | None = None) -> dict[str, Any]:
    """Greedy generation at each alpha (written into every layer's alpha); the modulator's alpha
    logits are restored afterwards (the seed reset them to 0.01)."""
    if not is_seq2seq(model):
        return not_applicable(model)
    saved = modulator.alpha.detach().clone()
    rows = []
    try:
        for a in alphas:
            modulator.set_alpha(a)
            rows.append({"alpha": float(a), **compare_generation(
                model, tokenizer, modulator, prompt, max_new_tokens=max_new_tokens,
                layers=layers)})
    finally:
        with torch.no_grad():
            modulator.alpha.copy_(saved)
    return {"applicable": True, "prompt": prompt, "rows": rows}
